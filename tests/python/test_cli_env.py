"""``jupyter mlops env snapshot|diff|check`` against real environments and a real MLflow store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from changed_env import log_changed_environment
from child_python import last_line
from env_canaries import leaks, plant_canaries, write_dist

from jupyter_mlops.cli.main import COMMANDS, main
from jupyter_mlops.core.environment import content_hash, take_snapshot
from jupyter_mlops.core.tracking.tracker import Tracker


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow puts a SQLite store's artifacts under ./mlruns of the process: keep them here."""
    monkeypatch.chdir(tmp_path)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pinned_line(text: str) -> tuple[str, str, str]:
    """``(line, name, version)`` of the first plain ``name==version`` pip line of a snapshot."""
    for line in text.splitlines():
        item = line.strip().removeprefix("- ")
        name, sep, version = item.partition("==")
        if line.startswith("      - ") and sep and " " not in item and not item.startswith('"'):
            return line, name, version
    raise AssertionError("no pinned pip line")


@pytest.fixture
def snapshot_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, err = run_cli(
        capsys, "env", "snapshot", "-o", str(tmp_path / "snap" / "environment.yml")
    )
    assert code == 0, err
    return tmp_path / "snap" / "environment.yml"


@pytest.fixture
def edited_file(snapshot_file: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """A hand-edited copy of the snapshot: one pinned package at 0.0.1; (path, name, version)."""
    text = snapshot_file.read_text()
    line, name, version = pinned_line(text)
    path = tmp_path / "edited.yml"
    path.write_text(text.replace(line, line.replace(f"=={version}", "==0.0.1")))
    return path, name, version


def test_env_group_and_every_command_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert set(COMMANDS["env"].children) == {"snapshot", "diff", "check"}
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    assert "env" in out
    code, _, err = run_cli(capsys, "env")
    assert code == 2
    assert "snapshot" in err
    assert "check" in err
    for name, cmd in COMMANDS["env"].children.items():
        code, out, _ = run_cli(capsys, "env", name, "--help")
        assert code == 0
        assert f"jupyter mlops env {name}" in out
        assert cmd.description.split()[0] in out


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import json, sys\n"
        "from jupyter_mlops.cli.main import main\n"
        "codes = [main([*argv, '--help']) for argv in (['env'], ['env', 'snapshot'], "
        "['env', 'diff'], ['env', 'check'])]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'yaml') "
        "or m.startswith('jupyter_mlops.core.environment.'))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    report = json.loads(last_line(code))
    assert report == {"codes": [0, 0, 0, 0], "heavy": []}


def test_snapshot_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "env", "snapshot")
    assert code == 0, err
    assert f"# content-hash: sha256:{content_hash(take_snapshot())}" in out
    document = yaml.safe_load(out)
    assert document["dependencies"][0] == f"python={sys.version_info[0]}.{sys.version_info[1]}"
    pip = next(d["pip"] for d in document["dependencies"] if isinstance(d, dict))
    assert any(line.startswith("mlflow==") for line in pip)


def test_snapshot_to_a_file_requested_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "env.yml"
    code, out, _ = run_cli(capsys, "env", "snapshot", "-o", str(target), "--requested-only")
    assert code == 0
    assert target.is_file()
    assert (target.parent / "platform.yml").is_file()
    assert str(target) in out
    assert "# kind: requested-only" in target.read_text()
    code, out, _ = run_cli(capsys, "env", "snapshot", "-o", str(tmp_path / "new-folder") + "/")
    assert code == 0
    assert (tmp_path / "new-folder" / "environment.yml").is_file()


def test_snapshot_of_another_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    site.mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /nowhere\nversion = 3.12.4\n")
    write_dist(site, "only-here", "4.2")
    code, out, _ = run_cli(capsys, "env", "snapshot", "--prefix", str(tmp_path / "venv"))
    assert code == 0
    document = yaml.safe_load(out)
    assert document["dependencies"][0] == "python=3.12"
    assert {"pip": ["only-here==4.2"]} in document["dependencies"]


