"""Snapshots of real environments: this venv, and site-packages layouts written by the test."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from env_fixtures import git_repo, make_venv_prefix, write_dist_info, write_egg_info

from jupyter_mlops.core.environment import (
    EnvironmentSnapshot,
    normalize_name,
    parse_environment_yml,
    render_environment_yml,
    take_snapshot,
)
from jupyter_mlops.core.environment.snapshot import default_env_name
from jupyter_mlops.exceptions import NotFoundError


def first_per_name(dists: object) -> dict[str, str]:
    """``{normalized name: version}`` as ``importlib.metadata.distribution(name)`` resolves it."""
    found: dict[str, str] = {}
    for dist in dists:  # type: ignore[attr-defined]
        # once something imported the importlib_metadata backport (MLflow's dependencies
        # do), its finder yields distributions that raise where the stdlib gives no name
        try:
            name = dist.metadata["Name"]
        except Exception:  # importlib_metadata.MetadataNotFound
            continue
        if name:
            found.setdefault(normalize_name(name), dist.version)
    return found


@pytest.fixture(scope="module")
def live() -> EnvironmentSnapshot:
    return take_snapshot()


def test_every_installed_distribution_is_listed_with_its_version(
    live: EnvironmentSnapshot,
) -> None:
    expected = first_per_name(importlib.metadata.distributions())
    got = {p.name: p.version for p in live.pip_packages}
    assert len(expected) > 50  # this is the project's real test environment
    assert got == expected


def test_requested_flags_are_pips_REQUESTED_markers(live: EnvironmentSnapshot) -> None:
    expected = {}
    for dist in importlib.metadata.distributions():
        name = normalize_name(dist.metadata["Name"])
        expected.setdefault(name, dist.read_text("REQUESTED") is not None)
    assert {p.name: p.requested for p in live.pip_packages} == expected
    assert any(p.requested for p in live.pip_packages)
    assert not all(p.requested for p in live.pip_packages)


def test_live_snapshot_is_a_conda_environment_file(live: EnvironmentSnapshot) -> None:
    text = render_environment_yml(live)
    document = yaml.safe_load(text)
    assert set(document) == {"name", "channels", "dependencies"}
    assert isinstance(document["name"], str)
    assert document["name"]
    assert document["channels"] == ["conda-forge"]
    deps = document["dependencies"]
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert deps[0] == f"python={minor}"
    assert "pip" in deps
    assert all(isinstance(d, str) for d in deps[:-1])
    assert isinstance(deps[-1], dict)
    assert list(deps[-1]) == ["pip"]
    pip_lines = deps[-1]["pip"]
    assert all(isinstance(line, str) for line in pip_lines)
    assert len(pip_lines) == len(live.pip_packages)
    for package in live.pip_packages:
        if package.direct_url is None:
            assert f"{package.name}=={package.version}" in pip_lines
    assert live.python_version == ".".join(map(str, sys.version_info[:3]))
    parsed = parse_environment_yml(text)
    assert {(p.name, p.version) for p in parsed.pip_packages} == {
        (p.name, p.version) for p in live.pip_packages
    }


def test_live_snapshot_platform_block(live: EnvironmentSnapshot) -> None:
    assert live.platform["os"]
    assert live.platform["machine"]
    assert live.platform["python_implementation"] == "CPython"
    assert live.platform["python_version"] == live.python_version
    assert isinstance(live.platform.get("cpu_count"), int)


def test_prefix_of_this_interpreter_is_the_live_snapshot(live: EnvironmentSnapshot) -> None:
    again = take_snapshot(Path(sys.prefix), include_platform=False)
    assert again.pip_packages == live.pip_packages


@pytest.fixture
def fake_venv(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A venv prefix with tricky layouts; also a legacy ``develop`` project on a ``.pth`` line."""
    prefix, site = make_venv_prefix(tmp_path / "proj" / ".venv")
    write_dist_info(site, "Foo_Bar", "1.0", folder="Foo_Bar-1.0.dist-info", requested=True)
    write_dist_info(
        site, "zope.interface", "6.4.post2", folder="zope.interface-6.4.post2.dist-info"
    )
    write_dist_info(site, "weird-name", "2.0", folder="weird-name-2.0.dist-info")
    write_dist_info(site, "legacy", "1.0-beta", folder="legacy-1.0_beta.dist-info")
    write_dist_info(site, "CamelCase", "3.1", metadata_name="CamelCase", requested=True)
    (site / "broken-thing-1.0.dist-info").mkdir()  # ambiguous name, no METADATA
    (site / "nometa-1.0.dist-info").mkdir()  # clear name, but no METADATA
    (site / "nometa-1.0.dist-info" / "INSTALLER").write_text("pip\n")
    write_egg_info(site, "old-style", "0.9")
    write_egg_info(site, "single-file", "0.1", as_file=True)
    project = tmp_path / "devproj"
    commit = git_repo(project, "https://deploy:s3cr3t-tok@git.example.com/team/devproj.git")
    (project / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    write_egg_info(project, "devproj", "0.3")
    # the same name again further along the path: the first one wins
    write_dist_info(project, "foo-bar", "9.9")
    (site / "easy-install.pth").write_text(f"import sys\n{project}\n# comment\n")
    (site / "ignored.pth").write_text("does-not-exist\n")
    assert commit
    return prefix, site, project


def test_prefix_snapshot_reads_names_versions_and_flags(
    fake_venv: tuple[Path, Path, Path],
) -> None:
    prefix, site, project = fake_venv
    snap = take_snapshot(prefix)
    got = {p.name: p.version for p in snap.pip_packages}
    expected = first_per_name(importlib.metadata.distributions(path=[str(site), str(project)]))
    assert got == expected
    assert got == {
        "foo-bar": "1.0",
        "zope-interface": "6.4.post2",
        "weird-name": "2.0",
        "legacy": "1.0-beta",
        "camelcase": "3.1",
        "old-style": "0.9",
        "single-file": "0.1",
        "devproj": "0.3",
    }
    flags = {p.name: p.requested for p in snap.pip_packages}
    assert flags["foo-bar"] is True
    assert flags["camelcase"] is True
    assert flags["zope-interface"] is False
    assert snap.python_version == "3.12.4"
    assert snap.name == "proj"
    assert not snap.is_conda
    assert "python_version" not in snap.platform  # not this interpreter's facts
    assert "os" in snap.platform


def test_legacy_develop_install_is_editable_with_clean_git_origin(
    fake_venv: tuple[Path, Path, Path],
) -> None:
    prefix, _, project = fake_venv
    snap = take_snapshot(prefix)
    dev = next(p for p in snap.pip_packages if p.name == "devproj")
    assert dev.direct_url is not None
    assert dev.direct_url.kind == "editable"
    assert dev.direct_url.path == str(project)
    assert dev.direct_url.git_remote == "https://git.example.com/team/devproj.git"
    assert dev.direct_url.git_commit is not None
    assert len(dev.direct_url.git_commit) == 40
    text = render_environment_yml(snap)
    assert (
        f'"-e {project}"  # pin: devproj==0.3 (git+https://git.example.com/team/devproj.git@'
        in text
    )
    assert "s3cr3t" not in text
    assert "python=3.12\n" in text


def test_requested_only_keeps_requested_and_editable(fake_venv: tuple[Path, Path, Path]) -> None:
    prefix, _, _ = fake_venv
    snap = take_snapshot(prefix, requested_only=True)
    assert [p.name for p in snap.pip_packages] == ["camelcase", "devproj", "foo-bar"]
    text = render_environment_yml(snap)
    assert "# kind: requested-only" in text
    assert "camelcase==3.1" in text
    assert "zope" not in text


def test_system_site_packages_of_the_base_are_included(tmp_path: Path) -> None:
    base, base_site = make_venv_prefix(tmp_path / "base", version="3.12.4")
    (base / "bin").mkdir()
    write_dist_info(base_site, "from-base", "1.0")
    prefix, site = make_venv_prefix(tmp_path / "env")
    write_dist_info(site, "own", "2.0")
    (prefix / "pyvenv.cfg").write_text(
        f"home = {base / 'bin'}\ninclude-system-site-packages = true\nversion_info = 3.12.4.final.0\n"
    )
    snap = take_snapshot(prefix, include_platform=False)
    assert {p.name for p in snap.pip_packages} == {"from-base", "own"}
    assert snap.python_version == "3.12.4"
    assert snap.platform == {}


def test_version_from_folder_name_without_pyvenv_cfg(tmp_path: Path) -> None:
    site = tmp_path / "env" / "lib" / "python3.10" / "site-packages"
    site.mkdir(parents=True)
    write_dist_info(site, "pkg", "1.2.3")
    snap = take_snapshot(tmp_path / "env", name="custom name: v2")
    assert snap.python_version == "3.10"
    assert snap.name == "custom-name-v2"
    assert "\nname: custom-name-v2\n" in render_environment_yml(snap)


def test_default_names(tmp_path: Path) -> None:
    assert default_env_name(str(tmp_path / "work" / "my project" / ".venv")) == "my-project"
    assert default_env_name(str(tmp_path / "envs" / "torch-2.3")) == "torch-2.3"
    root = tmp_path / "miniforge3"
    (root / "conda-meta").mkdir(parents=True)
    (root / "condabin").mkdir()
    assert default_env_name(str(root)) == "base"


def test_missing_prefix_is_a_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no environment at"):
        take_snapshot(tmp_path / "nope")


def test_zip_on_the_path_goes_through_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_pkg-4.5.dist-info/METADATA", "Name: zipped-pkg\nVersion: 4.5\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    snap = take_snapshot(include_platform=False)
    assert ("zipped-pkg", "4.5") in {(p.name, p.version) for p in snap.pip_packages}


def test_package_exports_resolve_and_are_documented() -> None:
    import jupyter_mlops.core.environment as environment

    for name in environment.__all__:
        value = getattr(environment, name)
        if callable(value):
            assert value.__doc__, name
    assert set(environment.__all__) <= set(dir(environment))
    with pytest.raises(AttributeError):
        environment.no_such_name  # noqa: B018


def test_snapshot_path_stays_light(
    run_python: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """Taking and writing a snapshot imports neither PyYAML, the parser, NVML nor MLflow."""
    code = """
import json, sys
from jupyter_mlops.core.environment import render_environment_yml, take_snapshot
render_environment_yml(take_snapshot())
heavy = ["yaml", "mlflow", "jupyter_mlops.core.environment.parse",
         "jupyter_mlops.core.environment.diff", "jupyter_mlops.core.environment.conda"]
if not any(__import__("os").path.exists(p) for p in ("/dev/nvidiactl", "/proc/driver/nvidia/version")):
    heavy.append("pynvml")
print(json.dumps([m for m in heavy if m in sys.modules]))
"""
    out = run_python(code).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
