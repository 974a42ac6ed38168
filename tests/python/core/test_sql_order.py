"""The SQL page of runs answers exactly as MLflow's own search: same runs, same order, same pages."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlops.core.tracking.sql_order import page_of_runs

T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[..., Any],
    add_run: Callable[..., str],
) -> tuple[Any, list[str]]:
    """17 runs (shared by this module, read only): some without the metric, one NaN, ties."""
    mlflow_store = new_store(tmp_path_factory.mktemp("order-store"))
    for i in range(17):
        metrics = {} if i % 5 == 0 else {"acc": [math.nan if i == 7 else (i * 3) % 11]}
        add_run(
            mlflow_store.client,
            "order",
            name=f"r{i:02d}",
            start_time=T0 + (i // 2) * 1000,
            params={"lr": str(i % 3)} if i % 4 else {},
            tags={"team": "ab"[i % 2]},
            metrics=metrics,
            status="FAILED" if i % 6 == 0 else "FINISHED",
        )
    client = mlflow_store.client
    return client, [client.get_experiment_by_name("order").experiment_id]


def _ours(client: Any, ids: list[str], where: str, order: str, size: int) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = page_of_runs(client, ids, where, order, size, token)
        assert page is not None
        runs, token = page
        out.extend(run.info.run_id for run in runs)
        if not token:
            return out


def _mlflow(client: Any, ids: list[str], where: str, order: str) -> list[str]:
    return [run.info.run_id for run in client.search_runs(ids, where, order_by=[order])]


@pytest.mark.parametrize(
    "order",
    [
        "metrics.`acc` DESC",
        "metrics.`acc` ASC",
        "params.`lr` DESC",
        "tags.`team` ASC",
        "attributes.start_time ASC",
        "attributes.start_time DESC",
        "attributes.run_name DESC",
    ],
)
@pytest.mark.parametrize("where", ["", "params.lr = '1'", "attributes.status = 'FINISHED'"])
def test_same_runs_same_order_as_mlflow(store: Any, order: str, where: str) -> None:
    client, ids = store
    expected = _mlflow(client, ids, where, order)
    assert _ours(client, ids, where, order, size=4) == expected
    assert expected  # every case lists something


def test_runs_are_full_entities(store: Any) -> None:
    client, ids = store
    page = page_of_runs(client, ids, "", "metrics.`acc` DESC", 3, None)
    assert page is not None
    runs, token = page
    assert token
    first = client.get_run(runs[0].info.run_id)
    assert runs[0].data.params == first.data.params
    assert runs[0].data.tags == first.data.tags
    assert runs[0].data.metrics == first.data.metrics
