"""REST handlers under ``/jupyter-mlops/api/`` (contract: ``api/openapi.yaml``).

Each method parses its input, runs one ``jupyter_mlops.core.tracking.query`` function in
the extension's thread pool and finishes with JSON. Errors are turned into
responses in one place, :mod:`jupyter_mlops.server.errors`.

Every method is ``@tornado.web.authenticated`` then ``@authorized``; the
authorization resources are ``mlops:health``, ``mlops:experiments``, ``mlops:runs``
and ``mlops:environment`` (action ``read`` for GET). The environment routes live in
:mod:`.env_handlers` and are part of :data:`default_handlers`.
"""

from __future__ import annotations

import json
from typing import Any, cast

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from jupyter_mlops.core.tracking import query
from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server import errors
from jupyter_mlops.server.app import SERVICE_SETTING, MlopsService

__all__ = [
    "API_PREFIX",
    "ExperimentsHandler",
    "HealthHandler",
    "MetricHistoryHandler",
    "MlopsHandler",
    "RunHandler",
    "RunsHandler",
    "default_handlers",
]

API_PREFIX = "/jupyter-mlops/api"


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


class HealthHandler(MlopsHandler):
    """``GET /health``: version, redacted tracking URI and project. Never touches the store."""

    auth_resource = "mlops:health"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.service.health())


class ExperimentsHandler(MlopsHandler):
    """``GET /experiments``: active experiments, newest first."""

    auth_resource = "mlops:experiments"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.call(query.list_experiments))


class RunsHandler(MlopsHandler):
    """``GET /runs``: one page of runs, filtered and sorted by the store."""

    auth_resource = "mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        experiment_ids = [
            part.strip()
            for raw in self.get_query_arguments("experiment_id")
            for part in raw.split(",")
            if part.strip()
        ]
        result = await self.service.call(
            query.search_runs,
            experiment_ids=experiment_ids or None,
            status=self.optional_arg("status"),
            search=self.optional_arg("search"),
            filter=self.optional_arg("filter"),
            order_by=self.optional_arg("order_by") or query.DEFAULT_ORDER_BY,
            max_results=self.int_arg("max_results", 100, 1, query.MAX_RESULTS_LIMIT),
            page_token=self.optional_arg("page_token"),
        )
        self.reply(result)


class RunHandler(MlopsHandler):
    """``GET /runs/{run_id}``: one run with all params, tags and latest metrics."""

    auth_resource = "mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        query.validate_run_id(run_id)
        self.reply(await self.service.call(query.get_run, run_id))


class MetricHistoryHandler(MlopsHandler):
    """``GET /runs/{run_id}/metrics/{key}``: full history of one metric.

    Tornado has already URL-unescaped the path arguments once, so ``loss%2Ftrain``
    and ``loss/train`` both arrive as ``loss/train`` (unescaping again would break
    keys that contain ``%``).
    """

    auth_resource = "mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str, key: str) -> None:
        query.validate_run_id(run_id)
        self.reply(await self.service.call(query.metric_history, run_id, key))


default_handlers: list[tuple[str, type[MlopsHandler]]] = [
    (f"{API_PREFIX}/health", HealthHandler),
    (f"{API_PREFIX}/experiments", ExperimentsHandler),
    (f"{API_PREFIX}/runs", RunsHandler),
    (f"{API_PREFIX}/runs/([^/]+)", RunHandler),
    (f"{API_PREFIX}/runs/([^/]+)/metrics/(.+)", MetricHistoryHandler),
]
"""``(pattern, handler)`` pairs; the server prepends its ``base_url``."""

# The environment routes (their own module, which builds on MlopsHandler above).
from jupyter_mlops.server.env_handlers import ENVIRONMENT_HANDLERS  # noqa: E402

default_handlers.extend(ENVIRONMENT_HANDLERS)

# The compute cost routes (their own module, likewise).
from jupyter_mlops.server.cost_handlers import COST_HANDLERS  # noqa: E402

default_handlers.extend(COST_HANDLERS)

# The pipeline routes (their own module, likewise).
from jupyter_mlops.server.pipeline_handlers import PIPELINE_HANDLERS  # noqa: E402

default_handlers.extend(PIPELINE_HANDLERS)

# The artifact and MLflow UI routes (their own module, likewise).
from jupyter_mlops.server.artifact_handlers import ARTIFACT_HANDLERS  # noqa: E402

default_handlers.extend(ARTIFACT_HANDLERS)
