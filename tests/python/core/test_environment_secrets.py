"""No credentials, tokens or secret environment values in any snapshot output.

Canary values are planted in ``direct_url.json`` URLs, git remotes, conda
channel URLs, a pip index URL and secret-named environment variables; every
rendered output is then searched for them.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml
from env_fixtures import git_repo, make_venv_prefix, write_dist_info

from jupyter_mlops.core.environment import (
    EnvironmentSnapshot,
    check_drift,
    diff_snapshots,
    render_diff_table,
    render_environment_yml,
    render_platform_yml,
    render_snapshot_json,
    scrub,
    snapshot_from_file,
    strip_url_credentials,
    take_snapshot,
    write_snapshot,
)
from jupyter_mlops.core.redact import (
    REDACTED,
    find_leaks,
    is_secret_name,
    scrub_credentials,
    scrub_error,
    secret_values,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:secret@host.example/repo.git", "https://host.example/repo.git"),
        ("https://ghp_abcdef123456@github.com/o/r.git", "https://github.com/o/r.git"),
        (
            "git+https://tok123456@github.com/o/r.git@v1#egg=r",
            "git+https://github.com/o/r.git@v1#egg=r",
        ),
        ("https://host/simple/?token=abc123456&page=2", "https://host/simple/?page=2"),
        (
            "https://b.s3.amazonaws.com/w.whl?X-Amz-Signature=s1g&X-Amz-Credential=c&v=1",
            "https://b.s3.amazonaws.com/w.whl?v=1",
        ),
        ("https://host/x?access_token=a&api_key=b&private_token=c", "https://host/x"),
        (
            "https://conda.anaconda.org/t/tk-99887766/chan/noarch",
            "https://conda.anaconda.org/chan/noarch",
        ),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("ssh://git:pw123456@github.com/o/r.git", "ssh://github.com/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("git+ssh://user:tok123456@host.example/o/r.git", "git+ssh://host.example/o/r.git"),
        ("git+ssh://git@host.example/o/r.git", "git+ssh://git@host.example/o/r.git"),
        ("user:tok123456@host.example:o/r.git", "host.example:o/r.git"),
        ("oauth2:tok123456@gitlab.example.com:team/proj.git", "gitlab.example.com:team/proj.git"),
        ("https://u:p@[::1]:8443/x", "https://[::1]:8443/x"),
        ("file:///home/u/proj", "file:///home/u/proj"),
        ("https://host/x#subdirectory=pkg&sha256=ab", "https://host/x#subdirectory=pkg&sha256=ab"),
        ("http://[bad", "<unparseable url>"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("push to https://u:tok123456@host/x.git failed", "push to https://host/x.git failed"),
        ("no git+ssh://user:tok123456@host/r.git", "no git+ssh://host/r.git"),
        ("no user:tok123456@host.example:r.git here", "no host.example:r.git here"),
        ("git@github.com:o/r.git is fine", "git@github.com:o/r.git is fine"),
        ("Error: a@b, sqlite:////tmp/m.db", "Error: a@b, sqlite:////tmp/m.db"),
    ],
)
def test_scrub_credentials_in_text(message: str, expected: str) -> None:
    assert scrub_credentials(message) == expected
    assert scrub_error(message + "\nsecond line") == expected


def test_scrub_error_keeps_the_first_line_short() -> None:
    assert scrub_error("x" * 400, limit=10) == "x" * 10 + "..."


def test_remote_passwords_in_environment_values_are_secrets() -> None:
    environ = {
        "REMOTE": "user:tok123456@host.example:r.git",
        "MIRROR": "git+ssh://me:pw7654321@host.example/r.git",
        "PLAIN": "git@host.example:r.git",
    }
    assert secret_values(environ) == {"tok123456": "REMOTE", "pw7654321": "MIRROR"}


@pytest.mark.parametrize(
    "name",
    [
        "MY_API_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "JUPYTER_TOKEN",
        "DB_PASSWORD",
        "GH_PAT_KEY",
        "PGPASSWORD",
        "REDIS_PASS",
        "SENTRY_DSN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "NPM_AUTH",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "PWD", "LANG", "PYTHONPATH", "CONDA_PREFIX"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_scrub_redacts_secret_values_and_keeps_yaml_valid() -> None:
    env = {
        "MY_API_TOKEN": "canary-tok-1234",
        "SHORT_KEY": "abc",  # too short to be a secret worth redacting
        "FLAG_SECRET": "true",
        "PIP_INDEX_URL": "https://ci:canary-pw-5678@pypi.example.com/simple",
        "HOME": "/home/canary-not-secret",
    }
    text = (
        "name: x\ndependencies:\n  - a==1\n  - pip:\n"
        '      - "b @ https://h/canary-tok-1234/b.whl"\n'
        "      - c==canary-pw-5678\n  - abc\n  - home=/home/canary-not-secret\n"
    )
    out = scrub(text, env)
    assert "canary-tok-1234" not in out
    assert "canary-pw-5678" not in out
    assert out.count(REDACTED) == 2
    assert "  - abc\n" in out
    assert "/home/canary-not-secret" in out
    yaml.safe_load(out)
    assert find_leaks(text, env) == ["MY_API_TOKEN", "PIP_INDEX_URL"]
    assert find_leaks(out, env) == []


def test_scrub_catches_escaped_forms() -> None:
    secret = 'ab"cd\\ef/gh'
    env = {"APP_SECRET": secret}
    as_json = json.dumps({"x": secret})
    as_url = "https://h/ab%22cd%5Cef%2Fgh"
    for text in (as_json, as_url):
        assert find_leaks(text, env) == ["APP_SECRET"]
        assert find_leaks(scrub(text, env), env) == []
    assert json.loads(scrub(as_json, env)) == {"x": REDACTED}


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "MY_API_TOKEN": f"canary-{uuid.uuid4().hex}",
        "AWS_SECRET_ACCESS_KEY": f"canary-{uuid.uuid4().hex}",
        "JUPYTER_TOKEN": f"canary-{uuid.uuid4().hex}",
        "PIP_INDEX_URL": f"https://ci:canary-{uuid.uuid4().hex}@pypi.example.com/simple",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _canary_strings(canaries: dict[str, str]) -> list[str]:
    out = [v for k, v in canaries.items() if k != "PIP_INDEX_URL"]
    out.append(canaries["PIP_INDEX_URL"].split(":")[2].split("@")[0])
    return out


@pytest.fixture
def planted_venv(tmp_path: Path, canaries: dict[str, str]) -> Path:
    """A venv whose install records carry the canaries in every place a URL can hide one."""
    token = canaries["MY_API_TOKEN"]
    aws = canaries["AWS_SECRET_ACCESS_KEY"]
    prefix, site = make_venv_prefix(tmp_path / "env")
    write_dist_info(
        site,
        "vcs-pkg",
        "1.0",
        requested=True,
        direct_url={
            "url": f"https://user:{token}@git.example.com/team/vcs-pkg.git",
            "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "main"},
            "subdirectory": "python",
        },
    )
    write_dist_info(
        site,
        "token-user-pkg",
        "2.0",
        direct_url={
            "url": f"https://{token}@github.com/o/token-user-pkg.git",
            "vcs_info": {"vcs": "git", "commit_id": "b" * 40},
        },
    )
    write_dist_info(
        site,
        "wheel-pkg",
        "3.0",
        direct_url={
            "url": f"https://files.example.com/wheel_pkg-3.0-py3-none-any.whl?token={token}"
            f"&X-Amz-Signature={aws}",
            "archive_info": {"hashes": {"sha256": "0" * 64}},
        },
    )
    project = tmp_path / "projects" / f"dir-{token}"  # only the scrub guard can catch this one
    git_repo(project, f"https://oauth2:{aws}@gitlab.example.com/team/proj.git", pack_refs=True)
    write_dist_info(
        site,
        "edit-pkg",
        "0.1",
        requested=True,
        direct_url={"url": project.as_uri(), "dir_info": {"editable": True}},
    )
    return prefix


def test_no_canary_in_any_output(
    planted_venv: Path, canaries: dict[str, str], tmp_path: Path
) -> None:
    snap = take_snapshot(planted_venv)
    other = take_snapshot(planted_venv, requested_only=True)
    written = write_snapshot(snap, tmp_path / "out")
    outputs = {
        "environment.yml": render_environment_yml(snap),
        "requested-only": render_environment_yml(other),
        "platform.yml": render_platform_yml(snap),
        "json": render_snapshot_json(snap, indent=2),
        "diff": render_diff_table(diff_snapshots(other, snap)),
        "check": render_diff_table(check_drift(written[0], current=other)),
        **{p.name: p.read_text() for p in written},
    }
    for label, text in outputs.items():
        for canary in _canary_strings(canaries):
            assert canary not in text, f"{label} leaks a canary"
        assert find_leaks(text) == [], label
    # the redacted editable path still makes a valid file that parses back
    assert snapshot_from_file(written[0]).pip_packages


def test_credentials_stripped_at_the_source(planted_venv: Path, canaries: dict[str, str]) -> None:
    by_name = {p.name: p for p in take_snapshot(planted_venv).pip_packages}
    vcs = by_name["vcs-pkg"].direct_url
    assert vcs is not None
    assert (vcs.kind, vcs.url, vcs.commit_id, vcs.subdirectory) == (
        "vcs",
        "https://git.example.com/team/vcs-pkg.git",
        "a" * 40,
        "python",
    )
    assert by_name["token-user-pkg"].direct_url.url == "https://github.com/o/token-user-pkg.git"  # type: ignore[union-attr]
    archive = by_name["wheel-pkg"].direct_url
    assert archive is not None
    assert archive.url == "https://files.example.com/wheel_pkg-3.0-py3-none-any.whl"
    editable = by_name["edit-pkg"].direct_url
    assert editable is not None
    assert editable.kind == "editable"
    assert editable.git_remote == "https://gitlab.example.com/team/proj.git"
    assert editable.git_commit is not None
    text = render_environment_yml(take_snapshot(planted_venv))
    assert (
        '"vcs-pkg @ git+https://git.example.com/team/vcs-pkg.git@'
        + "a" * 40
        + '#subdirectory=python"  # pin: vcs-pkg==1.0'
    ) in text
    assert (
        '"wheel-pkg @ https://files.example.com/wheel_pkg-3.0-py3-none-any.whl"'
        "  # pin: wheel-pkg==3.0"
    ) in text


def test_git_worktree_remote_is_read_and_stripped(tmp_path: Path) -> None:
    from jupyter_mlops.core.environment.vcs import git_origin

    main = tmp_path / "main"
    head = git_repo(main, "https://bot:wt-secret-99@git.example.com/r.git")
    worktree = tmp_path / "wt"
    subprocess.run(
        ["git", "worktree", "add", "-q", "-b", "feature", str(worktree)],
        cwd=main,
        check=True,
        capture_output=True,
    )
    assert git_origin(str(worktree / "sub" / "dir")) == ("https://git.example.com/r.git", head)
    assert git_origin(str(main)) == ("https://git.example.com/r.git", head)
    assert git_origin(str(tmp_path / "elsewhere")) == (None, None)


def test_snapshot_dict_round_trip(planted_venv: Path) -> None:
    snap = take_snapshot(planted_venv)
    again = EnvironmentSnapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert again == snap
