"""REST handlers of the tracking store: health, experiments, runs, metric history.

* ``GET /health``: version, redacted tracking URI and project (no store access).
* ``GET /experiments``, ``GET /runs``, ``GET /runs/{run_id}``,
  ``GET /runs/{run_id}/metrics/{key}``.

Each method parses its input, runs one :mod:`jupyter_mlops.core.tracking.query`
function in the extension's thread pool and replies with JSON. The resources are
``mlops:health``, ``mlops:experiments`` and ``mlops:runs`` (action ``read``).
"""

from __future__ import annotations

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.core.tracking import query, run_listing
from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server.base import MlopsHandler

__all__ = [
    "ExperimentsHandler",
    "HealthHandler",
    "MetricHistoryHandler",
    "RunHandler",
    "RunsHandler",
]


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
    """``GET /runs``: one page of runs, filtered and sorted by the store.

    ``q`` is the search box (MLflow's filter syntax or the shorthand),
    ``top_level=true`` lists runs without a parent (with their children's
    summaries), ``parent=<run id>`` the children of one run.
    """

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
        top_level = (self.optional_arg("top_level") or "false").lower()
        if top_level not in {"true", "false", "1", "0"}:
            raise UsageError("top_level must be true or false.")
        result = await self.service.call(
            run_listing.list_runs,
            experiment_ids=experiment_ids or None,
            q=self.optional_arg("q"),
            top_level=top_level in {"true", "1"},
            parent=self.optional_arg("parent"),
            best=self.optional_arg("best"),
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
