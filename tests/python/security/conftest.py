"""Shared pieces of the access and path-confinement tests.

* :func:`extension_routes`: the routes the running server really has for
  jupyter-mlops, read from tornado's routers (not from a hand-written list).
* ``token`` and ``authorizer``: a long, unique token (so "the token never
  appears" is a meaningful check) and :class:`ModeAuthorizer` (allow all / read
  only), for a module's own ``jp_server_config`` to put in the server config
  (this conftest does not change the server of other modules).
* ``server_log``: every log record of the server, formatted with its traceback.
* ``fetch``: a raw request through the test server, token only when asked.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import tornado.web
import tornado.websocket
import yaml
from jupyter_server.auth import Authorizer
from jupyter_server.utils import url_path_join
from tornado.routing import PathMatches, Router

OPENAPI = Path(__file__).resolve().parents[3] / "api" / "openapi.yaml"
HEX_ID = "0123456789abcdef0123456789abcdef"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """One extension route as the server has it: regex, handler, a concrete URL, methods."""

    pattern: str
    handler: type[tornado.web.RequestHandler]
    url: str
    methods: tuple[str, ...]
    websocket: bool


def _rules(router: Any) -> Iterator[Any]:
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, Router) and hasattr(rule.target, "rules"):
            yield from _rules(rule.target)
        else:
            yield rule


def _own_methods(handler: type[tornado.web.RequestHandler]) -> tuple[str, ...]:
    """The HTTP methods ``handler`` implements itself (not tornado's or jupyter_server's)."""
    found = []
    for name in METHODS:
        method = getattr(handler, name, None)
        if method is not None and method is not getattr(tornado.web.RequestHandler, name):
            module = getattr(method, "__module__", "") or ""
            if module.startswith("jupyter_mlops") or not module.startswith(
                ("tornado", "jupyter_server")
            ):
                found.append(name.upper())
    return tuple(found)


def fill_groups(pattern: str, value: str) -> str:
    """A concrete path for a route regex: each top-level group becomes ``value``."""
    out, depth, i = [], 0, 0
    body = pattern[:-1] if pattern.endswith("$") else pattern
    while i < len(body):
        char = body[i]
        if char == "\\":
            if depth == 0:
                out.append(body[i + 1])
            i += 2
            continue
        if char == "(":
            if depth == 0:
                out.append(value)
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0:
            out.append(char)
        i += 1
    return "".join(out)


def extension_routes(web_app: tornado.web.Application, base_url: str) -> list[Route]:
    """Routes under ``base_url + jupyter-mlops/``, or served by a ``jupyter_mlops`` handler."""
    prefix = url_path_join(base_url, "jupyter-mlops/")
    routes: dict[tuple[str, type[Any]], Route] = {}
    for router in (web_app.default_router, web_app.wildcard_router):
        for rule in _rules(router):
            target, matcher = rule.target, rule.matcher
            if not (isinstance(target, type) and issubclass(target, tornado.web.RequestHandler)):
                continue
            if not isinstance(matcher, PathMatches):
                continue
            pattern = matcher.regex.pattern
            ours = target.__module__.startswith("jupyter_mlops")
            if not (pattern.startswith(prefix) or ours):
                continue
            url = fill_groups(pattern, HEX_ID)
            assert matcher.regex.fullmatch(url), (pattern, url)
            routes[(pattern, target)] = Route(
                pattern=pattern,
                handler=target,
                url=url,
                methods=_own_methods(target),
                websocket=issubclass(target, tornado.websocket.WebSocketHandler),
            )
    return sorted(routes.values(), key=lambda r: r.pattern)


class ModeAuthorizer(Authorizer):
    """``mode = "all"`` allows everything, ``"read"`` only action ``read``; records each ask."""

    mode: ClassVar[str] = "all"
    seen: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.seen.append((action, resource))
        return ModeAuthorizer.mode == "all" or action == "read"


def documented_paths() -> list[str]:
    """The URL paths ``api/openapi.yaml`` documents (``/jupyter-mlops/api/runs/{run_id}``, ...):
    under the REST API's base, or a path's own ``servers`` entry (``/jupyter-mlops/metrics``)."""
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    out = []
    for path, item in spec["paths"].items():
        servers = item.get("servers") or spec["servers"]
        out.append(str(servers[0]["url"]).rstrip("/") + str(path))
    return out


@pytest.fixture
def routes(jp_serverapp: Any, jp_base_url: str) -> list[Route]:
    """The extension's routes on the running server; at least every documented path."""
    found = extension_routes(jp_serverapp.web_app, jp_base_url)
    documented = documented_paths()
    assert len(found) >= len(documented)
    base = re.escape(jp_base_url.rstrip("/"))
    for path in documented:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))
        assert any(re.fullmatch(base + regex, route.url) for route in found), path
    return found


@pytest.fixture
def authorizer() -> type[ModeAuthorizer]:
    """The server's authorizer class: set ``.mode``, read ``.seen``."""
    return ModeAuthorizer


@pytest.fixture
def token() -> str:
    """The server's token: long and unique, so finding it in a log or body is no accident."""
    return f"mlops-secret-token-{uuid.uuid4().hex}"


@dataclass
class LogCapture:
    """Formatted log records (message and traceback) of every logger while the test runs."""

    lines: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(self.lines)


class _Collect(logging.Handler):
    def __init__(self, capture: LogCapture) -> None:
        super().__init__(level=logging.DEBUG)
        self.capture = capture
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.capture.lines.append(self.format(record))
        except Exception:  # a record that cannot be formatted is still a record
            self.capture.lines.append(repr(record.__dict__))


@pytest.fixture
def server_log(jp_serverapp: Any) -> Iterator[LogCapture]:
    """Attached to the root logger and to every logger that does not propagate."""
    capture = LogCapture()
    handler = _Collect(capture)
    targets = [logging.getLogger()]
    targets += [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = [(logger, logger.level) for logger in targets]
    for logger in targets:
        logger.addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        for logger in targets:
            logger.removeHandler(handler)
        for logger, level in levels:
            logger.setLevel(level)


Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture
def fetch(http_server_client: Any, jp_base_url: str, token: str) -> Fetch:
    """``await fetch(url, method=..., body=..., headers=..., auth=True)`` -> tornado response.

    ``url`` is either a server path starting with ``/`` or one relative to the base URL;
    it is sent as written (no encoding added). Never raises on an HTTP error status.
    """

    async def _fetch(
        url: str,
        *,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = False,
    ) -> Any:
        path = url if url.startswith("/") else jp_base_url + url
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"token {token}"
        if method in ("POST", "PUT", "PATCH") and body is None:
            body = b"{}"
        return await http_server_client.fetch(
            path,
            method=method,
            body=body,
            headers=sent,
            raise_error=False,
            follow_redirects=False,
            allow_nonstandard_methods=True,
        )

    return _fetch
