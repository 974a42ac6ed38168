"""The server replays the spools of dead kernels and ends their runs: none stays RUNNING."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def killed_run(mlflow_store: Any, tmp_path: Path) -> tuple[str, int]:
    """A process that logged metrics, printed how many were acknowledged, then was SIGKILLed."""
    spool = Path(os.environ["JUPYTER_MLOPS_SPOOL_DIR"])
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from jupyter_mlops.core.tracking.tracker import Tracker
        tracker = Tracker({mlflow_store.uri!r}, Path({str(spool)!r}), flush_interval=3600)
        info = tracker.start_run(experiment="killed")
        for step in range(500):
            tracker.log_metric("loss", 1.0 / (step + 1), step=step)
        print(info.run_id, 500, flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    run_id, acked = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return run_id, int(acked)


@pytest.fixture
def jp_server_config(jp_server_config: Any, killed_run: tuple[str, int]) -> Any:
    """The run is orphaned before the server starts."""
    return jp_server_config


async def test_server_recovers_runs_of_killed_kernels(
    jp_serverapp: Any, mlflow_store: Any, killed_run: tuple[str, int]
) -> None:
    run_id, acked = killed_run
    # what ServerApp.start_ioloop schedules once the loop runs (pytest-jupyter does not):
    # the extension's start hook, whose sweep must do it; nothing here calls recovery
    await jp_serverapp._post_start()
    deadline = time.monotonic() + 60
    while mlflow_store.client.get_run(run_id).info.status == "RUNNING":
        assert time.monotonic() < deadline, "the run of the killed process stayed RUNNING"
        await asyncio.sleep(0.2)
    assert mlflow_store.client.get_run(run_id).info.status == "KILLED"
    history = mlflow_store.client.get_metric_history(run_id, "loss")
    assert len(history) == acked
