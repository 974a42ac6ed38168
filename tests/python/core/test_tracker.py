"""``Tracker`` against a real SQLite MLflow store."""

from __future__ import annotations

import faulthandler
import json
import math
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.tracking.tracker import Tracker
from jupyter_mlops.exceptions import InvalidValueError, RunStateError, UsageError


def test_round_trip_with_context_tags(
    mlflow_store: Any, make_tracker: Callable[..., Tracker]
) -> None:
    tracker = make_tracker(project="retention")
    info = tracker.start_run(
        experiment="churn",
        run_name="baseline",
        tags={"epic": "MLOPS-12"},
        params={"n_estimators": 200, "layers": [64, 32]},
        notebook="notebooks/churn.ipynb",
    )
    assert tracker.active == info
    assert info.experiment_name == "churn"
    assert info.run_name == "baseline"
    assert info.tracking_uri == mlflow_store.uri
    tracker.log_metric("acc", 0.5, step=1)
    tracker.log_metric("acc", 0.75, step=2, timestamp=1_700_000_000_000)
    tracker.log_metrics({"loss": 0.25, "f1": 1}, step=2)
    tracker.log_param("lr", 0.01)
    tracker.log_param("lr", 0.01)  # the same value again is fine
    tracker.set_tag("dataset", "v3")
    tracker.set_tags({"dataset": "v4", "owner": "ml"})
    assert tracker.end_run() == info
    assert tracker.active is None

    client = mlflow_store.client
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "churn"
    assert run.data.params == {"n_estimators": "200", "layers": "[64, 32]", "lr": "0.01"}
    assert run.data.metrics == {"acc": 0.75, "loss": 0.25, "f1": 1.0}
    tags = run.data.tags
    assert tags["epic"] == "MLOPS-12"
    assert tags["dataset"] == "v4"
    assert tags["owner"] == "ml"
    assert tags["mlops.project"] == "retention"
    assert tags["mlflow.source.name"] == "notebooks/churn.ipynb"
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlflow.runName"] == "baseline"
    assert {"mlflow.user", "mlops.host", "mlops.pid"} <= set(tags)
    history = client.get_metric_history(info.run_id, "acc")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.5), (2, 0.75)]
    assert 1_700_000_000_000 in {m.timestamp for m in history}
    assert list(tracker.spool_dir.glob("*.jsonl")) == []  # delivered spools are deleted


def test_run_state_errors(tracker: Tracker) -> None:
    with pytest.raises(RunStateError, match="No active run") as raised:
        tracker.log_metric("acc", 1.0)
    assert "start" in str(raised.value.hint)
    with pytest.raises(RunStateError):
        tracker.end_run()
    info = tracker.start_run(experiment="states")
    with pytest.raises(RunStateError, match="already active") as raised:
        tracker.start_run(experiment="states")
    assert "%mlops end" in str(raised.value.hint)
    assert raised.value.run_id == info.run_id
    with pytest.raises(InvalidValueError, match="Unknown run status"):
        tracker.end_run("DONE")
    assert tracker.end_run("failed").run_id == info.run_id


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"ok": 1.0, "bad": "0.9"}, "'bad' must be a real number"),
        ({"ok": 1.0, "flag": True}, "'flag' must be a real number"),
        ({"ok": 1.0, "a\nb": 1.0}, "Invalid metric key"),
        ({"ok": 1.0, "../up": 1.0}, "plain relative path"),
        ({"ok": 1.0, "": 1.0}, "plain relative path"),
        ({"ok": 1.0, "k" * 251: 1.0}, "limit is 250"),
        ({"ok": 1.0, "big": 10**400}, "not a 64-bit float"),
    ],
)
def test_log_metrics_is_all_or_nothing(
    mlflow_store: Any, tracker: Tracker, metrics: dict[str, Any], message: str
) -> None:
    info = tracker.start_run(experiment="validation")
    with pytest.raises(InvalidValueError, match=message):
        tracker.log_metrics(metrics)
    assert tracker.pending_count() == 0
    tracker.end_run()
    assert mlflow_store.client.get_run(info.run_id).data.metrics == {}


def test_special_values_and_steps(mlflow_store: Any, tracker: Tracker) -> None:
    import numpy as np

    info = tracker.start_run(experiment="values")
    tracker.log_metric("nan", float("nan"))
    tracker.log_metric("inf", float("inf"))
    tracker.log_metric("np", np.float32(0.5), step=np.int64(3))  # type: ignore[arg-type]
    tracker.log_metric("int", 7, step=-1)
    with pytest.raises(InvalidValueError, match="Step of metric 'x' must be an integer"):
        tracker.log_metric("x", 1.0, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"\.item\(\)"):
        tracker.log_metric("x", np.array([1.0, 2.0]))  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=">= 0"):
        tracker.log_metric("x", 1.0, timestamp=-5)
    tracker.end_run()
    metrics = mlflow_store.client.get_run(info.run_id).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["inf"] == 1.7976931348623157e308  # MLflow's own storage of +inf
    assert metrics["np"] == 0.5
    assert metrics["int"] == 7.0
    [point] = mlflow_store.client.get_metric_history(info.run_id, "np")
    assert point.step == 3


def test_params_are_immutable(mlflow_store: Any, tracker: Tracker) -> None:
    info = tracker.start_run(experiment="params", params={"lr": 0.1})
    tracker.log_param("lr", "0.1")  # same text: fine
    with pytest.raises(InvalidValueError, match=r"'lr' was already logged as '0\.1'") as raised:
        tracker.log_param("lr", 0.2)
    assert raised.value.run_id == info.run_id
    with pytest.raises(InvalidValueError):
        tracker.log_params({"epochs": 3, "lr": 0.3})  # nothing partial: epochs not logged
    with pytest.raises(InvalidValueError, match="6000"):
        tracker.log_param("blob", "x" * 6001)
    with pytest.raises(InvalidValueError, match="Invalid param key"):
        tracker.log_param("bad key!", 1)
    tracker.end_run()
    assert mlflow_store.client.get_run(info.run_id).data.params == {"lr": "0.1"}


