"""The run edit routes on a real server and MLflow store: writers edit, readers get 403.

Every refused request (read-only user, bad input, deleted run) is checked to
leave the run as it was; every answer is checked against ``api/openapi.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from jupyter_server.auth import Authorizer

from jupyter_mlops.core.tracking.run_edit import NOTE_TAG

API = "jupyter-mlops/api"


class WriterAuthorizer(Authorizer):
    """Allows the actions in ``allowed`` on any resource; records what it was asked."""

    allowed: ClassVar[set[str]] = {"read", "write"}
    asked: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.asked.append((action, resource))
        return action in self.allowed


@pytest.fixture
def allowed(request: pytest.FixtureRequest) -> set[str]:
    return set(getattr(request, "param", {"read", "write"}))


@pytest.fixture
def jp_server_config(jp_server_config: Any, allowed: set[str]) -> Any:
    WriterAuthorizer.allowed = allowed
    WriterAuthorizer.asked = []
    jp_server_config["ServerApp"]["authorizer_class"] = WriterAuthorizer
    return jp_server_config


@pytest.fixture
def send(jp_fetch: Any) -> Callable[..., Any]:
    """``await send("POST", "runs", id, "rename", body={...})`` -> ``(status, json)``."""

    async def _send(method: str, *parts: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        if method == "POST":
            kw["body"] = json.dumps(body if body is not None else {})
        response = await jp_fetch(API, *parts, method=method, raise_error=False, **kw)
        return response.code, json.loads(response.body)

    return _send


@pytest.fixture
def run_id(make_run: Callable[..., str]) -> str:
    return make_run("edits", name="first", tags={"team": "ds", "mlops.project": "p"})


def _state(mlflow_store: Any, run_id: str) -> tuple[Any, ...]:
    run = mlflow_store.client.get_run(run_id)
    return (run.info.run_name, run.info.lifecycle_stage, dict(run.data.tags))


async def test_writer_renames_tags_notes_deletes_and_restores(
    send: Any, check_response: Any, mlflow_store: Any, run_id: str
) -> None:
    code, body = await send("POST", "runs", run_id, "rename", body={"name": "<b>second</b>"})
    assert code == 200, body
    check_response("/runs/{run_id}/rename", 200, body, method="post")
    assert body["run_name"] == "<b>second</b>"

    tags = {"set": {"stage": "prod", "team": "ml"}, "delete": ["nope"]}
    code, body = await send("POST", "runs", run_id, "tags", body=tags)
    assert code == 200, body
    check_response("/runs/{run_id}/tags", 200, body, method="post")
    assert (body["tags"]["stage"], body["tags"]["team"]) == ("prod", "ml")

    code, body = await send("POST", "runs", run_id, "note", body={"note": "**bold** <script>"})
    assert code == 200, body
    check_response("/runs/{run_id}/note", 200, body, method="post")
    assert body["tags"][NOTE_TAG] == "**bold** <script>"

    code, body = await send("POST", "runs", run_id, "delete")
    assert (code, body["lifecycle_stage"]) == (200, "deleted")
    check_response("/runs/{run_id}/delete", 200, body, method="post")
    code, listed = await send("GET", "runs")
    assert run_id not in [r["run_id"] for r in listed["runs"]]
    code, trash = await send("GET", "deleted-runs")
    assert code == 200
    check_response("/deleted-runs", 200, trash)
    assert [r["run_id"] for r in trash["runs"]] == [run_id]
    code, detail = await send("GET", "runs", run_id)
    assert (code, detail["lifecycle_stage"]) == (200, "deleted")

    code, body = await send("POST", "runs", run_id, "rename", body={"name": "late"})
    assert (code, body["error"]) == (409, "RunStateError")
    assert "Restore" in body["hint"]

    code, body = await send("POST", "runs", run_id, "restore")
    assert (code, body["lifecycle_stage"]) == (200, "active")
    check_response("/runs/{run_id}/restore", 200, body, method="post")
    assert _state(mlflow_store, run_id)[:2] == ("<b>second</b>", "active")
    assert ("write", "mlops:runs") in WriterAuthorizer.asked


@pytest.mark.parametrize(
    ("method", "action", "body", "words"),
    [
        ("POST", "rename", {"name": "  "}, "empty"),
        ("POST", "rename", {}, "text"),
        ("POST", "rename", {"name": "x" * 251}, "limit"),
        ("POST", "tags", {"set": {"mlops.project": "q"}}, "read-only"),
        ("POST", "tags", {"set": {"ok": "1"}, "delete": ["mlflow.user"]}, "read-only"),
        ("POST", "tags", {"set": {"bad key!": "1"}}, "tag key"),
        ("POST", "tags", {"set": ["a"]}, "object"),
        ("POST", "note", {"note": "n" * 8001}, "limit"),
        ("POST", "note", {"note": 3}, "text"),
    ],
)
async def test_bad_input_is_400_and_changes_nothing(
    send: Any,
    check_response: Any,
    mlflow_store: Any,
    run_id: str,
    method: str,
    action: str,
    body: Any,
    words: str,
) -> None:
    before = _state(mlflow_store, run_id)
    code, answer = await send(method, "runs", run_id, action, body=body)
    assert code == 400, answer
    check_response(f"/runs/{{run_id}}/{action}", 400, answer, method=method.lower())
    assert words in answer["message"]
    assert _state(mlflow_store, run_id) == before


async def test_malformed_body_and_ids(send: Any, jp_fetch: Any, run_id: str) -> None:
    response = await jp_fetch(
        API, "runs", run_id, "rename", method="POST", body="not json", raise_error=False
    )
    assert response.code == 400
    assert "JSON" in json.loads(response.body)["message"]
    code, body = await send("POST", "runs", "bad!id", "delete")
    assert (code, body["error"]) == (400, "UsageError")
    code, body = await send("POST", "runs", "0123456789abcdef0123456789abcdef", "restore")
    assert (code, body["error"]) == (404, "NotFoundError")
    code, body = await send("GET", "deleted-runs", params={"experiment_id": "no!"})
    assert code == 400


@pytest.mark.parametrize("allowed", [{"read"}], indirect=True)
async def test_read_only_user_is_refused_every_edit(
    send: Any, mlflow_store: Any, run_id: str
) -> None:
    before = _state(mlflow_store, run_id)
    for method, action, body in (
        ("POST", "rename", {"name": "mine"}),
        ("POST", "tags", {"set": {"a": "b"}}),
        ("POST", "note", {"note": "hi"}),
        ("POST", "delete", {}),
        ("POST", "restore", {}),
    ):
        code, answer = await send(method, "runs", run_id, action, body=body)
        assert (code, answer["error"]) == (403, "HTTPError"), action
        assert "write" in answer["message"]
        assert "mlops:runs" in answer["message"]
    assert _state(mlflow_store, run_id) == before
    code, _ = await send("GET", "deleted-runs")
    assert code == 200
    assert {a for a, _ in WriterAuthorizer.asked} == {"read", "write"}
