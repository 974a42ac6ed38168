"""``jupyter mlops run`` in a subprocess: real kernels, papermill, a real SQLite MLflow store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from child_python import python
from notebooks import write_notebook

from jupyter_mlops.cli.main import COMMANDS, main
from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline import export_pipeline

PREP = "rows: int = 3\nseed = 1\n"
PREP_BODY = (
    "import os\nos.makedirs('data', exist_ok=True)\nopen('data/rows.txt', 'w').write(str(rows))"
)
TRAIN = "lr: float = 0.1\nseed = 1\n"
TRAIN_BODY = (
    "import jupyter_mlops\n"
    "n = int(open('data/rows.txt').read())\n"
    "jupyter_mlops.log_metric('score', lr * n)"
)
MODES = "mode = 'ok'\n"
MODES_BODY = (
    "import os, signal, time\n"
    "open('pid-' + mode, 'w').write(str(os.getpid()))\n"
    "if mode == 'fail':\n    raise ValueError('bad mode')\n"
    "if mode == 'die':\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    "if mode == 'sleep':\n    time.sleep(300)\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project: prep -> train exported to pipe/, and modes.ipynb that fails, dies or sleeps."""
    from jupyter_mlops.core.environment import take_snapshot

    folder = tmp_path / "project"
    write_notebook(
        folder / "prep.ipynb", PREP, [PREP_BODY], {MLOPS: {"outputs": ["data/rows.txt"]}}
    )
    write_notebook(
        folder / "train.ipynb", TRAIN, [TRAIN_BODY], {MLOPS: {"inputs": ["data/rows.txt"]}}
    )
    write_notebook(folder / "modes.ipynb", MODES, [MODES_BODY], {MLOPS: {}})
    snapshot = take_snapshot(requested_only=True)
    export_pipeline(["prep.ipynb", "train.ipynb"], "pipe", root=folder, snapshot=snapshot)
    return folder


MLOPS = "jupyter_mlops"


