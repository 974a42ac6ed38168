"""A tracking store that goes away and comes back: one warning, nothing lost.

The outage is real: the folder holding the SQLite store is renamed, so
SQLite cannot create its journal and every write fails, exactly as with a
store on an unmounted or read-only volume; renaming it back restores it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from store_helpers import wait_for

from jupyter_mlops.core.tracking.tracker import Tracker
from jupyter_mlops.exceptions import StoreError


def test_outage_warns_once_keeps_spooling_and_delivers_later(
    mlflow_store: Any, tracker: Tracker, caplog: pytest.LogCaptureFixture
) -> None:
    info = tracker.start_run(experiment="outage")
    tracker.log_metric("loss", 1.0, step=0)
    tracker.flush()
    spool = tracker._spool
    assert spool is not None

    folder: Path = mlflow_store.path.parent
    moved = folder.with_name("store-away")
    caplog.set_level(logging.WARNING, logger="jupyter_mlops.spool")
    folder.rename(moved)
    try:
        for step in range(1, 6):
            tracker.log_metric("loss", 1.0 / (step + 1), step=step)  # acknowledged while down
        wait_for(lambda: spool.health.failures >= 3, timeout=20.0)  # the writer kept retrying
        tracker.log_metrics({"loss": 0.01, "acc": 0.99}, step=6)
        with pytest.raises(StoreError) as raised:
            tracker.flush(timeout=0.2)
        assert "not yet in the tracking store" in str(raised.value)
        assert str(spool.path) in str(raised.value.hint)
        assert tracker.pending_count() == 7
    finally:
        moved.rename(folder)

    tracker.flush(timeout=20)
    assert tracker.pending_count() == 0
    down = [r for r in caplog.records if "cannot deliver" in r.getMessage()]
    back = [r for r in caplog.records if "is reachable again;" in r.getMessage()]
    assert len(down) == 1
    assert len(back) == 1
    assert "Traceback" not in caplog.text

    tracker.end_run()
    client = mlflow_store.client
    history = sorted((m.step, m.value) for m in client.get_metric_history(info.run_id, "loss"))
    assert [step for step, _ in history] == list(range(7))
    assert client.get_run(info.run_id).data.metrics == {"loss": 0.01, "acc": 0.99}
    assert client.get_run(info.run_id).info.status == "FINISHED"


def test_end_run_during_outage_keeps_the_run_active(mlflow_store: Any, tracker: Tracker) -> None:
    info = tracker.start_run(experiment="outage-end")
    # the run's environment artifacts are written before the store goes away: the
    # outage is simulated by moving the store's folder, which they would recreate
    tracker.flush()
    folder: Path = mlflow_store.path.parent
    moved = folder.with_name("store-away")
    folder.rename(moved)
    try:
        tracker.log_metric("loss", 0.5)
        tracker.end_timeout = 0.2
        with pytest.raises(StoreError):
            tracker.end_run()
        assert tracker.active == info  # nothing lost, the user can end it again
    finally:
        moved.rename(folder)
    tracker.end_run()
    run = mlflow_store.client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"loss": 0.5}
