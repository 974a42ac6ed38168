"""Spools of dead processes are replayed; their runs never stay RUNNING."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.tracking.recovery import recover_orphans
from jupyter_mlops.core.tracking.spool import Spool
from jupyter_mlops.core.tracking.spool_format import SpoolMeta, format_metric, process_create_time
from jupyter_mlops.core.tracking.tracker import Tracker

CRASHER = """
import sys
from jupyter_mlops.core.tracking.tracker import Tracker
tracker = Tracker(sys.argv[1], sys.argv[2], flush_interval=0.02)
info = tracker.start_run(experiment="crash")
print(info.run_id, flush=True)
step = 0
while True:
    tracker.log_metric("m", float(step), step=step)
    print(step, flush=True)  # printed only once log_metric has returned: acknowledged
    step += 1
"""


def test_sigkilled_process_loses_no_acknowledged_metric(
    mlflow_store: Any, spool_dir: Path, tmp_path: Path, child_env: dict[str, str]
) -> None:
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(CRASHER), mlflow_store.uri, str(spool_dir)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=child_env,
        )
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        assert run_id, (tmp_path / "stderr.txt").read_text()
        last_acked = int(proc.stdout.readline())
        while last_acked < 3000:
            last_acked = int(proc.stdout.readline())
        # let the writer deliver a part, so the kill finds some points stored and some pending
        deadline = time.monotonic() + 60
        while not mlflow_store.client.get_metric_history(run_id, "m"):
            assert time.monotonic() < deadline, "the child's writer delivered nothing"
            time.sleep(0.01)
        proc.kill()
        rest = proc.stdout.read()  # what was printed before the kill, through the same buffer
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    complete = rest.split("\n")[:-1]  # the last piece may be a cut line
    last_acked = int(complete[-1]) if complete else last_acked

    # a write cut short by the kill: not acknowledged, must not break the replay
    spool_file = spool_dir / f"{run_id}.jsonl"
    with open(spool_file, "a") as f:
        f.write('["m","m",99')

    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"
    assert recover_orphans(spool_dir, tracking_uri=mlflow_store.uri) == [run_id]

    run = mlflow_store.client.get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None
    steps = [m.step for m in mlflow_store.client.get_metric_history(run_id, "m")]
    assert set(range(last_acked + 1)) <= set(steps)
    assert len(steps) == len(set(steps))  # no point twice, even if a chunk was resent
    assert not spool_file.exists()
    assert list(spool_dir.glob(f"{run_id}*")) == []


def _orphan(
    store: Any,
    spool_dir: Path,
    *,
    create_time: float,
    end_status: str | None = None,
    status_owner: tuple[int, float] | None = None,
) -> str:
    """A spool owned by "this pid, started at ``create_time``" with three metrics in it."""
    client = store.client
    found = client.get_experiment_by_name("orphans")
    exp_id = found.experiment_id if found else client.create_experiment("orphans")
    run_id: str = client.create_run(exp_id).info.run_id
    spool = Spool(spool_dir, run_id, store.uri, client=client)
    SpoolMeta(
        run_id=run_id,
        tracking_uri=store.uri,
        pid=os.getpid(),
        create_time=create_time,
        host=socket.gethostname(),
        created_ms=0,
        end_status=end_status,
        status_owner=status_owner,
    ).write(spool.meta_path)
    for step in range(3):
        spool.append(format_metric("m", float(step), 1000 + step, step))
    spool.close()
    return run_id


def test_a_pipeline_kernels_spool_leaves_the_status_to_its_live_executor(
    mlflow_store: Any, spool_dir: Path
) -> None:
    # a pipeline execution's kernel died; its executor (here: this process) still runs
    me = (os.getpid(), process_create_time())
    run_id = _orphan(mlflow_store, spool_dir, create_time=me[1] - 3600, status_owner=me)
    assert recover_orphans(spool_dir, tracking_uri=mlflow_store.uri) == [run_id]
    assert len(mlflow_store.client.get_metric_history(run_id, "m")) == 3  # delivered
    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"  # the executor's call
    assert not (spool_dir / f"{run_id}.jsonl").exists()


def test_a_pipeline_kernels_run_is_killed_once_its_executor_is_gone_too(
    mlflow_store: Any, spool_dir: Path
) -> None:
    gone = (os.getpid(), process_create_time() - 3600)  # pid reused: the executor is gone
    run_id = _orphan(mlflow_store, spool_dir, create_time=gone[1], status_owner=gone)
    assert recover_orphans(spool_dir, tracking_uri=mlflow_store.uri) == [run_id]
    assert mlflow_store.client.get_run(run_id).info.status == "KILLED"


def test_pid_reuse_is_detected_by_process_start_time(mlflow_store: Any, spool_dir: Path) -> None:
    # our pid, but a process that started long before us: the owner is gone, the pid reused
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time() - 1000)
    assert recover_orphans(spool_dir) == [run_id]
    assert mlflow_store.client.get_run(run_id).info.status == "KILLED"
    assert len(mlflow_store.client.get_metric_history(run_id, "m")) == 3


def test_spools_of_live_owners_are_left_alone(mlflow_store: Any, spool_dir: Path) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time())
    assert recover_orphans(spool_dir) == []
    assert (spool_dir / f"{run_id}.jsonl").exists()
    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"


def test_recorded_end_status_wins_over_killed(mlflow_store: Any, spool_dir: Path) -> None:
    run_id = _orphan(
        mlflow_store, spool_dir, create_time=process_create_time() - 1000, end_status="FINISHED"
    )
    assert recover_orphans(spool_dir, tracking_uri=mlflow_store.uri) == [run_id]
    assert mlflow_store.client.get_run(run_id).info.status == "FINISHED"


def test_a_new_tracker_recovers_orphans_at_start(
    mlflow_store: Any, spool_dir: Path, make_tracker: Callable[..., Tracker]
) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time() - 1000)
    make_tracker()  # waits for its start-up recovery
    assert mlflow_store.client.get_run(run_id).info.status == "KILLED"
    assert len(mlflow_store.client.get_metric_history(run_id, "m")) == 3
    assert not (spool_dir / f"{run_id}.meta.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_recovery_lock_of_a_dead_process_is_taken_over(
    mlflow_store: Any, spool_dir: Path, child_env: dict[str, str]
) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time() - 1000)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(spool_dir / ".recover.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    assert recover_orphans(spool_dir, wait=0) == []  # another recoverer is busy
    holder.kill()
    holder.wait(timeout=30)
    assert (spool_dir / ".recover.lock").exists()  # left behind by the dead process
    assert recover_orphans(spool_dir, wait=0) == [run_id]


def test_spools_from_other_hosts_are_not_touched(mlflow_store: Any, spool_dir: Path) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time() - 1000)
    meta_path = spool_dir / f"{run_id}.meta.json"
    meta = SpoolMeta.read(meta_path)
    assert meta is not None
    meta.host = "another-host.example"
    meta.write(meta_path)
    assert recover_orphans(spool_dir) == []
    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"


def test_meta_never_holds_uri_credentials(spool_dir: Path, mlflow_store: Any) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=time.time())
    spool = Spool.create(
        spool_dir / "other",
        run_id,
        "http://alice:s3cret@mlflow.example:5000",
        client=mlflow_store.client,
    )
    spool.stop_writer()
    text = spool.meta_path.read_text()
    assert "s3cret" not in text
    assert "mlflow.example:5000" in text
    spool.close(delete=True)


def test_orphan_of_a_deleted_sqlite_store_is_parked_not_recreated(
    mlflow_store: Any, spool_dir: Path, tmp_path: Path
) -> None:
    run_id = _orphan(mlflow_store, spool_dir, create_time=process_create_time() - 1000)
    meta_path = spool_dir / f"{run_id}.meta.json"
    meta = SpoolMeta.read(meta_path)
    assert meta is not None
    gone = tmp_path / "deleted-project" / "mlflow.db"
    meta.tracking_uri = f"sqlite:///{gone}"
    meta.write(meta_path)
    assert recover_orphans(spool_dir) == []
    assert not gone.parent.exists()  # no empty store created where the project was
    assert (spool_dir / "unrecoverable" / f"{run_id}.jsonl").exists()
    assert not meta_path.exists()