def cli_env(root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    return env


def run_cli(root: Path, *argv: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    module = ("-m", "jupyter_mlops.cli.main", "run")
    return python(*module, *argv, cwd=root, env=cli_env(root), timeout=timeout)


def store_runs(root: Path) -> dict[str, Any]:
    """Runs by name (the pipeline run as "PARENT") of every experiment in the project's store."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids)
    parent = [r for r in runs if r.data.tags.get(tags.RUN_TYPE) == "pipeline"]
    assert len(parent) == 1
    return {"PARENT": parent[0]} | {r.info.run_name: r for r in runs if r not in parent}


def test_registered_with_help() -> None:
    cmd = COMMANDS["run"]
    assert cmd.uses_store
    for spec in cmd.arguments:
        assert spec.options.get("help"), spec.flags


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pipe", "-p", "sed", "1"], "unknown parameter 'sed'"),
        (["pipe", "-p", "train.lr", "fast"], "expected a finite float"),
        (["pipe", "-p", "class", "1"], "is a Python keyword"),
        (["pipe", "--grid", "rows"], "expected NAME=V1,V2"),
        (["modes.ipynb", "--scheduler", "tcp://127.0.0.1:1"], "--executor dask"),
        (["../elsewhere.ipynb"], "outside the root"),
        (["missing.ipynb"], "cannot read notebook"),
        (["pipe", "-f", "nope.yaml"], "cannot read nope.yaml"),
        (["pipe", "--workers", "0"], "must be an integer from 1"),
        (["pipe", "--retries", "-1"], "must be an integer from 0 to 10"),
        (["pipe", "--retries", "11"], "must be an integer from 0 to 10"),
    ],
)
def test_usage_errors_run_nothing(
    root: Path,
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    code = main(["run", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert expected in err
    assert not (root / "mlflow.db").exists()
    assert not (root / "pipe" / "outputs").exists()
    if "sed" in argv:
        assert "valid parameters: prep.rows, prep.seed, train.lr, train.seed" in err


@pytest.mark.slow
def test_run_pipeline(root: Path) -> None:
    done = run_cli(root, "pipe", "-p", "rows", "4", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    assert [r["status"] for r in result["results"]] == ["FINISHED", "FINISHED"]
    assert result["trials"] == [{"prep": {"rows": 4}}]
    assert (root / "pipe" / "outputs" / "train.ipynb").is_file()
    runs = store_runs(root)
    assert runs["PARENT"].info.status == "FINISHED"
    assert runs["PARENT"].info.run_id == result["run_id"]
    assert runs["train"].data.tags["mlflow.parentRunId"] == result["run_id"]
    assert runs["train"].data.metrics["score"] == pytest.approx(0.4)
    assert runs["prep"].data.params["rows"] == "4"


@pytest.mark.slow
def test_grid_sweep_on_two_workers(root: Path) -> None:
    done = run_cli(root, "pipe", "--grid", "lr=0.1,0.3", "--workers", "2", "--sort", "score")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["TRIAL", "STEP", "PARAMS", "STATUS"]
    assert "score=0.9" in lines[1]  # highest score first
    assert "lr=0.3" in lines[1]
    runs = store_runs(root)
    assert set(runs) == {"PARENT", "prep-t0", "prep-t1", "train-t0", "train-t1"}
    assert {r.info.status for r in runs.values()} == {"FINISHED"}
    (stamp,) = (root / "pipe" / "runs").iterdir()
    for trial in ("t0", "t1"):
        assert (stamp / trial / "outputs" / "train.ipynb").is_file()
        assert (stamp / trial / "data" / "rows.txt").is_file()
        assert (stamp / trial / "notebooks" / "train.ipynb").is_symlink()
    lrs = {
        yaml.safe_load((stamp / t / "params.yaml").read_text())["train"]["lr"] for t in ("t0", "t1")
    }
    assert lrs == {0.1, 0.3}


@pytest.mark.slow
def test_dask_local_cluster_sweep(root: Path) -> None:
    pytest.importorskip("distributed")
    (root / "sets.yaml").write_text(yaml.safe_dump([{"lr": 0.2}, {"train": {"lr": 0.5}}]))
    done = run_cli(
        root, "pipe", "-f", "sets.yaml", "--executor", "dask", "--workers", "2", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    assert len(result["results"]) == 4
    runs = store_runs(root)
    assert runs["train-t1"].data.metrics["score"] == pytest.approx(1.5)
    assert {r.info.status for r in runs.values()} == {"FINISHED"}


@pytest.mark.slow
def test_dask_remote_scheduler(root: Path) -> None:
    """A scheduler the runner did not start (a team's cluster): reached by address."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        done = run_cli(
            root,
            "pipe",
            "--grid",
            "train.lr=0.2,0.5",
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            "--format",
            "json",
        )
        assert done.returncode == 0, done.stderr
        assert len(cluster.scheduler.workers) == 1  # its worker is still there: not ours to stop
    result = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    assert len(result["results"]) == 4
    runs = store_runs(root)
    assert runs["train-t1"].data.metrics["score"] == pytest.approx(1.5)


@pytest.mark.slow
def test_failing_and_dying_notebooks(root: Path) -> None:
    done = run_cli(
        root, "modes.ipynb", "--grid", "mode=fail,die", "--workers", "2", "--format", "json"
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILED"
    fail, die = result["results"]
    assert (fail["status"], fail["reason"]) == ("FAILED", "cell_error")
    assert "bad mode" in fail["error"]
    assert Path(fail["output"]).is_file()  # the output notebook is kept
    assert die["status"] == "KILLED"
    assert die["reason"] == "kernel_died"
    runs = store_runs(root)
    assert runs["PARENT"].info.status == "FAILED"
    assert runs["modes-t0"].info.status == "FAILED"
    assert runs["modes-t1"].info.status == "KILLED"


@pytest.mark.slow
def test_timeout_kills(root: Path) -> None:
    done = run_cli(root, "modes.ipynb", "-p", "mode", "sleep", "--timeout", "10")
    assert done.returncode == 1, done.stderr
    assert "KILLED (timeout)" in done.stdout
    runs = store_runs(root)
    assert runs["PARENT"].info.status == "KILLED"
    assert runs["modes"].info.status == "KILLED"
    assert runs["modes"].data.tags[tags.STATUS_REASON] == "timeout"


@pytest.mark.slow
def test_interrupt_marks_runs_killed(root: Path) -> None:
    import psutil

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mlops.cli.main",
            "run",
            "modes.ipynb",
            "-p",
            "mode",
            "sleep",
        ],
        cwd=root,
        env=cli_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = root / "pid-sleep"
    deadline = time.monotonic() + 120
    while not pid_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pid_file.exists(), proc.communicate()[1]
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kernel = int(pid_file.read_text())
    if psutil.pid_exists(kernel):
        _, alive = psutil.wait_procs([psutil.Process(kernel)], timeout=10)
        assert not alive
    runs = store_runs(root)
    assert {r.info.status for r in runs.values()} == {"KILLED"}


def pipeline_runs(root: Path) -> list[Any]:
    """The pipeline (parent) runs in the project's store, oldest first."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, f"tags.`{tags.RUN_TYPE}` = 'pipeline'")
    return sorted(runs, key=lambda r: r.info.start_time)


@pytest.mark.slow
def test_cache_force_and_resume(root: Path) -> None:
    first = run_cli(root, "pipe", "--format", "json")
    assert first.returncode == 0, first.stderr
    sources = [r["run_id"] for r in json.loads(first.stdout)["executions"]]
    again = run_cli(root, "pipe")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("FINISHED (cached)") == 2
    assert f"prep t0: FINISHED (cached: run {sources[0]})" in again.stderr
    assert "cell " not in again.stderr  # no live lines without a terminal
    forced = run_cli(root, "pipe", "--force", "--format", "json")
    assert [r["reason"] for r in json.loads(forced.stdout)["results"]] == [None, None]

    parents = pipeline_runs(root)
    assert len(parents) == 3
    for bad, message in ((sources[0], "is not a pipeline run"), ("f" * 32, "no run")):
        done = run_cli(root, "pipe", "--resume", bad)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "the parent of the step runs" in done.stderr
    assert len(pipeline_runs(root)) == 3  # nothing stored
    resumed = run_cli(root, "pipe", "--resume", parents[0].info.run_id, "--force")
    assert resumed.returncode == 0, resumed.stderr
    last = pipeline_runs(root)[-1]
    assert last.data.tags[tags.PIPELINE_RESUMED_FROM] == parents[0].info.run_id


@pytest.mark.slow
def test_retries_and_live_lines_on_a_terminal(root: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    body = (
        "import pathlib, time\n"
        "p = pathlib.Path('count')\n"
        "p.write_text(str(int(p.read_text() if p.exists() else 0) + 1))\n"
        "for i in range(4):\n"
        "    print(f'tick {i}', flush=True)\n"
        "    time.sleep(0.8)\n"
        "if p.read_text() == '1':\n"
        "    raise RuntimeError('first attempt fails')\n"
    )
    write_notebook(root / "flaky.ipynb", "n = 1\n", [body, "time.sleep(2)"], {MLOPS: {}})
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    argv = [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "flaky.ipynb"]
    argv += ["--retries", "1", "--retry-on-error"]
    proc = subprocess.Popen(
        argv, cwd=root, env=cli_env(root), stdout=subprocess.PIPE, stderr=secondary
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    out = proc.communicate(timeout=240)[0].decode()
    os.close(primary)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, terminal[-3000:]
    assert "FINISHED (attempt 2)" in out
    assert "attempt 1 FAILED (cell_error: RuntimeError: first attempt fails)" in terminal
    assert "retrying as attempt 2" in terminal
    assert "flaky  cell 2/3  tick" in terminal  # the running execution's status line
    assert "flaky  cell 3/3  tick 3" in terminal


def test_cli_retry_limit_is_the_launch_limit() -> None:
    from jupyter_mlops.cli import run
    from jupyter_mlops.core.pipeline.model import MAX_RETRIES

    assert run.MAX_RETRIES == MAX_RETRIES
