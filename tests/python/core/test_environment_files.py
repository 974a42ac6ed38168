"""Writing and reading ``environment.yml`` / ``platform.yml``: YAML safety, parsing, round trips."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from jupyter_mlops.core.environment import (
    HASH_TAG,
    CondaPackage,
    DirectUrl,
    EnvironmentSnapshot,
    PipPackage,
    content_hash,
    parse_environment_yml,
    render_environment_yml,
    render_platform_yml,
    run_artifacts,
    run_tags,
    snapshot_from_file,
    snapshot_from_text,
    write_snapshot,
)
from jupyter_mlops.core.environment.parse import parse_conda_spec, parse_pip_requirement
from jupyter_mlops.core.environment.render import dump_yaml, yaml_scalar
from jupyter_mlops.exceptions import InvalidValueError, NotFoundError, PathError


@given(st.text())
def test_any_string_reads_back_as_itself(text: str) -> None:
    assert yaml.safe_load(f"key: {yaml_scalar(text)}\n")["key"] == text
    assert yaml.safe_load(f"- {yaml_scalar(text)}\n") == [text]


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False)))
def test_any_plain_value_reads_back_as_itself(value: object) -> None:
    assert yaml.safe_load(f"key: {yaml_scalar(value)}\n")["key"] == value


def test_nan_reads_back_as_nan() -> None:
    assert math.isnan(yaml.safe_load(f"k: {yaml_scalar(float('nan'))}")["k"])


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
_documents = st.recursive(
    st.dictionaries(st.text(min_size=1, max_size=10), _scalars, max_size=4),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=10), children, max_size=3),
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(min_size=1, max_size=10), _documents, max_size=3))
def test_nested_documents_read_back(document: dict[str, Any]) -> None:
    assert yaml.safe_load(dump_yaml(document)) == (document or None)


def test_strings_that_look_like_other_types_are_quoted() -> None:
    for text in (
        "3.11",
        "1e3",
        "yes",
        "No",
        "null",
        "~",
        "0x1f",
        "2026-01-02",
        "1:30",
        ".inf",
        "=",
        "*a",
        "&b",
        "!t",
        "@x",
        "-e /p",
        "a: b",
        "a #b",
    ):
        assert yaml_scalar(text).startswith('"'), text
    for text in ("python=3.11", "six==1.17.0", "conda-forge", "/opt/x", "numpy>=1.2,<2"):
        assert yaml_scalar(text) == text


def _snapshot(**changes: Any) -> EnvironmentSnapshot:
    base = EnvironmentSnapshot(
        name="demo",
        channels=("conda-forge",),
        python_version="3.11.7",
        pip_packages=(
            PipPackage("iniconfig", "2.3.1", requested=True),
            PipPackage(
                "mylib",
                "0.4.0",
                requested=True,
                direct_url=DirectUrl(
                    kind="editable",
                    url="file:///home/me/my%20lib",
                    path="/home/me/my lib",
                    git_remote="https://github.com/me/mylib.git",
                    git_commit="c" * 40,
                ),
            ),
            PipPackage(
                "tool",
                "1.2.0",
                direct_url=DirectUrl(
                    kind="vcs", url="https://github.com/o/tool.git", vcs="git", commit_id="d" * 40
                ),
            ),
            PipPackage(
                "remote-wheel",
                "5.0",
                direct_url=DirectUrl(kind="archive", url="https://h.example/remote_wheel-5.0.whl"),
            ),
            PipPackage(
                "local-wheel",
                "6.0",
                direct_url=DirectUrl(kind="archive", url="file:///tmp/local_wheel-6.0.whl"),
            ),
        ),
        platform={"os": "Linux", "machine": "x86_64", "cpu_model": "AMD EPYC 9654 96-Core"},
    )
    return base._replace(**changes)


def test_rendered_file_is_conda_shaped_with_a_header() -> None:
    text = render_environment_yml(_snapshot())
    lines = text.splitlines()
    assert lines[0] == "# jupyter-mlops environment snapshot"
    assert "# kind: full" in lines
    assert "# environment: virtualenv" in lines
    assert f"# content-hash: sha256:{content_hash(_snapshot())}" in lines
    assert "# platform: Linux x86_64" in lines
    document = yaml.safe_load(text)
    assert document == {
        "name": "demo",
        "channels": ["conda-forge"],
        "dependencies": [
            "python=3.11",
            "pip",
            {
                "pip": [
                    "iniconfig==2.3.1",
                    "-e '/home/me/my lib'",
                    f"tool @ git+https://github.com/o/tool.git@{'d' * 40}",
                    "remote-wheel @ https://h.example/remote_wheel-5.0.whl",
                    "local-wheel==6.0",
                ]
            },
        ],
    }
    assert (
        "      - \"-e '/home/me/my lib'\"  # pin: mylib==0.4.0"
        f" (git+https://github.com/me/mylib.git@{'c' * 40})"
    ) in lines
    assert (
        f'      - "tool @ git+https://github.com/o/tool.git@{"d" * 40}"  # pin: tool==1.2.0'
        in lines
    )
    # every pip line is a plain PEP 508 requirement or an editable path: no inline comment
    assert all("#" not in line for line in document["dependencies"][-1]["pip"])


def test_parse_back_recovers_pins_and_hash() -> None:
    snap = _snapshot()
    parsed = parse_environment_yml(render_environment_yml(snap))
    assert parsed.source == "file"
    assert parsed.python_version == "3.11"
    assert {(p.name, p.version) for p in parsed.pip_packages} == {
        (p.name, p.version) for p in snap.pip_packages
    }
    by_name = {p.name: p for p in parsed.pip_packages}
    assert by_name["mylib"].direct_url is not None
    assert by_name["mylib"].direct_url.path == "/home/me/my lib"
    assert by_name["tool"].direct_url is not None
    assert by_name["tool"].direct_url.commit_id == "d" * 40
    assert content_hash(parsed) == content_hash(snap)
    assert snapshot_from_text(render_environment_yml(snap)) == parsed


def test_hash_ignores_order_name_platform_and_requested_flags() -> None:
    snap = _snapshot()
    shuffled = _snapshot(
        name="other",
        channels=("defaults",),
        pip_packages=tuple(
            PipPackage(p.name, p.version, direct_url=p.direct_url)
            for p in reversed(snap.pip_packages)
        ),
        platform={},
        python_version="3.11.9",
    )
    assert content_hash(shuffled) == content_hash(snap)
    bumped = _snapshot(
        pip_packages=(PipPackage("iniconfig", "2.3.0"), *snap.pip_packages[1:]),
    )
    assert content_hash(bumped) != content_hash(snap)
    moved_commit = _snapshot(
        pip_packages=(
            *snap.pip_packages[:2],
            PipPackage(
                "tool",
                "1.2.0",
                direct_url=DirectUrl(
                    kind="vcs", url="https://x/t.git", vcs="git", commit_id="e" * 40
                ),
            ),
            *snap.pip_packages[3:],
        )
    )
    assert content_hash(moved_commit) != content_hash(snap)
    assert content_hash(_snapshot(python_version="3.12.1")) != content_hash(snap)
    assert len(content_hash(snap)) == 64


def test_write_and_read_with_platform_beside(tmp_path: Path) -> None:
    snap = _snapshot()
    written = write_snapshot(snap, tmp_path)
    assert [p.name for p in written] == ["environment.yml", "platform.yml"]
    assert yaml.safe_load(written[1].read_text()) == snap.platform
    back = snapshot_from_file(written[0])
    assert back.platform == snap.platform
    assert content_hash(back) == content_hash(snap)
    only_env = write_snapshot(snap, tmp_path / "sub" / "env.yml", platform=False)
    assert [p.name for p in only_env] == ["env.yml"]
    assert render_platform_yml(_snapshot(platform={})).endswith("{}\n")


def test_reading_errors_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no environment file"):
        snapshot_from_file(tmp_path / "missing.yml")
    with pytest.raises(PathError):
        snapshot_from_file(tmp_path)
    for text in (
        "a: [",
        "- just a list\n",
        "name: x\n",
        "dependencies: 3\n",
        "dependencies:\n  - [1]\n",
        "dependencies:\n  - '>=1'\n",
        "dependencies:\n  - pip:\n      - [x]\n",
        "channels: 5\ndependencies: []\n",
    ):
        with pytest.raises(InvalidValueError):
            parse_environment_yml(text)


def test_hand_written_file() -> None:
    text = """
