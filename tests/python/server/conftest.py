"""Fixtures for the REST tests: a seeded store, a JSON fetch helper, an OpenAPI response checker."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

OPENAPI = Path(__file__).resolve().parents[3] / "api" / "openapi.yaml"
API = "jupyter-mlops/api"

Fetch = Callable[..., Awaitable[Any]]


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema; objects with ``properties`` are closed (no extra fields)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="session")
def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return spec


@pytest.fixture(scope="session")
def check_response(openapi: dict[str, Any]) -> Callable[..., None]:
    """``check_response("/runs", 200, body)``: ``body`` matches the documented schema exactly.

    ``method="post"`` checks the response of another operation of the path.
    """
    components = _to_json_schema(openapi["components"])

    def check(path: str, status: int, body: Any, *, method: str = "get") -> None:
        operation = openapi["paths"][path][method]
        response = operation["responses"][str(status)]
        if "$ref" in response:
            response = openapi["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        schema = _to_json_schema(response["content"]["application/json"]["schema"])
        jsonschema.validate(body, {**schema, "components": components})

    return check


def strict_json(raw: bytes) -> Any:
    """JSON that a browser's ``JSON.parse`` accepts too (no NaN / Infinity)."""

    def reject(token: str) -> None:
        raise ValueError(f"invalid JSON constant {token}")

    return json.loads(raw, parse_constant=reject)


@pytest.fixture
def get_json(jp_fetch: Fetch) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await get_json("runs", params={...})`` -> ``(status, body)``; never raises on 4xx/5xx."""

    async def _get(*parts: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        response = await jp_fetch(API, *parts, params=params, raise_error=False)
        assert response.headers["Content-Type"].startswith("application/json")
        return response.code, strict_json(response.body)

    return _get


@pytest.fixture
def get_checked(
    get_json: Callable[..., Awaitable[tuple[int, Any]]], check_response: Callable[..., None]
) -> Callable[..., Awaitable[Any]]:
    """``await get_checked("/runs", params=...)``: a 200 whose body matches the contract; the body."""

    async def _get(path: str, params: dict[str, Any] | None = None) -> Any:
        status, body = await get_json(*path.strip("/").split("/"), params=params)
        assert status == 200, body
        check_response(path, 200, body)
        return body

    return _get


@pytest.fixture
def raw_get(http_server_client: Any, jp_base_url: str) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await raw_get("jupyter-mlops/api/...", headers=...)``: the path as given, no token added."""

    async def _get(path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        response = await http_server_client.fetch(
            jp_base_url + path, headers=headers or {}, raise_error=False
        )
        return response.code, strict_json(response.body)

    return _get


@pytest.fixture
def seeded(make_run: Callable[..., str]) -> dict[str, str]:
    """Two experiments and four runs (started in this order); returns name -> run id."""
    start = int(time.time() * 1000) - 60_000
    return {
        "baseline": make_run(
            "churn",
            name="baseline",
            params={"model": "rf", "n_estimators": "200"},
            tags={
                "mlops.project": "retention",
                "mlops.notebook": "notebooks/train.ipynb",
                "mlflow.user": "alice",
                "mlflow.source.type": "NOTEBOOK",
                "mlflow.note.content": "first try",
                "team": "ds",
            },
            metrics={"acc": [0.5, 0.7, 0.9], "loss/train": [3.0, 2.0, 1.0], "bad": [float("nan")]},
            start_time=start,
        ),
        **{
            key: make_run(
                "churn", name=name, status=status, metrics={"acc": [acc]}, start_time=start + offset
            )
            for key, name, status, acc, offset in (
                ("quoted", 'it\'s "quoted"', "RUNNING", 0.8, 1000),
                ("failed", "failed-run", "FAILED", 0.1, 2000),
            )
        },
        "vision": make_run(
            "vision", name="resnet", params={"model": "cnn"}, start_time=start + 3000
        ),
    }
