"""Authentication and authorization: no token -> 403; every route asks for an ``mlops:`` resource."""

from __future__ import annotations

from typing import Any

import pytest
from server_helpers import RecordingAuthorizer, served_methods

pytestmark = pytest.mark.slow

ROUTES = [
    ("health", "mlops:health"),
    ("experiments", "mlops:experiments"),
    ("runs", "mlops:runs"),
    ("runs/0123456789abcdef0123456789abcdef", "mlops:runs"),
    ("runs/0123456789abcdef0123456789abcdef/metrics/loss/train", "mlops:runs"),
    ("cost", "mlops:cost"),
    ("cost/report", "mlops:cost"),
    ("cost/history?range=1h", "mlops:cost"),
    ("cost/budgets", "mlops:cost"),
    ("cost/advice?kernel_id=k1", "mlops:cost"),
    ("pipelines", "mlops:pipelines"),
    ("pipelines/parameters?path=missing.ipynb", "mlops:pipelines"),
    ("pipelines/runs", "mlops:pipelines"),
    ("pipelines/runs/0123456789abcdef0123456789abcdef", "mlops:pipelines"),
    ("events?after=0", "mlops:events"),
]


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> Any:
    return RecordingAuthorizer.install(jp_server_config)


@pytest.mark.parametrize(("path", "resource"), ROUTES)
async def test_without_token_is_403(
    raw_get: Any, jp_serverapp: Any, path: str, resource: str
) -> None:
    code, body = await raw_get(f"jupyter-mlops/api/{path}")
    assert code == 403
    assert body["error"] == "HTTPError"
    assert RecordingAuthorizer.seen == []


async def test_wrong_token_is_403(raw_get: Any) -> None:
    code, _ = await raw_get("jupyter-mlops/api/runs", headers={"Authorization": "token nope"})
    assert code == 403


@pytest.mark.parametrize(("path", "resource"), ROUTES)
async def test_each_route_authorizes_an_mlops_resource(
    raw_get: Any, jp_auth_header: dict[str, str], path: str, resource: str
) -> None:
    code, _ = await raw_get(f"jupyter-mlops/api/{path}", headers=jp_auth_header)
    assert code in {200, 404}
    assert RecordingAuthorizer.seen == [("read", resource)]


@pytest.mark.parametrize(("path", "resource"), ROUTES)
async def test_denied_resource_is_403_json(
    raw_get: Any, jp_auth_header: dict[str, str], path: str, resource: str
) -> None:
    RecordingAuthorizer.denied = {resource}
    code, body = await raw_get(f"jupyter-mlops/api/{path}", headers=jp_auth_header)
    assert code == 403
    assert body["error"] == "HTTPError"
    assert resource in body["message"]


def test_every_handler_method_of_the_route_table_is_authenticated_then_authorized() -> None:
    """Read from the table: each method is ``@authenticated`` wrapping ``@authorized``, on ``mlops:``."""
    from jupyter_mlops.server.routes import ROUTES

    checked = 0
    for pattern, handler in ROUTES:
        assert handler.auth_resource.startswith("mlops:"), pattern
        for name in served_methods(handler):
            method = getattr(handler, name)
            assert method.__code__.co_qualname == "authenticated.<locals>.wrapper", (pattern, name)
            inner = method.__wrapped__
            assert inner.__code__.co_qualname.startswith("authorized.<locals>"), (pattern, name)
            checked += 1
    assert checked >= len(ROUTES)
