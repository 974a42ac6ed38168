"""Diffs between environments and drift checks against snapshots."""

from __future__ import annotations

from pathlib import Path

from env_fixtures import make_venv_prefix, write_dist_info

from jupyter_mlops.core.environment import (
    CondaPackage,
    DirectUrl,
    EnvironmentSnapshot,
    PackageChange,
    PipPackage,
    check_drift,
    diff_snapshots,
    render_diff_table,
    render_environment_yml,
    take_snapshot,
    write_snapshot,
)


def snap(
    *pip: tuple[str, str], python: str = "3.11.7", conda: tuple[CondaPackage, ...] = ()
) -> EnvironmentSnapshot:
    return EnvironmentSnapshot(
        name="x",
        python_version=python,
        pip_packages=tuple(PipPackage(n, v) for n, v in pip),
        conda_packages=conda,
        is_conda=bool(conda),
    )


def test_added_removed_changed() -> None:
    old = snap(("a", "1.0"), ("b", "2.0"), ("c", "3.0"))
    new = snap(("a", "1.0"), ("c", "3.1"), ("d", "4.0"))
    diff = diff_snapshots(old, new)
    assert diff.added == (PackageChange("pip", "d", None, "4.0"),)
    assert diff.removed == (PackageChange("pip", "b", "2.0", None),)
    assert diff.changed == (PackageChange("pip", "c", "3.0", "3.1"),)
    assert diff.python is None
    assert diff
    assert not diff.is_empty
    assert diff.to_dict()["drift"] is True
    table = render_diff_table(diff, old_label="run-a", new_label="run-b")
    lines = table.splitlines()
    assert lines[0].split() == ["change", "section", "package", "run-a", "run-b"]
    assert lines[2].split() == ["added", "pip", "d", "-", "4.0"]
    assert lines[3].split() == ["removed", "pip", "b", "2.0", "-"]
    assert lines[4].split() == ["changed", "pip", "c", "3.0", "3.1"]
    assert lines[-1] == "1 added, 1 removed, 1 changed"


def test_identical_environments_have_no_diff() -> None:
    a = snap(("a", "1.0"), ("b", "2.0"))
    b = snap(("b", "2.0"), ("a", "1.0"))
    diff = diff_snapshots(a, b)
    assert not diff
    assert diff.is_empty
    assert render_diff_table(diff) == "no differences\n"


def test_python_change_is_reported_at_the_shared_precision() -> None:
    assert diff_snapshots(snap(python="3.11.7"), snap(python="3.11")).python is None
    diff = diff_snapshots(snap(python="3.11.7"), snap(python="3.12.1"))
    assert diff.python == ("3.11.7", "3.12.1")
    assert "changed  python   python   3.11.7  3.12.1" in render_diff_table(diff)
    assert (
        render_diff_table(diff).splitlines()[-1] == "0 added, 0 removed, 0 changed, python changed"
    )


def test_conda_builds_and_vcs_commits_count() -> None:
    old = snap(conda=(CondaPackage("torch", "2.3.1", "cpu_0"), CondaPackage("x", "1", "a")))
    new = snap(conda=(CondaPackage("torch", "2.3.1", "cuda121_0"), CondaPackage("x", "1", "")))
    diff = diff_snapshots(old, new)
    assert diff.changed == (PackageChange("conda", "torch", "2.3.1=cpu_0", "2.3.1=cuda121_0"),)

    def vcs(commit: str) -> EnvironmentSnapshot:
        url = DirectUrl(kind="vcs", url="https://h/t.git", vcs="git", commit_id=commit)
        return snap()._replace(pip_packages=(PipPackage("tool", "0.1", direct_url=url),))

    changed = diff_snapshots(vcs("a" * 40), vcs("b" * 40)).changed
    assert changed == (PackageChange("pip", "tool", "0.1@" + "a" * 40, "0.1@" + "b" * 40),)


def test_conda_is_its_own_section() -> None:
    old = snap(("numpy", "1.26.4"))
    new = snap(conda=(CondaPackage("numpy", "1.26.4", "py311_0"),))
    diff = diff_snapshots(old, new)
    assert [c.section for c in diff.removed] == ["pip"]
    assert [c.section for c in diff.added] == ["conda"]


