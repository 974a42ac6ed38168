"""The base of every jupyter-mlops handler: :class:`MlopsHandler`.

It gives a handler the :class:`~jupyter_mlops.server.service.MlopsService`, strict
JSON replies, checked query arguments and JSON bodies, and turns every error into
a JSON response through :mod:`jupyter_mlops.server.errors` (never a traceback).

Every handler method is ``@tornado.web.authenticated`` then ``@authorized`` (or
:func:`authorized_to` for an action other than ``read``) on the class's
``auth_resource``, which starts with ``mlops:``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server import errors
from jupyter_mlops.server.service import SERVICE_SETTING, MlopsService

__all__ = ["MAX_BODY", "MlopsHandler", "authorized_to"]

MAX_BODY = 1_000_000
"""Bytes a JSON request body may have."""
F = TypeVar("F", bound=Callable[..., Any])


def authorized_to(action: str) -> Callable[[F], F]:
    """``@authorized(action=...)`` with its type kept (``write``, ``execute``)."""
    return cast("Callable[[F], F]", authorized(action=action))


class MlopsHandler(ExtensionHandlerMixin, APIHandler):
    """Base of every jupyter-mlops handler: the service, JSON replies and error mapping."""

    auth_resource = "mlops:runs"

    @property
    def service(self) -> MlopsService:
        """The service built once by ``MlopsExtensionApp.initialize_settings``."""
        return cast("MlopsService", self.settings[SERVICE_SETTING])

    def reply(self, body: dict[str, Any]) -> None:
        """Finish with ``body`` as strict JSON (no NaN)."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body, allow_nan=False))

    def optional_arg(self, name: str) -> str | None:
        """A query argument, ``None`` when absent or empty."""
        value = self.get_query_argument(name, None)
        return value if value else None

    def int_arg(self, name: str, default: int, low: int, high: int) -> int:
        """An integer query argument in ``[low, high]``; anything else is a 400."""
        raw = self.optional_arg(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise UsageError(
                f"{name} must be an integer from {low} to {high}, got {raw[:40]!r}.",
            )
        return value

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON errors from :func:`errors.error_response`; never a traceback."""
        exc_info = kwargs.get("exc_info")
        status, body = errors.error_response(status_code, exc_info[1] if exc_info else None)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Expected errors in one line; unexpected ones with their traceback (server log only)."""
        summary = f"{self.request.method} {self.request.path}"
        if not errors.log_exception(self.log, summary, (typ, value, tb)):
            super().log_exception(typ, value, tb)

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; anything else is a 400."""
        raw = self.request.body or b""
        if len(raw) > MAX_BODY:
            raise UsageError(f"The request body is over {MAX_BODY} bytes.")
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise UsageError("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise UsageError("The request body must be a JSON object.")
        return body
