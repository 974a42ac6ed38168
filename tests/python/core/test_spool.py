"""The spool file, its committed offset and delivery into a real SQLite MLflow store."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import Metric

from jupyter_mlops.core.tracking.delivery import BatchSender, SqliteFastSender, make_sender
from jupyter_mlops.core.tracking.spool import Spool
from jupyter_mlops.core.tracking.spool_format import (
    format_metric,
    format_param,
    format_tag,
    parse_line,
)

INF = float("inf")
NAN = float("nan")


def _new_run(store: Any, experiment: str = "spool-tests") -> str:
    client = store.client
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    run_id: str = client.create_run(exp_id).info.run_id
    return run_id


def _new_spool(store: Any, spool_dir: Path) -> tuple[str, Spool]:
    """A new run and a spool of it without a writer thread."""
    run_id = _new_run(store)
    return run_id, Spool(spool_dir, run_id, store.uri, client=store.client)


def _history(client: Any, run_id: str, key: str) -> list[tuple[int, int, float, bool]]:
    points = client.get_metric_history(run_id, key)
    return sorted(
        (m.step, m.timestamp, 0.0 if math.isnan(m.value) else m.value, math.isnan(m.value))
        for m in points
    )


def _latest(client: Any, run_id: str) -> dict[str, tuple[float, bool]]:
    metrics = client.get_run(run_id).data.metrics
    return {k: (0.0 if math.isnan(v) else v, math.isnan(v)) for k, v in metrics.items()}


def test_lines_round_trip() -> None:
    assert parse_line(format_metric("a/b c:d", 0.25, 17, 3).encode()[:-1]) == (
        "m",
        "a/b c:d",
        0.25,
        17,
        3,
    )
    assert parse_line(format_metric("ü", -INF, 1, -2).encode()[:-1]) == ("m", "ü", -INF, 1, -2)
    record = parse_line(format_metric("k", NAN, 1, 0).encode()[:-1])
    assert math.isnan(record[2])
    text = 'quote " and \\ and\nnewline'
    assert parse_line(format_param("p", text).encode()[:-1]) == ("p", "p", text)
    assert parse_line(format_tag("t", "v").encode()[:-1]) == ("t", "t", "v")
    with pytest.raises(ValueError, match="spool record"):
        parse_line(b'["x", 1]')


def test_append_deliver_and_commit_offset(mlflow_store: Any, spool_dir: Path) -> None:
    run_id, spool = _new_spool(mlflow_store, spool_dir)
    spool.append(format_metric("loss", 1.5, 1000, 0))
    spool.append(format_metric("loss", 0.5, 1001, 1) + format_param("lr", "0.1"))
    spool.append(format_tag("stage", "train"))
    size = spool.path.stat().st_size
    assert spool.committed == 0
    assert spool.pending() == 4

    assert spool.deliver() is True
    assert spool.committed == size
    assert spool.offset_path.read_text() == str(size)
    assert spool.pending() == 0
    run = mlflow_store.client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"}
    assert run.data.tags["stage"] == "train"
    assert _history(mlflow_store.client, run_id, "loss") == [
        (0, 1000, 1.5, False),
        (1, 1001, 0.5, False),
    ]
    spool.close()

    reopened = Spool(spool_dir, run_id, mlflow_store.uri, client=mlflow_store.client)
    assert reopened.committed == size  # the sidecar survives the process
    reopened.close(delete=True)
    assert not reopened.path.exists()
    assert not reopened.offset_path.exists()


def test_torn_trailing_line_waits_for_its_end(mlflow_store: Any, spool_dir: Path) -> None:
    run_id, spool = _new_spool(mlflow_store, spool_dir)
    spool.append(format_metric("acc", 0.5, 1000, 0))
    complete = spool.path.stat().st_size
    line = format_metric("acc", 0.75, 1001, 1).encode()
    fd = os.open(spool.path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, line[:9])  # a write cut short by a crash
    assert spool.deliver() is True
    assert spool.committed == complete
    assert len(mlflow_store.client.get_metric_history(run_id, "acc")) == 1

    os.write(fd, line[9:])
    os.close(fd)
    assert spool.deliver() is True
    assert spool.committed == spool.path.stat().st_size
    assert [m.value for m in mlflow_store.client.get_metric_history(run_id, "acc")] == [0.5, 0.75]
    spool.close(delete=True)


def test_unreadable_line_is_set_aside_and_the_rest_delivered(
    mlflow_store: Any, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id, spool = _new_spool(mlflow_store, spool_dir)
    spool.append(format_metric("a", 1.0, 1000, 0))
    spool.append('["m","a",2.0,10["m","a",3.0,1002,2]\n')
    spool.append(format_metric("a", 4.0, 1003, 3))
    with caplog.at_level(logging.WARNING, logger="jupyter_mlops.spool"):
        assert spool.deliver() is True
    assert [m.value for m in mlflow_store.client.get_metric_history(run_id, "a")] == [1.0, 4.0]
    assert spool.rejected_path.read_text().count("\n") == 1
    assert "rejected 1 record" in caplog.text
    spool.close(delete=True)
    assert spool.rejected_path.exists()  # kept for the user


POINTS = [
    ("loss", 1.0, 1000, 0),
    ("loss", 0.5, 1001, 1),
    ("loss", 0.5, 1001, 1),  # identical point: stored once
    ("loss", 0.7, 1002, 1),  # same step, later timestamp
    ("loss", 0.9, 999, 0),  # out of order
    ("acc", NAN, 1000, 5),
    ("acc", 0.1, 1000, 4),
    ("big", INF, 1000, 0),
    ("big", -INF, 1000, 0),
    ("neg", -3.0, 1000, -1),
]


def _spool_points(spool: Spool, points: list[tuple[str, float, int, int]]) -> None:
    for key, value, ts, step in points:
        spool.append(format_metric(key, value, ts, step))


@pytest.mark.parametrize("second_batch", [False, True])
def test_fast_path_leaves_the_store_as_log_batch_does(
    mlflow_store: Any, spool_dir: Path, second_batch: bool
) -> None:
    client = mlflow_store.client
    ours, theirs = _new_run(mlflow_store), _new_run(mlflow_store)
    spool = Spool(spool_dir, ours, mlflow_store.uri, client=client)
    assert isinstance(make_sender(client), SqliteFastSender)
    batches = [POINTS[:5], POINTS[5:]] if second_batch else [POINTS]
    for batch in batches:  # a second delivery exercises the latest_metrics update path
        _spool_points(spool, batch)
        assert spool.deliver() is True
        client.log_batch(theirs, metrics=[Metric(k, v, ts, s) for k, v, ts, s in batch])
    for key in ("loss", "acc", "big", "neg"):
        assert _history(client, ours, key) == _history(client, theirs, key)
    assert _latest(client, ours) == _latest(client, theirs)
    spool.close(delete=True)


@pytest.mark.parametrize("sender", [SqliteFastSender, BatchSender])
def test_replaying_a_delivered_chunk_is_harmless(
    mlflow_store: Any, spool_dir: Path, sender: type
) -> None:
    client = mlflow_store.client
    run_id = _new_run(mlflow_store)
    spool = Spool(spool_dir, run_id, mlflow_store.uri, client=client)
    _spool_points(spool, POINTS)
    spool.append(format_param("lr", "0.1") + format_tag("stage", "a"))
    spool._sender = (
        sender(client, client._tracking_client.store)
        if sender is SqliteFastSender
        else sender(client)
    )
    assert spool.deliver() is True
    before = {key: _history(client, run_id, key) for key in ("loss", "acc", "big", "neg")}
    latest = _latest(client, run_id)
    spool.close()

    # a crash between the store's commit and the offset sidecar: everything is sent again
    spool.offset_path.write_text("0")
    replay = Spool(spool_dir, run_id, mlflow_store.uri, client=client)
    assert replay.committed == 0
    assert replay.deliver() is True
    assert {key: _history(client, run_id, key) for key in before} == before
    assert _latest(client, run_id) == latest
    assert client.get_run(run_id).data.params == {"lr": "0.1"}
    replay.close(delete=True)


def test_batch_sender_respects_mlflow_request_limits(mlflow_store: Any, spool_dir: Path) -> None:
    client = mlflow_store.client
    run_id = _new_run(mlflow_store)
    spool = Spool(spool_dir, run_id, mlflow_store.uri, client=client)
    spool._sender = BatchSender(client)
    spool.append("".join(format_metric("m", float(i), 1000 + i, i) for i in range(2500)))
    spool.append("".join(format_param(f"p{i}", str(i)) for i in range(150)))
    spool.append("".join(format_tag(f"t{i}", "x" * 7000) for i in range(150)))  # > 1 MB together
    assert spool.deliver() is True
    run = client.get_run(run_id)
    assert len(client.get_metric_history(run_id, "m")) == 2500
    assert len(run.data.params) == 150
    assert sum(1 for k in run.data.tags if k.startswith("t")) == 150
    spool.close(delete=True)


def test_records_for_a_deleted_run_are_set_aside(
    mlflow_store: Any, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run_id, spool = _new_spool(mlflow_store, spool_dir)
    mlflow_store.client.delete_run(run_id)
    spool.append(format_metric("a", 1.0, 1000, 0))
    with caplog.at_level(logging.WARNING, logger="jupyter_mlops.spool"):
        assert spool.deliver() is True  # nothing retried forever
    assert spool.committed == spool.path.stat().st_size
    assert '"a"' in spool.rejected_path.read_text()
    assert "active" in caplog.text
    spool.close(delete=True)


def test_a_large_delivered_spool_file_is_emptied(
    mlflow_store: Any, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.core.tracking import spool as spool_module

    monkeypatch.setattr(spool_module, "_COMPACT_BYTES", 1000)
    run_id = _new_run(mlflow_store)
    spool = Spool.create(spool_dir, run_id, mlflow_store.uri, client=mlflow_store.client)
    for step in range(100):
        spool.append(format_metric("m", float(step), 1000 + step, step))
    spool.flush()
    assert spool.deliver() is True  # caught up: the file is emptied, the offset reset
    assert spool.path.stat().st_size == 0
    assert spool.committed == 0
    assert spool.offset_path.read_text() == "0"
    for step in range(100, 150):
        spool.append(format_metric("m", float(step), 1000 + step, step))
    spool.flush()  # progress is counted across the compaction
    steps = sorted(m.step for m in mlflow_store.client.get_metric_history(run_id, "m"))
    assert steps == list(range(150))
    spool.close(delete=True)
