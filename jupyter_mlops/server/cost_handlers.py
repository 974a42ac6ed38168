"""REST handlers of compute cost (contract: ``api/openapi.yaml``).

* ``GET /cost``: every kernel's last sample and live cost (``CostEngine.status``:
  reads the sampler's last snapshot, no measuring, so it runs on the loop).
* ``GET /cost/report?by=&since=&until=&format=json``: ledger totals grouped
  (in the thread pool: reads the ledger).
* ``GET /cost/budgets``: every budget's spend this period (thread pool).
* ``GET /cost/advice?kernel_id=``: right-sizing advice from a kernel's live peaks
  (``CostEngine.advice``: memory only, on the loop); 404 for a kernel not priced.

Resource ``mlops:cost``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.exceptions import NotFoundError, UsageError
from jupyter_mlops.server.base import MlopsHandler

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.engine import CostEngine

__all__ = [
    "CostAdviceHandler",
    "CostBudgetsHandler",
    "CostReportHandler",
    "CostStatusHandler",
]


def report_json(engine: CostEngine, by: str, since: str, until: str | None) -> dict[str, Any]:
    """The ``CostReport`` of the engine's ledger (blocking)."""
    from jupyter_mlops.core.cost.report import build_report

    if engine.ledger is None:
        raise NotFoundError(
            "The cost ledger is off (c.MlopsConfig.cost_ledger_url = 'memory').",
            hint="set cost_ledger_url to a database URL, or leave it empty for the default",
        )
    return build_report(engine.ledger, by=by, since=since, until=until).to_dict()


class CostHandler(MlopsHandler):
    """Base of the cost handlers: the server's one cost engine, or a 404 when cost is off."""

    auth_resource = "mlops:cost"

    @property
    def engine(self) -> CostEngine:
        engine = self.service.cost
        if engine is None:
            raise NotFoundError(
                "Compute cost is not running on this server.",
                hint="it is off with c.MlopsConfig.cost_enabled = False; the server log says why",
            )
        return engine


class CostStatusHandler(CostHandler):
    """``GET /cost``: what the sampler saw last, with each kernel's live cost."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.engine.status())


class CostReportHandler(CostHandler):
    """``GET /cost/report``: ledger totals by project, notebook, user, kernel, run, day or week."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        fmt = self.optional_arg("format") or "json"
        if fmt != "json":
            raise UsageError(
                f"format {fmt[:20]!r} is not served over REST.",
                hint="use format=json, or `jupyter mlops cost report --format csv`",
            )
        by = self.optional_arg("by") or "project"
        since = self.optional_arg("since") or "7d"
        until = self.optional_arg("until")
        if len(since) > 64 or (until is not None and len(until) > 64):
            raise UsageError("since and until are at most 64 characters.")
        engine = self.engine
        self.reply(await self.service.run(report_json, engine, by, since, until))


class CostBudgetsHandler(CostHandler):
    """``GET /cost/budgets``: each configured budget's spend in its current period."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        engine = self.engine
        self.reply({"budgets": await self.service.run(engine.budget_status)})


class CostAdviceHandler(CostHandler):
    """``GET /cost/advice?kernel_id=``: peaks against the machine, and the cheapest fit."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        kernel_id = self.optional_arg("kernel_id")
        if kernel_id is None or len(kernel_id) > 128:
            raise UsageError("kernel_id is required (at most 128 characters).")
        advice = self.engine.advice(kernel_id)
        if advice is None:
            raise NotFoundError(
                f"No cost figures for kernel {kernel_id[:40]!r}.",
                hint="the kernel is unknown, or started less than a few seconds ago",
            )
        self.reply(advice)