def test_invalid_start_input_creates_nothing(mlflow_store: Any, tracker: Tracker) -> None:
    with pytest.raises(InvalidValueError):
        tracker.start_run(experiment="nothing", params={"ok": 1, "bad/": 2})
    assert tracker.active is None
    assert mlflow_store.client.get_experiment_by_name("nothing") is None


def test_experiment_defaults(
    mlflow_store: Any, tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    assert tracker.start_run().experiment_name == "from-env"
    tracker.end_run()
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    assert tracker.start_run(notebook="sub/train-model.ipynb").experiment_name == "train-model"
    tracker.end_run()
    deleted = mlflow_store.client.create_experiment("gone")
    mlflow_store.client.delete_experiment(deleted)
    with pytest.raises(UsageError, match="deleted"):
        tracker.start_run(experiment="gone")


def test_end_run_works_when_the_writer_thread_is_gone(mlflow_store: Any, tracker: Tracker) -> None:
    info = tracker.start_run(experiment="no-writer")
    spool = tracker._spool
    assert spool is not None
    spool.stop_writer()
    assert not spool.writer_alive
    for step in range(100):
        tracker.log_metric("m", float(step), step=step)
    tracker.end_run()
    assert len(mlflow_store.client.get_metric_history(info.run_id, "m")) == 100


def test_writer_delivers_without_flush(mlflow_store: Any, tracker: Tracker) -> None:
    info = tracker.start_run(experiment="background")
    tracker.log_metric("m", 1.0)
    deadline = time.monotonic() + 20
    while not mlflow_store.client.get_metric_history(info.run_id, "m"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    tracker.end_run()


def test_interpreter_exit_flushes_and_finishes_the_run(
    mlflow_store: Any, spool_dir: Path, run_python: Callable[..., Any]
) -> None:
    out = run_python(
        f"""
        from jupyter_mlops.core.tracking.tracker import Tracker
        tracker = Tracker({mlflow_store.uri!r}, {str(spool_dir)!r}, flush_interval=60)
        info = tracker.start_run(experiment="atexit")
        for step in range(500):
            tracker.log_metric("m", float(step), step=step)
        print(info.run_id)
        """
    ).stdout
    run_id = out.split()[-1]
    run = mlflow_store.client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert len(mlflow_store.client.get_metric_history(run_id, "m")) == 500
    assert list(spool_dir.glob("*.jsonl")) == []


RACER = """
import json, sys, time
from pathlib import Path
from jupyter_mlops.core.tracking.store import get_client
from jupyter_mlops.core.tracking.tracker import Tracker
uri, spool, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
get_client(uri).search_experiments()  # imports and connections done before the race
tracker = Tracker(uri, Path(spool), flush_interval=60)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
info = tracker.start_run(experiment="race")
print(json.dumps([info.experiment_id, info.run_id]))
"""


def test_concurrent_experiment_creation_yields_one_experiment(
    mlflow_store: Any, spool_dir: Path, tmp_path: Path, child_env: dict[str, str]
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(RACER),
                mlflow_store.uri,
                str(spool_dir),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env,
        )
        for _ in range(3)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert len({experiment_id for experiment_id, _ in results}) == 1
    assert len({run_id for _, run_id in results}) == 3
    names = [e.name for e in mlflow_store.client.search_experiments() if e.name == "race"]
    assert names == ["race"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_logs_into_the_parents_run_without_ending_it(
    mlflow_store: Any, tracker: Tracker
) -> None:
    # Several runs, each forked right after its start and first log: threads of the parent
    # (environment job, writer) are often in SQLite or hold the tracker's lock at the fork;
    # the child must inherit neither.
    for _ in range(5):
        info = tracker.start_run(experiment="fork")
        tracker.log_metric("m", 0.0, step=0)
        pid = os.fork()
        if pid == 0:  # the child: a DataLoader worker, a multiprocessing fork, ...
            code = 1
            # a child blocked on an inherited lock prints where, and fails, in a minute
            faulthandler.dump_traceback_later(60, exit=True)
            try:
                tracker.log_metric("m", 1.0, step=1)
                tracker.close()  # what the child's atexit does: flush only, the run is the parent's
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert tracker.active == info
        assert mlflow_store.client.get_run(info.run_id).info.status == "RUNNING"
        tracker.end_run()
        steps = sorted(m.step for m in mlflow_store.client.get_metric_history(info.run_id, "m"))
        assert steps == [0, 1]


def test_an_experiment_name_mlflow_refuses_is_a_value_error(tracker: Tracker) -> None:
    with pytest.raises(InvalidValueError):
        tracker.start_run(experiment="x" * 501)
    assert tracker.active is None


def test_artifacts_go_beside_the_sqlite_store_not_the_working_directory(
    make_tracker: Any, mlflow_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel in a subfolder must not scatter ``mlruns/`` folders next to its notebooks."""
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    tracker = make_tracker()
    info = tracker.start_run(experiment="artifacts-here")
    tracker.end_run()
    location = mlflow_store.client.get_experiment(info.experiment_id).artifact_location
    assert location.startswith((mlflow_store.path.parent / "mlruns").as_uri())
    assert not (elsewhere / "mlruns").exists()
