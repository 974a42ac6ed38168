"""``%mlops env`` in a real IPython shell against a real SQLite MLflow store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from changed_env import log_changed_environment
from child_python import last_line
from env_canaries import leaks, plant_canaries
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

from jupyter_mlops.core import tags
from jupyter_mlops.core.environment import content_hash, take_snapshot
from jupyter_mlops.exceptions import MlopsError, UsageError
from jupyter_mlops.kernel import api
from jupyter_mlops.kernel.magics import MlopsMagicError

NOTEBOOK = "notebooks/train model.ipynb"


@pytest.fixture(autouse=True)
def _in_a_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This kernel runs NOTEBOOK; MLflow's ./mlruns artifacts land in the test's folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK", NOTEBOOK)


def magic(ip: InteractiveShell, capsys: pytest.CaptureFixture[str], line: str) -> str:
    ip.run_line_magic("mlops", line)
    return capsys.readouterr().out


def failing(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str], line: str
) -> tuple[MlopsError, str]:
    with pytest.raises(MlopsMagicError) as raised:
        ip.run_line_magic("mlops", line)
    return raised.value.error, capsys.readouterr().out


def tracked_run(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> str:
    magic(ip, capsys, "start --experiment env")
    info = api.active_run()
    assert info is not None
    magic(ip, capsys, "end")
    return info.run_id


def run_with_changed_package(store: str) -> tuple[str, str, str]:
    """A newer run of NOTEBOOK whose environment has one package at 0.0.1: (run id, name, version)."""
    client = MlflowClient(store)
    run_id, name, version = log_changed_environment(client, "env", {tags.NOTEBOOK: NOTEBOOK})
    client.set_terminated(run_id)
    return run_id, name, version


def changes(text: str) -> list[list[str]]:
    return [
        line.split()
        for line in text.splitlines()
        if line.startswith(("changed", "added", "removed"))
    ]


def test_bare_env_shows_summary_and_drift_from_the_last_run(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    current = take_snapshot()
    out = magic(ip, capsys, "env")
    assert f"Environment of this kernel: {sys.prefix}" in out
    count = len(current.conda_packages) + len(current.pip_packages)
    assert f"Python {current.python_version}, {count} packages" in out
    assert f"content hash {content_hash(current)}" in out
    assert f"No earlier run of {NOTEBOOK} has an environment snapshot yet." in out

    run_id = tracked_run(ip, capsys)
    out = magic(ip, capsys, "env")
    assert f"Drift from the last run of {NOTEBOOK} (run {run_id}):" in out
    assert "no differences" in out

    newer, name, version = run_with_changed_package(store)
    out = magic(ip, capsys, "env")
    assert f"(run {newer})" in out
    header = next(line for line in out.splitlines() if line.startswith("change"))
    assert header.split() == ["change", "section", "package", "run", newer[:8], "current"]
    assert changes(out) == [["changed", "pip", name, "0.0.1", version]]


def test_outside_a_notebook_there_is_nothing_to_compare(
    ip: InteractiveShell,
    store: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_NOTEBOOK")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    out = magic(ip, capsys, "env")
    assert "Not running in a notebook" in out


def test_check_fails_the_cell_on_drift(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = magic(ip, capsys, f"env snapshot -o {tmp_path}/saved.yml")
    assert "saved.yml" in out
    out = magic(ip, capsys, f"env check {tmp_path}/saved.yml")
    assert "no differences" in out
    text = (tmp_path / "saved.yml").read_text()
    line = next(x for x in text.splitlines() if x.startswith("      - mlflow=="))
    (tmp_path / "edited.yml").write_text(text.replace(line, "      - mlflow==0.0.1"))
    error, out = failing(ip, capsys, f"env check {tmp_path}/edited.yml")
    assert "drifted" in error.message
    assert changes(out) == [["changed", "pip", "mlflow", "0.0.1", line.split("==")[1]]]
    result = ip.run_cell(f"%mlops env check {tmp_path}/edited.yml")
    assert not result.success

    tracked_run(ip, capsys)
    assert "no differences" in magic(ip, capsys, "env check")  # against the last run
    _, name, version = run_with_changed_package(store)
    error, out = failing(ip, capsys, "env check")
    assert changes(out) == [["changed", "pip", name, "0.0.1", version]]


def test_diff_two_runs_a_run_and_files(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = tracked_run(ip, capsys)
    second, name, version = run_with_changed_package(store)
    out = magic(ip, capsys, f"env diff {first} {second}")
    assert changes(out) == [["changed", "pip", name, version, "0.0.1"]]
    out = magic(ip, capsys, f"env diff {second}")  # against this kernel
    assert changes(out) == [["changed", "pip", name, "0.0.1", version]]
    magic(ip, capsys, f"env snapshot -o {tmp_path}/a")
    out = magic(ip, capsys, f"env diff {tmp_path}/a {first}")
    assert "no differences" in out


def test_snapshot_prints_environment_yml(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = magic(ip, capsys, "env snapshot --requested-only")
    assert out.startswith("# jupyter-mlops environment snapshot\n# kind: requested-only")
    magic(ip, capsys, f"env snapshot -o {tmp_path}/out")
    assert (tmp_path / "out").is_file()
    assert (tmp_path / "platform.yml").is_file()


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("env bogus", ["invalid choice", "bogus"]),
        ("env snapshot extra", ["takes no run or file"]),
        ("env diff", ["one or two"]),
        ("env diff a b c", ["one or two"]),
        ("env check a b", ["one file or run"]),
        ("env diff nothing-here.yml", ["neither an environment file nor a run id"]),
    ],
)
def test_usage_errors(
    ip: InteractiveShell,
    store: str,
    capsys: pytest.CaptureFixture[str],
    line: str,
    words: list[str],
) -> None:
    error, _ = failing(ip, capsys, line)
    assert isinstance(error, UsageError)
    for word in words:
        assert word in str(error)


def test_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    assert "env" in magic(ip, capsys, "--help")
    out = magic(ip, capsys, "env --help")
    assert out.startswith("usage: %mlops env")
    for word in ("snapshot", "diff", "check", tags.ENV_HASH, "%mlops env check environment.yml"):
        assert word in out


def test_no_canary_in_magic_output(
    ip: InteractiveShell,
    store: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    canaries = plant_canaries(tmp_path, monkeypatch)
    outputs = {"bare before": magic(ip, capsys, "env")}
    run_id = tracked_run(ip, capsys)
    outputs["bare"] = magic(ip, capsys, "env")
    outputs["snapshot"] = magic(ip, capsys, "env snapshot")
    assert "canary-vcs-pkg" in outputs["snapshot"]
    outputs["written"] = magic(ip, capsys, f"env snapshot -o {tmp_path}/w/")
    for path in (tmp_path / "w").iterdir():
        outputs[path.name] = path.read_text()
    outputs["diff"] = magic(ip, capsys, f"env diff {run_id} {tmp_path}/w")
    outputs["check"] = magic(ip, capsys, "env check")
    run = MlflowClient(store).get_run(run_id)
    outputs["tags"] = json.dumps(run.data.tags)
    assert leaks(canaries, **outputs) == []


def test_load_ext_stays_light(child_env: dict[str, str]) -> None:
    script = (
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'jupyter_mlops')\n"
        "shell.run_line_magic('mlops', 'env --help')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('mlflow', 'yaml') "
        "or m.startswith(('jupyter_mlops.core.environment.', 'jupyter_mlops.core.environment.run_record')))\n"
        "print(json.dumps(heavy))\n"
    )
    assert json.loads(last_line(script, env=child_env)) == []