def test_check_of_a_full_snapshot_counts_extra_packages(tmp_path: Path) -> None:
    expected = snap(("a", "1.0"), ("b", "2.0"))
    path = write_snapshot(expected, tmp_path / "environment.yml")[0]
    assert not check_drift(path, current=snap(("a", "1.0"), ("b", "2.0"), python="3.11.2"))
    drift = check_drift(path, current=snap(("a", "1.0"), ("b", "2.0"), ("extra", "9")))
    assert drift.added == (PackageChange("pip", "extra", None, "9"),)
    assert not drift.listed_only


def test_check_of_a_requested_only_snapshot_ignores_extras(tmp_path: Path) -> None:
    expected = snap(("a", "1.0"))._replace(requested_only=True)
    path = write_snapshot(expected, tmp_path / "environment.yml")[0]
    current = snap(("a", "1.0"), ("dependency", "5.0"))
    drift = check_drift(path, current=current)
    assert not drift
    assert drift.listed_only
    assert "only the packages listed" in render_diff_table(drift)
    drift = check_drift(path, current=snap(("a", "1.1")))
    assert drift.changed == (PackageChange("pip", "a", "1.0", "1.1"),)
    assert check_drift(path, current=snap()).removed == (PackageChange("pip", "a", "1.0", None),)


def test_check_of_a_hand_written_file_uses_conda_matching(tmp_path: Path) -> None:
    path = tmp_path / "environment.yml"
    path.write_text(
        "name: x\ndependencies:\n  - python=3.11\n  - numpy=1.26\n  - scipy\n  - libblas=*=*mkl\n"
        "  - pip:\n      - requests\n      - rich==13.7.1\n      - pyyaml==6.0.2\n"
    )
    current = snap(
        ("requests", "2.32.3"),
        ("rich", "13.7.1"),
        ("other", "1.0"),
        python="3.11.7",
        conda=(
            CondaPackage("numpy", "1.26.4", "py311_0"),
            CondaPackage("scipy", "1.14.0", "py311_0"),
            CondaPackage("pyyaml", "6.0.2", "py311_0"),
            CondaPackage("libblas", "3.9.0", "20_linux64_mkl"),
        ),
    )
    assert not check_drift(path, current=current)
    openblas = current._replace(
        conda_packages=(
            *current.conda_packages[:3],
            CondaPackage("libblas", "3.9.0", "20_openblas"),
        )
    )
    assert check_drift(path, current=openblas).changed == (
        PackageChange("conda", "libblas", "*=*mkl", "3.9.0=20_openblas"),
    )
    drifted = current._replace(
        conda_packages=(CondaPackage("numpy", "1.27.0", "py311_0"), *current.conda_packages[1:]),
        python_version="3.12.0",
    )
    drift = check_drift(path, current=drifted)
    assert drift.changed == (PackageChange("conda", "numpy", "1.26", "1.27.0=py311_0"),)
    assert drift.python == ("3.11", "3.12.0")


def test_check_defaults_to_this_interpreter(tmp_path: Path) -> None:
    live = take_snapshot(include_platform=False)
    path = tmp_path / "environment.yml"
    path.write_text(render_environment_yml(live))
    assert not check_drift(path)
    assert not check_drift(live)
    fake = live._replace(pip_packages=(*live.pip_packages, PipPackage("not-installed-pkg", "1.0")))
    assert check_drift(fake).removed == (PackageChange("pip", "not-installed-pkg", "1.0", None),)


def test_check_reports_exactly_one_changed_package(tmp_path: Path) -> None:
    prefix, site = make_venv_prefix(tmp_path / "env")
    for name, version in (("alpha", "1.0"), ("beta", "2.0"), ("gamma", "3.0")):
        write_dist_info(site, name, version, requested=True)
    path = write_snapshot(take_snapshot(prefix), tmp_path / "snap")[0]
    assert not check_drift(path, current=take_snapshot(prefix))
    (site / "beta-2.0.dist-info").rename(site / "beta-2.1.dist-info")
    drift = check_drift(path, current=take_snapshot(prefix))
    assert (drift.added, drift.removed, drift.python) == ((), (), None)
    assert drift.changed == (PackageChange("pip", "beta", "2.0", "2.1"),)
