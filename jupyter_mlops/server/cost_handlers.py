"""REST handlers of compute cost (contract: ``api/openapi.yaml``).

* ``GET /cost``: every kernel's last sample and live cost (``CostEngine.status``:
  reads the sampler's last snapshot, no measuring, so it runs on the loop).
* ``GET /cost/report?by=&since=&until=&format=json``: ledger totals grouped
  (in the thread pool: reads the ledger).
* ``GET /cost/history?range=&by=``: cost over time from the ledger, per group and
  bucket (``core.cost.history``; thread pool), the Cost view's chart.
* ``GET /cost/budgets``: every budget's spend this period (thread pool).
* ``GET /cost/advice?kernel_id=``: right-sizing advice from a kernel's live peaks
  (``CostEngine.advice``: memory only, on the loop); 404 for a kernel not priced.
* ``POST /cost/keep-alive`` ``{"kernel_id", "minutes"}``: the idle policy leaves the
  kernel alone for that long (0: no longer); written to the ledger in the thread
  pool; 404 for a kernel this server does not run (resource action ``write``).

Resource ``mlops:cost``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.exceptions import InvalidValueError, NotFoundError, UsageError
from jupyter_mlops.server.base import MlopsHandler, authorized_to

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.engine import CostEngine
    from jupyter_mlops.core.cost.ledger import Ledger

__all__ = [
    "CostAdviceHandler",
    "CostBudgetsHandler",
    "CostHistoryHandler",
    "CostKeepAliveHandler",
    "CostReportHandler",
    "CostStatusHandler",
]


def _ledger(engine: CostEngine) -> Ledger:
    """The engine's ledger, or a 404 when it is off."""
    if engine.ledger is None:
        raise NotFoundError(
            "The cost ledger is off (c.MlopsConfig.cost_ledger_url = 'memory').",
            hint="set cost_ledger_url to a database URL, or leave it empty for the default",
        )
    return engine.ledger


KEEP_ALIVE_MAX_MINUTES = 7 * 24 * 60
"""The longest keep-alive one request may ask for (a week)."""


def report_json(engine: CostEngine, by: str, since: str, until: str | None) -> dict[str, Any]:
    """The ``CostReport`` of the engine's ledger (blocking)."""
    from jupyter_mlops.core.cost.report import build_report

    report = build_report(_ledger(engine), by=by, since=since, until=until, carbon=engine.carbon)
    return report.to_dict()


def history_json(engine: CostEngine, range_: str, by: str) -> dict[str, Any]:
    """The ``CostHistory`` of the engine's ledger (blocking)."""
    from jupyter_mlops.core.cost.history import history

    return history(_ledger(engine), range_, by)


class CostHandler(MlopsHandler):
    """Base of the cost handlers: the server's one cost engine, or a 404 when cost is off."""

    auth_resource = "mlops:cost"

    @property
    def engine(self) -> CostEngine:
        engine = self.service.cost
        if engine is None and self.service.cost_settings is not None:
            raise NotFoundError(
                "Compute cost is starting on this server.",
                hint="it reads the ledger as the server starts; try again in a moment",
            )
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


class CostHistoryHandler(CostHandler):
    """``GET /cost/history``: allocated cost per group and time bucket over the last range."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        range_ = self.optional_arg("range") or "1h"
        by = self.optional_arg("by") or "notebook"
        if len(range_) > 8 or len(by) > 256:
            raise UsageError(
                "range is at most 8 characters and by at most 256.",
                hint="range: 1h, 24h, 7d or 30d; by: notebook, project, user or tag:KEY",
            )
        engine = self.engine
        self.reply(await self.service.run(history_json, engine, range_, by))


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


class CostKeepAliveHandler(CostHandler):
    """``POST /cost/keep-alive``: the idle policy leaves a kernel alone for some minutes."""

    @tornado.web.authenticated
    @authorized_to("write")
    async def post(self) -> None:
        body = self.json_body()
        kernel_id, minutes = body.get("kernel_id"), body.get("minutes", 120)
        if not isinstance(kernel_id, str) or not 0 < len(kernel_id) <= 128:
            raise UsageError("kernel_id is required (a string of at most 128 characters).")
        number = isinstance(minutes, int | float) and not isinstance(minutes, bool)
        if not number or not 0 <= minutes <= KEEP_ALIVE_MAX_MINUTES:
            raise InvalidValueError(
                f"minutes must be a number from 0 to {KEEP_ALIVE_MAX_MINUTES}, got {minutes!r:.40}.",
                hint="120 keeps the kernel alive for 2 hours; 0 ends a keep-alive",
            )
        engine = self.engine
        if kernel_id not in self.kernel_manager:
            raise NotFoundError(
                f"No kernel {kernel_id[:40]!r} runs on this server.",
                hint="GET /api/kernels lists the running kernels",
            )
        user = getattr(self.current_user, "username", "") or ""
        until = await self.service.run(engine.keep_alive, kernel_id, float(minutes), user)
        self.reply({"kernel_id": kernel_id, "until": until})
