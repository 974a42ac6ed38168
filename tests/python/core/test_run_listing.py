"""The panel's runs list on a real store: the search box, top-level runs, children and their summaries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlops.core.tracking import run_listing
from jupyter_mlops.core.tracking.run_listing import PARENT_TAG, children_summaries, list_runs
from jupyter_mlops.exceptions import UsageError

T0 = 1_700_000_000_000


@pytest.fixture
def sweep(make_run: Callable[..., str]) -> dict[str, Any]:
    """A sweep parent with 4 children (3 finished, 1 failed), a plain run, an older parent of 1."""
    old_parent = make_run("exp", name="old-sweep", start_time=T0)
    old_child = make_run(
        "exp",
        name="old-trial",
        start_time=T0 + 1,
        tags={PARENT_TAG: old_parent},
        metrics={"accuracy": [0.5]},
        params={"lr": "0.9"},
    )
    plain = make_run(
        "exp",
        name="resnet-baseline",
        start_time=T0 + 10,
        params={"lr": "0.3", "model": "resnet"},
        metrics={"accuracy": [0.95]},
        tags={"epic": "MLOPS-12"},
    )
    parent = make_run("exp", name="sweep", start_time=T0 + 20, params={"grid": "lr"})
    children = [
        make_run(
            "exp",
            name=f"trial-{i}",
            start_time=T0 + 21 + i,
            tags={PARENT_TAG: parent},
            params={"lr": str(lr)},
            metrics={"accuracy": [acc]},
            status="FAILED" if i == 3 else "FINISHED",
        )
        for i, (lr, acc) in enumerate([(0.1, 0.7), (0.3, 0.91), (0.5, 0.8), (0.7, 0.99)])
    ]
    return {
        "parent": parent,
        "children": children,
        "plain": plain,
        "old_parent": old_parent,
        "old_child": old_child,
    }


def _names(page: dict[str, Any]) -> list[str]:
    return [run["run_name"] for run in page["runs"]]


def test_shorthand_and_mlflow_syntax_find_the_same_runs(mlflow_store: Any, sweep: Any) -> None:
    client = mlflow_store.client
    short = list_runs(client, q="lr=0.3 accuracy>0.9", order_by="run_name ASC")
    mlflow = list_runs(
        client, q="params.lr = '0.3' and metrics.accuracy > 0.9", order_by="run_name ASC"
    )
    assert _names(short) == _names(mlflow) == ["resnet-baseline", "trial-1"]
    assert _names(list_runs(client, q="epic=MLOPS-12")) == ["resnet-baseline"]
    assert _names(list_runs(client, q="RESNET")) == ["resnet-baseline"]
    assert _names(list_runs(client, q="trial status=failed")) == ["trial-3"]
    assert list_runs(client, q="lr=0.42")["runs"] == []


def test_bad_search_is_usage_error(mlflow_store: Any, sweep: Any) -> None:
    client = mlflow_store.client
    with pytest.raises(UsageError, match="learning_rate") as info:
        list_runs(client, q="learning_rate=0.3")
    assert "params.learning_rate" in (info.value.hint or "")
    with pytest.raises(UsageError, match="does not parse"):
        list_runs(client, q="params.lr = 0.3")


def test_known_keys_are_cached_per_experiment_set(
    mlflow_store: Any, sweep: Any, make_run: Callable[..., str]
) -> None:
    client = mlflow_store.client
    ids = [client.get_experiment_by_name("exp").experiment_id]
    keys = run_listing.known_keys(client, ids)
    assert {"lr", "model", "grid"} <= keys.params
    assert "accuracy" in keys.metrics
    assert "epic" in keys.tags
    assert run_listing.known_keys(client, ids) is keys
    # a key first logged after the keys were cached is still found (looked up again)
    make_run("exp", name="fresh", params={"batch": "64"})
    assert _names(list_runs(client, q="batch=64")) == ["fresh"]


def test_top_level_with_children_summaries(mlflow_store: Any, sweep: Any) -> None:
    page = list_runs(mlflow_store.client, top_level=True, order_by="start_time DESC")
    assert _names(page) == ["sweep", "resnet-baseline", "old-sweep"]
    assert page["children_truncated"] is False
    summary = page["children"]
    assert set(summary) == {sweep["parent"], sweep["old_parent"]}
    assert summary[sweep["parent"]]["count"] == 4
    assert summary[sweep["parent"]]["statuses"] == {"FINISHED": 3, "FAILED": 1}
    assert summary[sweep["parent"]]["best"] is None  # not sorted by a metric, no best asked
    best = list_runs(mlflow_store.client, top_level=True, best="metrics.accuracy DESC")
    assert best["children"][sweep["parent"]]["best"] == {
        "key": "accuracy",
        "value": 0.99,
        "run_id": sweep["children"][3],
    }
    lowest = list_runs(mlflow_store.client, top_level=True, best="metrics.accuracy ASC")
    assert lowest["children"][sweep["parent"]]["best"]["value"] == 0.7


def test_children_of_a_later_page_only(mlflow_store: Any, sweep: Any) -> None:
    first = list_runs(mlflow_store.client, top_level=True, max_results=2)
    assert set(first["children"]) == {sweep["parent"]}
    second = list_runs(
        mlflow_store.client, top_level=True, max_results=2, page_token=first["next_page_token"]
    )
    assert _names(second) == ["old-sweep"]
    assert second["children"][sweep["old_parent"]]["count"] == 1


def test_parent_lists_its_children_sorted_by_metric(mlflow_store: Any, sweep: Any) -> None:
    page = list_runs(mlflow_store.client, parent=sweep["parent"], order_by="metrics.accuracy DESC")
    assert _names(page) == ["trial-3", "trial-1", "trial-2", "trial-0"]
    assert "children" not in page
    with pytest.raises(UsageError, match="run id"):
        list_runs(mlflow_store.client, parent="x' or '1'='1")
    with pytest.raises(UsageError, match="best must name a metric"):
        list_runs(mlflow_store.client, top_level=True, best="params.lr")


def test_children_summaries_skip_runs_without_parent_or_value() -> None:
    runs = [
        {"run_id": "a", "status": "FINISHED", "tags": {PARENT_TAG: "p"}, "metrics": {"m": None}},
        {"run_id": "b", "status": "FINISHED", "tags": {}, "metrics": {"m": 1.0}},
        {"run_id": "c", "status": "KILLED", "tags": {PARENT_TAG: "p"}, "metrics": {"m": 2.0}},
    ]
    assert children_summaries(runs, ("m", False)) == {
        "p": {
            "count": 2,
            "statuses": {"FINISHED": 1, "KILLED": 1},
            "best": {"key": "m", "value": 2.0, "run_id": "c"},
        }
    }


def test_children_scan_of_other_stores_finds_the_same(mlflow_store: Any, sweep: Any) -> None:
    """The path for stores without SQL (a tracking server) finds the same children."""
    client = mlflow_store.client
    ids = [client.get_experiment_by_name("exp").experiment_id]
    page = list_runs(client, top_level=True, best="metrics.accuracy DESC")
    children, truncated = run_listing._children_of_page(client, ids, page["runs"])
    assert truncated is False
    assert children_summaries(children, ("accuracy", True)) == page["children"]
