"""``jupyter_mlops.core.tracking.query`` on its own: filter building, order-by allow-list, shapes, errors.

(The read-side library under the REST API and the CLI; its HTTP behaviour is in
``test_server_routes.py``.)
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.core.tracking import query
from jupyter_mlops.core.tracking.search_input import SEARCH_MAX_LENGTH
from jupyter_mlops.exceptions import NotFoundError, StoreError, UsageError


@pytest.mark.parametrize(
    ("given_order", "expected"),
    [
        (None, "attributes.start_time DESC"),
        ("start_time DESC", "attributes.start_time DESC"),
        ("END_TIME asc", "attributes.end_time ASC"),
        ("run_name", "attributes.run_name ASC"),
        ("status desc", "attributes.status DESC"),
        ("metrics.accuracy DESC", "metrics.`accuracy` DESC"),
        ("metrics.loss/train ASC", "metrics.`loss/train` ASC"),
        ("metrics.`val loss` DESC", "metrics.`val loss` DESC"),
        ("params.lr", "params.`lr` ASC"),
        ("tags.mlops.project DESC", "tags.`mlops.project` DESC"),
    ],
)
def test_order_by_allow_list(given_order: str | None, expected: str) -> None:
    assert query.parse_order_by(given_order) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "artifact_uri DESC",
        "start_time DESC, end_time",
        "start_time; DROP TABLE runs",
        "metrics.`a` `b` DESC",
        "metrics.",
        "metrics.a DESC extra",
        "params.x' OR '1'='1",
        "metrics.`x` sideways",
    ],
)
def test_order_by_rejects_everything_else(bad: str) -> None:
    with pytest.raises(UsageError, match="order_by"):
        query.parse_order_by(bad)


def test_build_filter_combines_clauses() -> None:
    text = query.build_filter(status="running", search="it's 50%", filter="metrics.acc > 0.5")
    assert text == (
        "attributes.status = 'RUNNING' and attributes.run_name ILIKE '%it_s 50_%'"
        " and metrics.acc > 0.5"
    )
    assert query.build_filter() == ""


@pytest.mark.parametrize("status", ["DONE", "running'; --", ""])
def test_build_filter_checks_status(status: str) -> None:
    if not status:
        assert query.build_filter(status=status) == ""
        return
    with pytest.raises(UsageError, match="status") as info:
        query.build_filter(status=status)
    assert "RUNNING" in (info.value.hint or "")


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=SEARCH_MAX_LENGTH))
def test_any_search_text_stays_one_literal(text: str) -> None:
    from mlflow.utils.search_utils import SearchUtils

    text = text.strip()
    parsed = SearchUtils.parse_search_filter(query.build_filter(search=text))
    if not text:
        assert parsed == []
        return
    assert len(parsed) == 1
    clause = parsed[0]
    assert (clause["type"], clause["key"], clause["comparator"]) == (
        "attribute",
        "run_name",
        "ILIKE",
    )
    inner = clause["value"][1:-1]
    assert len(inner) == len(text)
    assert all(a == b or a == "_" for a, b in zip(inner, text, strict=True))


def test_bad_raw_filter_is_usage_error_with_mlflow_message() -> None:
    with pytest.raises(UsageError, match="nonsense"):
        query.build_filter(filter="nonsense = 1")


@pytest.mark.parametrize("run_id", ["", "a" * 65, "a/b", "a b", "x'y", "ünï"])
def test_validate_run_id(run_id: str) -> None:
    with pytest.raises(UsageError, match="run id"):
        query.validate_run_id(run_id)
    assert query.validate_run_id("0123abc_-Z") == "0123abc_-Z"


def test_connect_reports_unusable_store_without_credentials() -> None:
    with pytest.raises(StoreError) as info:
        query.connect("bogus://user:hunter2@somewhere/x")
    assert "hunter2" not in str(info.value)
    assert "MLFLOW_TRACKING_URI" in (info.value.hint or "")


def test_shapes_from_a_real_store(mlflow_store: Any, make_run: Any) -> None:
    run_id = make_run(
        "exp",
        name="r1",
        params={"a": "1"},
        tags={
            "mlflow.user": "bob",
            "mlflow.source.name": "x.ipynb",
            "mlflow.log-model.history": "[]",
        },
        metrics={"nan": [float("nan")], "m": [1.0, 2.0]},
    )
    client = mlflow_store.client
    run = query.get_run(client, run_id)
    json.dumps(run, allow_nan=False)
    assert run["metrics"] == {"nan": None, "m": 2.0}
    assert run["tags"] == {}
    assert (run["user"], run["notebook"], run["project"]) == ("bob", "x.ipynb", None)
    history = query.metric_history(client, run_id, "m")
    assert [p["value"] for p in history["points"]] == [1.0, 2.0]
    experiment = query.find_experiment(client, "exp")
    assert experiment["name"] == "exp"
    page = query.search_runs(client, [experiment["experiment_id"]], max_results=1)
    assert [r["run_id"] for r in page["runs"]] == [run_id]
    assert page["next_page_token"] is None


def test_not_found_errors(mlflow_store: Any) -> None:
    client = mlflow_store.client
    with pytest.raises(NotFoundError) as info:
        query.get_run(client, "0" * 32)
    assert info.value.run_id == "0" * 32
    with pytest.raises(NotFoundError, match="No experiment"):
        query.find_experiment(client, "missing")


@pytest.mark.parametrize("max_results", [0, 1001, -5, True])
def test_max_results_bounds(mlflow_store: Any, max_results: int) -> None:
    with pytest.raises(UsageError, match="max_results"):
        query.search_runs(mlflow_store.client, max_results=max_results)


def test_no_experiments_means_no_runs(mlflow_store: Any) -> None:
    mlflow_store.client.delete_experiment("0")
    assert query.search_runs(mlflow_store.client) == {"runs": [], "next_page_token": None}


def _run(status: str, start: int | None, end: int | None, metrics: dict[str, float]) -> Any:
    from mlflow.entities import Metric, Run, RunData, RunInfo, RunTag

    info = RunInfo(
        run_id="r1",
        experiment_id="7",
        user_id="",
        status=status,
        start_time=start,
        end_time=end,
        lifecycle_stage="active",
        run_name="name",
    )
    data = RunData(
        metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
        tags=[RunTag("mlflow.runName", "name"), RunTag("mlops.project", "p")],
    )
    return Run(info, data)


@pytest.mark.parametrize(
    ("status", "start", "end", "duration"),
    [
        ("FINISHED", 1_000, 4_000, 3_000),
        ("RUNNING", 1_000, None, 9_000),
        ("KILLED", 1_000, None, None),
        ("SCHEDULED", 1_000, None, None),
    ],
)
def test_run_summary_duration(
    status: str, start: int | None, end: int | None, duration: int | None
) -> None:
    summary = query.run_summary(_run(status, start, end, {}), now_ms=10_000)
    assert summary["duration_ms"] == duration
    assert summary["experiment_id"] == "7"
    assert summary["project"] == "p"
    assert summary["tags"] == {"mlops.project": "p"}


def test_run_summary_non_finite_metrics_are_null() -> None:
    run = _run(
        "FINISHED", 1, 2, {"a": float("inf"), "b": float("-inf"), "c": float("nan"), "d": 0.5}
    )
    summary = query.run_summary(run)
    assert summary["metrics"] == {"a": None, "b": None, "c": None, "d": 0.5}
    json.dumps(summary, allow_nan=False)


def test_blank_search_is_no_filter() -> None:
    assert query.build_filter(search="   ") == ""