name: research
channels: [pytorch, conda-forge]
dependencies:
  - python>=3.10
  - conda-forge::numpy=1.26
  - pytorch::pytorch 2.3.1 py3.11_cuda12.1_cudnn8.9.2_0
  - scipy
  - cudatoolkit=11.8.*
  - libblas=*=*mkl
  - pip=24.0
  - pip:
      - --index-url https://pypi.org/simple
      - requests[socks]==2.32.3 ; python_version >= "3.8"
      - rich>=13
      - git+https://github.com/o/thing.git@v1.2#egg=thing
      - -e ./src/mypkg
      - httpx===0.27.0
      - "attrs==23.*"
"""
    snap = parse_environment_yml(text)
    assert snap.source == "external"
    assert snap.is_conda
    assert snap.python_version == ""
    assert snap.channels == ("pytorch", "conda-forge")
    conda = {p.name: (p.version, p.build, p.channel) for p in snap.conda_packages}
    assert conda == {
        "numpy": ("1.26", "", "conda-forge"),
        "pytorch": ("2.3.1", "py3.11_cuda12.1_cudnn8.9.2_0", "pytorch"),
        "scipy": (None, "", ""),
        "cudatoolkit": ("11.8", "", ""),
        "libblas": (None, "*mkl", ""),
        "pip": ("24.0", "", ""),
    }
    pip = {p.name: p.version for p in snap.pip_packages}
    assert pip == {
        "requests": "2.32.3",
        "rich": None,
        "thing": None,
        "mypkg": None,
        "httpx": "0.27.0",
        "attrs": None,
    }
    thing = next(p for p in snap.pip_packages if p.name == "thing")
    assert thing.direct_url is not None
    assert (thing.direct_url.url, thing.direct_url.requested_revision) == (
        "https://github.com/o/thing.git",
        "v1.2",
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("numpy", ("numpy", None, "")),
        ("numpy=1.26.4=py311h_0", ("numpy", "1.26.4", "py311h_0")),
        ("numpy==1.26.4", ("numpy", "1.26.4", "")),
        ("NumPy=1.26", ("numpy", "1.26", "")),
        ("numpy>=1.2,<2", ("numpy", None, "")),
        ("numpy=1.2|1.3", ("numpy", None, "")),
        ("numpy[version='>=1']", ("numpy", None, "")),
    ],
)
def test_conda_specs(spec: str, expected: tuple[str, str | None, str]) -> None:
    package = parse_conda_spec(spec)
    assert (package.name, package.version, package.build) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Six==1.17.0", ("six", "1.17.0", None)),
        ("six", ("six", None, None)),
        ("six==1.*", ("six", None, None)),
        ("six>=1,<2", ("six", None, None)),
        ("-r other.txt", None),
        ("# a comment", None),
        ("", None),
        ("-e /abs/proj#egg=proj_x", ("proj-x", None, "editable")),
        ("--editable=/abs/proj", ("proj", None, "editable")),
        ("-e git+https://h/r.git@" + "f" * 40 + "#egg=r", ("r", None, "vcs")),
        ("-e /p  # real-name==3.0", ("real-name", "3.0", "editable")),
        ("-e /abs/thing  # a note, not a pin", ("thing", None, "editable")),
        ("rich==13.7.1  # pinned for the demo", ("rich", "13.7.1", None)),
        ("pkg @ file:///tmp/pkg-1.0.whl", ("pkg", None, "archive")),
        ("https://h/pkg.whl#egg=pkg  # pkg==2.0", ("pkg", "2.0", "archive")),
    ],
)
def test_pip_lines(line: str, expected: tuple[str, str | None, str | None] | None) -> None:
    package = parse_pip_requirement(line)
    if expected is None:
        assert package is None
        return
    assert package is not None
    kind = package.direct_url.kind if package.direct_url else None
    assert (package.name, package.version, kind) == expected


def test_pip_line_without_a_name_is_rejected() -> None:
    with pytest.raises(InvalidValueError):
        parse_pip_requirement("https://h/archive.zip")
    with pytest.raises(InvalidValueError):
        parse_pip_requirement("===")
    with pytest.raises(InvalidValueError):
        parse_pip_requirement("-e '/unbalanced")


def test_conda_package_model_round_trips() -> None:
    snap = _snapshot(
        conda_packages=(CondaPackage("numpy", "1.26.4", "py311_0", "conda-forge", True),),
        is_conda=True,
        python_build="h_0",
    )
    assert EnvironmentSnapshot.from_dict(snap.to_dict()) == snap


def test_run_artifacts_and_tags() -> None:
    snap = _snapshot()
    artifacts = run_artifacts(snap)
    assert list(artifacts) == ["environment/environment.yml", "environment/platform.yml"]
    assert artifacts["environment/environment.yml"] == render_environment_yml(snap)
    assert list(run_artifacts(_snapshot(platform={}))) == ["environment/environment.yml"]
    tags = run_tags(snap)
    assert tags == {
        HASH_TAG: content_hash(snap),
        "mlops.env.python": "3.11.7",
        "mlops.env.kind": "full",
        "mlops.env.packages": "5",
    }
    assert run_tags(_snapshot(name="renamed", platform={}))[HASH_TAG] == tags[HASH_TAG]


def test_editable_with_a_non_url_remote() -> None:
    url = DirectUrl(
        kind="editable",
        url="file:///src/x",
        path="/src/x",
        git_remote="git@github.com:o/x.git",
        git_commit="a" * 40,
    )
    text = render_environment_yml(_snapshot(pip_packages=(PipPackage("x", "1.0", direct_url=url),)))
    assert f'- "-e /src/x"  # pin: x==1.0 (git git@github.com:o/x.git {"a" * 40})' in text
    assert parse_environment_yml(text).pip_packages[0][:2] == ("x", "1.0")
