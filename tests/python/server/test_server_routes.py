"""Every route of ``api/openapi.yaml`` against a real server and a real MLflow store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from server_helpers import HTTP_METHODS, served_methods

from jupyter_mlops.core.tracking import query

pytestmark = pytest.mark.slow

Check = Callable[[str, int, Any], None]


async def test_health(get_checked: Any, mlops_tracking_uri: str) -> None:
    body = await get_checked("/health")
    assert body["tracking_uri"] == mlops_tracking_uri
    assert body["project"] == "test-project"


async def test_experiments_newest_first(get_checked: Any, seeded: dict[str, str]) -> None:
    body = await get_checked("/experiments")
    names = [exp["name"] for exp in body["experiments"]]
    assert names.index("vision") < names.index("churn")
    assert all(exp["lifecycle_stage"] == "active" for exp in body["experiments"])


async def test_runs_shape_and_fields(get_checked: Any, seeded: dict[str, str]) -> None:
    body = await get_checked("/runs")
    assert body["next_page_token"] is None
    by_id = {run["run_id"]: run for run in body["runs"]}
    assert set(by_id) == set(seeded.values())
    run = by_id[seeded["baseline"]]
    assert run["run_name"] == "baseline"
    assert run["status"] == "FINISHED"
    assert run["notebook"] == "notebooks/train.ipynb"
    assert run["project"] == "retention"
    assert run["user"] == "alice"
    assert run["params"] == {"model": "rf", "n_estimators": "200"}
    assert run["metrics"] == {"acc": 0.9, "loss/train": 1.0, "bad": None}
    assert run["tags"] == {
        "mlops.project": "retention",
        "mlops.notebook": "notebooks/train.ipynb",
        "mlflow.note.content": "first try",
        "team": "ds",
    }
    assert run["duration_ms"] == run["end_time"] - run["start_time"]
    running = by_id[seeded["quoted"]]
    assert running["end_time"] is None
    assert running["duration_ms"] >= 0


async def test_runs_of_one_experiment_newest_first(
    get_json: Any, seeded: dict[str, str], mlflow_store: Any
) -> None:
    churn = mlflow_store.client.get_experiment_by_name("churn").experiment_id
    vision = mlflow_store.client.get_experiment_by_name("vision").experiment_id
    _, body = await get_json("runs", params={"experiment_id": churn})
    assert [run["run_id"] for run in body["runs"]] == [
        seeded["failed"],
        seeded["quoted"],
        seeded["baseline"],
    ]
    _, both = await get_json("runs", params={"experiment_id": f"{churn},{vision}"})
    assert len(both["runs"]) == 4


@pytest.mark.parametrize(
    ("status", "expected"),
    [("RUNNING", ["quoted"]), ("FAILED", ["failed"]), ("finished", ["vision", "baseline"])],
)
async def test_runs_status_filter(
    get_json: Any, seeded: dict[str, str], status: str, expected: list[str]
) -> None:
    code, body = await get_json("runs", params={"status": status})
    assert code == 200
    assert [run["run_id"] for run in body["runs"]] == [seeded[name] for name in expected]


async def test_order_by_metric(get_json: Any, seeded: dict[str, str]) -> None:
    _, body = await get_json("runs", params={"order_by": "metrics.acc DESC"})
    ids = [run["run_id"] for run in body["runs"]]
    assert ids[:3] == [seeded["baseline"], seeded["quoted"], seeded["failed"]]
    _, body = await get_json("runs", params={"order_by": "metrics.`loss/train` ASC"})
    assert body["runs"][0]["run_id"] == seeded["baseline"]


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("QUOTED", ["quoted"]),
        ('it\'s "quoted"', ["quoted"]),
        ("' or 1=1 --", []),
        ("\\' OR attributes.status = 'FAILED", []),
        ("base", ["baseline"]),
    ],
)
async def test_search_is_quoted_safely(
    get_json: Any, seeded: dict[str, str], search: str, expected: list[str]
) -> None:
    code, body = await get_json("runs", params={"search": search})
    assert code == 200, body
    assert [run["run_id"] for run in body["runs"]] == [seeded[name] for name in expected]


async def test_raw_filter_and_status_combine(get_json: Any, seeded: dict[str, str]) -> None:
    code, body = await get_json(
        "runs", params={"filter": "metrics.acc > 0.3", "status": "FINISHED"}
    )
    assert code == 200
    assert [run["run_id"] for run in body["runs"]] == [seeded["baseline"]]
    _, body = await get_json("runs", params={"filter": "params.model = 'cnn'"})
    assert [run["run_id"] for run in body["runs"]] == [seeded["vision"]]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"max_results": "abc"}, ["max_results", "1 to 1000"]),
        ({"max_results": "0"}, ["max_results", "1 to 1000"]),
        ({"max_results": "1001"}, ["max_results"]),
        ({"status": "DONE"}, ["status"]),
        ({"order_by": "start_time; DROP TABLE runs"}, ["order_by"]),
        ({"order_by": "artifact_uri DESC"}, ["order_by"]),
        ({"filter": "params.model = 'rf"}, ["filter"]),
        ({"filter": "nonsense > 1"}, ["nonsense"]),
        ({"experiment_id": "not an id!"}, ["experiment id"]),
        ({"experiment_id": "abc"}, ["experiment"]),
        ({"page_token": "garbage"}, ["page token"]),
        ({"search": "x" * 201}, ["search"]),
    ],
)
async def test_bad_query_parameters_are_400(
    get_json: Any,
    check_response: Check,
    seeded: dict[str, str],
    params: dict[str, str],
    words: list[str],
) -> None:
    code, body = await get_json("runs", params=params)
    assert code == 400, body
    check_response("/runs", 400, body)
    assert body["error"] in {"UsageError", "InvalidValueError"}
    text = (body["message"] + " " + body.get("hint", "")).lower()
    for word in words:
        assert word.lower() in text
    assert "traceback" not in text


async def test_get_run(get_json: Any, check_response: Check, seeded: dict[str, str]) -> None:
    code, body = await get_json("runs", seeded["baseline"])
    assert code == 200
    check_response("/runs/{run_id}", 200, body)
    assert body["run_id"] == seeded["baseline"]
    assert body["params"]["model"] == "rf"


async def test_unknown_run_is_404_json(get_json: Any, check_response: Check, seeded: Any) -> None:
    code, body = await get_json("runs", "0123456789abcdef0123456789abcdef")
    assert code == 404
    check_response("/runs/{run_id}", 404, body)
    assert body["error"] == "NotFoundError"
    assert body["run_id"] == "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("run_id", ["bad!id", "a" * 65, "a.b"])
async def test_malformed_run_id_is_400(get_json: Any, check_response: Check, run_id: str) -> None:
    code, body = await get_json("runs", run_id)
    assert code == 400
    check_response("/runs/{run_id}", 400, body)
    assert "run id" in body["message"].lower()


async def test_metric_history_with_slash_in_key(
    get_json: Any, check_response: Check, seeded: dict[str, str]
) -> None:
    code, body = await get_json("runs", seeded["baseline"], "metrics", "loss/train")
    assert code == 200
    check_response("/runs/{run_id}/metrics/{key}", 200, body)
    assert body["key"] == "loss/train"
    assert [(p["step"], p["value"]) for p in body["points"]] == [(0, 3.0), (1, 2.0), (2, 1.0)]


async def test_metric_history_with_encoded_slash(
    raw_get: Any, jp_auth_header: dict[str, str], seeded: dict[str, str]
) -> None:
    path = f"jupyter-mlops/api/runs/{seeded['baseline']}/metrics/loss%2Ftrain"
    code, body = await raw_get(path, headers=jp_auth_header)
    assert code == 200
    assert body["key"] == "loss/train"
    assert len(body["points"]) == 3


async def test_metric_history_nan_is_null(get_json: Any, seeded: dict[str, str]) -> None:
    code, body = await get_json("runs", seeded["baseline"], "metrics", "bad")
    assert code == 200
    assert body["points"][0]["value"] is None


@pytest.mark.parametrize(
    ("run", "key"),
    [("baseline", "no-such-metric"), (None, "acc")],
)
async def test_metric_history_404(
    get_json: Any, check_response: Check, seeded: dict[str, str], run: str | None, key: str
) -> None:
    run_id = seeded[run] if run else "0123456789abcdef0123456789abcdef"
    code, body = await get_json("runs", run_id, "metrics", key)
    assert code == 404
    check_response("/runs/{run_id}/metrics/{key}", 404, body)
    assert body["run_id"] == run_id


async def test_unexpected_error_is_500_without_traceback(
    get_json: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(client: Any) -> dict[str, Any]:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(query, "list_experiments", broken)
    code, body = await get_json("experiments")
    assert code == 500
    assert body == {"error": "InternalError", "message": body["message"]}
    assert "secret" not in body["message"]
    assert "Traceback" not in str(body)


def _nulls(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in _nulls(value, f"{path}/{key}")] + [
            f"{path}/{key}" for key, value in node.items() if value is None
        ]
    if isinstance(node, list):
        return [p for i, value in enumerate(node) for p in _nulls(value, f"{path}[{i}]")]
    return []


def test_openapi_document_is_well_formed(openapi: dict[str, Any]) -> None:
    """No YAML slip (a comma in a flow mapping makes a key with a null value)."""
    assert _nulls(openapi) == []


def test_every_documented_path_has_a_route_and_back(openapi: dict[str, Any]) -> None:
    """The route table and ``api/openapi.yaml`` agree: the same paths, with the same methods.

    A path with ``servers`` of its own (``/metrics``, beside the API) is under that URL.
    """
    import re

    from jupyter_mlops.server.metrics_handler import METRICS_PATH
    from jupyter_mlops.server.routes import API_PREFIX, ROUTES

    documented = {
        re.sub(
            r"\{[^}]+\}", "X", operations.get("servers", [{"url": API_PREFIX}])[0]["url"] + path
        ): {m for m in operations if m in HTTP_METHODS}
        for path, operations in openapi["paths"].items()
    }
    routed = {
        re.sub(r"\([^)]*\)", "X", pattern): served_methods(handler) for pattern, handler in ROUTES
    }
    assert len(routed) == len(ROUTES), "a pattern is in the route table twice"
    assert set(documented) == set(routed)
    assert documented == routed
    beside = [pattern for pattern, _ in ROUTES if not pattern.startswith(API_PREFIX + "/")]
    assert beside == [METRICS_PATH]
    assert openapi["servers"] == [{"url": API_PREFIX}]