def test_diff_two_files(
    snapshot_file: Path, edited_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, name, version = edited_file
    code, out, _ = run_cli(capsys, "env", "diff", str(snapshot_file), str(path), "--format", "json")
    assert code == 0
    assert json.loads(out) == {
        "added": [],
        "removed": [],
        "changed": [{"section": "pip", "name": name, "old": version, "new": "0.0.1"}],
        "python": None,
        "listed_only": False,
        "drift": True,
    }
    code, out, _ = run_cli(capsys, "env", "diff", str(snapshot_file), str(path))
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("changed"))
    assert row.split() == ["changed", "pip", name, version, "0.0.1"]
    assert "0 added, 0 removed, 1 changed" in out
    code, out, _ = run_cli(capsys, "env", "diff", str(snapshot_file), str(snapshot_file.parent))
    assert code == 0
    assert out.strip() == "no differences"


@pytest.fixture
def two_runs(mlflow_store: Any, tmp_path: Path) -> tuple[str, str, str, str]:
    """A run tracked in this environment, and one whose recorded environment has a package
    at 0.0.1: (run a, run b, name, version)."""
    tracker = Tracker(mlflow_store.uri, tmp_path / "spool", flush_interval=0.05)
    try:
        tracker.wait_for_recovery(10)
        a = tracker.start_run(experiment="env").run_id
        tracker.end_run()
    finally:
        tracker.close()
    b, name, version = log_changed_environment(mlflow_store.client, "env")
    return a, b, name, version


def test_diff_two_runs(
    mlflow_store: Any,
    two_runs: tuple[str, str, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b, name, version = two_runs
    code, out, err = run_cli(
        capsys, "env", "diff", a, b, "--tracking-uri", mlflow_store.uri, "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["changed"] == [
        {"section": "pip", "name": name, "old": version, "new": "0.0.1"}
    ]
    assert json.loads(out)["added"] == json.loads(out)["removed"] == []
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.uri)
    code, out, _ = run_cli(capsys, "env", "diff", b, a)
    assert code == 0
    assert f"run {b[:8]}" in out.splitlines()[0]
    row = next(line for line in out.splitlines() if line.startswith("changed"))
    assert row.split() == ["changed", "pip", name, "0.0.1", version]


def test_diff_a_run_against_a_file(
    mlflow_store: Any,
    two_runs: tuple[str, str, str, str],
    snapshot_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a, _, _, _ = two_runs
    code, out, _ = run_cli(
        capsys, "env", "diff", a, str(snapshot_file), "--tracking-uri", mlflow_store.uri
    )
    assert code == 0
    assert out.strip() == "no differences"


def test_diff_errors(
    mlflow_store: Any, make_run: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = make_run("plain")
    uri = ("--tracking-uri", mlflow_store.uri)
    code, _, err = run_cli(capsys, "env", "diff", "nope.yml", plain, *uri)
    assert code == 2
    assert "neither an environment file nor a run id" in err
    code, _, err = run_cli(capsys, "env", "diff", plain, plain, *uri)
    assert code == 1
    assert "no environment snapshot" in err
    code, _, err = run_cli(capsys, "env", "diff", "0123456789abcdef0123456789abcdef", plain, *uri)
    assert code == 1
    code, _, err = run_cli(capsys, "env", "diff", "only-one")
    assert code == 2
    code, _, err = run_cli(capsys, "env", "diff", plain, plain, "--root-dir", str(tmp_path / "x"))
    assert code == 1
    assert "No MLflow store" in err


def test_check_clean_and_drift(
    snapshot_file: Path, edited_file: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "env", "check", str(snapshot_file))
    assert code == 0
    assert out.startswith("no drift")
    path, name, version = edited_file
    code, out, _ = run_cli(capsys, "env", "check", str(path))
    assert code == 1
    changes = [
        line.split()
        for line in out.splitlines()
        if line.startswith(("changed", "added", "removed"))
    ]
    assert changes == [["changed", "pip", name, "0.0.1", version]]
    code, out, _ = run_cli(capsys, "env", "check", str(path), "--format", "json")
    assert code == 1
    body = json.loads(out)
    assert (body["added"], body["removed"], body["drift"]) == ([], [], True)
    assert body["changed"] == [{"section": "pip", "name": name, "old": "0.0.1", "new": version}]


def test_check_a_hand_written_file_checks_only_what_it_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mlflow_version = next(p.version for p in take_snapshot().pip_packages if p.name == "mlflow")
    hand = tmp_path / "environment.yml"
    hand.write_text(f"name: x\ndependencies:\n  - pip\n  - pip:\n    - mlflow=={mlflow_version}\n")
    code, out, _ = run_cli(capsys, "env", "check", str(hand))
    assert code == 0
    assert "only the packages it lists" in out
    hand.write_text(
        "name: x\ndependencies:\n  - pip:\n    - mlflow==0.1\n    - not-installed-pkg==1\n"
    )
    code, out, _ = run_cli(capsys, "env", "check", str(hand))
    assert code == 1
    assert "not-installed-pkg" in out


@pytest.mark.parametrize(
    "argv",
    [["missing.yml"], ["{tmp}"], ["{tmp}/bad.yml"], ["{tmp}/ok.yml", "--prefix", "{tmp}/nowhere"]],
)
def test_check_usage_errors_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yml").write_text("just: text\n")
    (tmp_path / "ok.yml").write_text("name: x\ndependencies: []\n")
    code, out, err = run_cli(capsys, "env", "check", *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("jupyter mlops: error:")


def test_no_canary_in_any_output(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    mlflow_store: Any,
) -> None:
    canaries = plant_canaries(tmp_path, monkeypatch)
    outputs: dict[str, str] = {}
    code, outputs["stdout"], outputs["stderr"] = run_cli(capsys, "env", "snapshot")
    assert code == 0
    assert "canary-vcs-pkg" in outputs["stdout"]
    target = tmp_path / "written"
    target.mkdir()
    code, outputs["-o"], outputs["-o err"] = run_cli(capsys, "env", "snapshot", "-o", str(target))
    assert code == 0
    for path in target.iterdir():
        outputs[path.name] = path.read_text()
    code, outputs["req"], _ = run_cli(capsys, "env", "snapshot", "--requested-only")
    env_file = target / "environment.yml"
    tracker = Tracker(mlflow_store.uri, tmp_path / "spool", flush_interval=0.05)
    try:
        run_id = tracker.start_run(experiment="canary").run_id
        tracker.end_run()
    finally:
        tracker.close()
    for label, argv in {
        "diff": ["diff", run_id, str(env_file), "--tracking-uri", mlflow_store.uri],
        "diff json": [
            "diff",
            str(env_file),
            run_id,
            "--format",
            "json",
            "--tracking-uri",
            mlflow_store.uri,
        ],
        "check": ["check", str(env_file)],
        "check json": ["check", str(env_file), "--format", "json"],
    }.items():
        code, outputs[label], outputs[label + " err"] = run_cli(capsys, "env", *argv)
        assert code == 0, outputs[label + " err"]
    monkeypatch.syspath_prepend(str(tmp_path / "more"))  # drift: a new package since
    write_dist(
        tmp_path / "more",
        "later-pkg",
        "1.0",
        url=f"https://u:{canaries.values['url only']}@h/x.git",
        vcs_info={"vcs": "git", "commit_id": "b" * 40},
    )
    code, outputs["drift"], outputs["drift err"] = run_cli(capsys, "env", "check", str(env_file))
    assert code == 1
    assert "later-pkg" in outputs["drift"]
    assert leaks(canaries, **outputs) == []
