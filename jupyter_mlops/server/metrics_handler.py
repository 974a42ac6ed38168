"""``GET /jupyter-mlops/metrics``: compute cost for Prometheus (text format; docs/metrics.md).

Beside the REST API, not under it (``/jupyter-mlops/metrics``, Prometheus's usual
path shape), but authenticated like every route: ``Authorization: token <t>`` (or
``bearer``) or ``?token=``; authorized ``read`` on ``mlops:cost``. A scrape is not
user activity: it does not move jupyter_server's last-activity time, so an idle
culler still sees an idle server.

:class:`ServerMetrics` (built once by the extension app) holds what a scrape
renders, so a scrape does no I/O and never waits:

* the cost counters (:class:`~jupyter_mlops.core.cost.prom.CostCounters`): loaded
  in the thread pool after the cost engine runs (the first scrape starts it; until
  then the counters are left out), then advanced by every batch the accountant
  writes, and reloaded every ``reload_interval`` seconds (rows other processes
  booked: a headless run, another server on a shared ledger);
* budgets (``CostEngine.budget_status`` reads the ledger) and run counts by
  status (the tracking store): cached, refreshed in the thread pool at most every
  ``refresh_interval`` seconds, in the background of a scrape;
* the kernels' live gauges: ``CostEngine.status``, the sampler's last snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.server.base import MlopsHandler

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from jupyter_mlops.core.cost.carbon import CarbonIntensity
    from jupyter_mlops.core.cost.engine import CostEngine
    from jupyter_mlops.core.cost.prom import CostCollector
    from jupyter_mlops.server.service import MlopsService

__all__ = ["METRICS_PATH", "METRICS_SETTING", "MetricsHandler", "ServerMetrics", "run_counts"]

METRICS_PATH = "/jupyter-mlops/metrics"
METRICS_SETTING = "jupyter_mlops_metrics"
_PAGE = 50_000  # MLflow's largest search page
_log = logging.getLogger("jupyter_mlops.server")


def run_counts(client: MlflowClient) -> dict[str, int]:
    """Runs of every active experiment by status (blocking).

    On MLflow's SQL store one ``GROUP BY status`` (no run is loaded); on another
    store, pages of MLflow's search.
    """
    from jupyter_mlops.core.tracking.query import experiment_ids_or_all

    ids = experiment_ids_or_all(client, None)
    if not ids:
        return {}
    counted = _sql_counts(client, ids)
    if counted is not None:
        return counted
    counts: Counter[str] = Counter()
    token = None
    while True:
        page = client.search_runs(ids, max_results=_PAGE, page_token=token)
        counts.update(run.info.status for run in page)
        token = page.token
        if not token:
            return dict(counts)


def _sql_counts(client: MlflowClient, ids: list[str]) -> dict[str, int] | None:
    try:
        from mlflow.store.tracking.dbmodels import models
        from sqlalchemy import func, select

        from jupyter_mlops.core.tracking.sql_order import _int_ids, _sql_store
    except ImportError:
        return None
    store, numbers = _sql_store(client), _int_ids(ids)
    if store is None or numbers is None:
        return None
    run = models.SqlRun
    stmt: Any = (
        select(run.status, func.count())
        .where(run.experiment_id.in_(numbers), run.lifecycle_stage == "active")
        .group_by(run.status)
    )
    with store.ManagedSessionMaker() as session:
        return {str(status): int(n) for status, n in session.execute(stmt)}


class ServerMetrics:
    """What ``/jupyter-mlops/metrics`` renders: in-memory counters and cached figures."""

    def __init__(
        self,
        service: MlopsService,
        *,
        refresh_interval: float = 30.0,
        reload_interval: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from jupyter_mlops.core.cost.prom import CostCounters

        self.service = service
        self.refresh_interval = refresh_interval
        self.reload_interval = reload_interval
        self.clock = clock
        self.counters = CostCounters()
        self.budgets: list[dict[str, Any]] | None = None
        self.runs: dict[str, int] | None = None
        self._followed: CostEngine | None = None
        self._refreshed: float | None = None
        self._loaded: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._carbon: CarbonIntensity | None = None

    def poke(self) -> None:
        """On a scrape (event loop): start a background refresh when one is due."""
        if self._task is not None and not self._task.done():
            return
        now = self.clock()
        if self._refreshed is not None and now - self._refreshed < self.refresh_interval:
            return
        self._refreshed = now
        self._task = asyncio.ensure_future(self.refresh())

    async def refresh(self) -> None:
        """Counters (first time or reload due), budgets and run counts, in the thread pool."""
        service, log = self.service, _log
        engine = service.cost
        try:
            if engine is not None and engine.ledger is not None:
                due = self._loaded is None or self.clock() - self._loaded >= self.reload_interval
                if engine is not self._followed or due:
                    await service.run(self._load, engine)
                    self._loaded = self.clock()
                self.budgets = await service.run(engine.budget_status)
        except Exception as exc:
            log.warning("jupyter-mlops metrics: reading the cost ledger failed: %s", exc)
        if not service.tracking_uri:
            return
        try:
            self.runs = await service.call(run_counts)
        except Exception as exc:
            log.warning("jupyter-mlops metrics: counting runs failed: %s", exc)

    def _load(self, engine: CostEngine) -> None:
        """Load the counters with no flush in between; follow a new engine's flushes."""
        assert engine.ledger is not None
        ledger, counters = engine.ledger, self.counters

        def load() -> None:
            counters.load(ledger)
            if engine is not self._followed:
                engine.accountant.flushed.append(counters.add)
                self._followed = engine

        engine.accountant.quiet(load)

    def collector(self) -> CostCollector:
        from jupyter_mlops.core.cost.carbon import resolve_intensity
        from jupyter_mlops.core.cost.prom import CostCollector

        engine = self.service.cost
        settings = self.service.cost_settings
        if engine is not None:
            carbon = engine.carbon
        elif self._carbon is not None:
            carbon = self._carbon
        else:  # cost is off or starting: the configured grid, its error logged once
            region, override = (
                ("", 0.0)
                if settings is None
                else (settings.carbon_region, settings.carbon_intensity)
            )
            carbon = self._carbon = resolve_intensity(region, override)
        status: Callable[[], Mapping[str, Any]] | None = None if engine is None else engine.status
        return CostCollector(
            self.counters,
            carbon,
            status=status,
            budgets=lambda: self.budgets,
            runs=lambda: self.runs,
        )

    def render(self) -> bytes:
        from jupyter_mlops.core.cost.prom import render

        return render(self.collector())


class MetricsHandler(MlopsHandler):
    """``GET /jupyter-mlops/metrics``: the Prometheus exposition of compute cost."""

    auth_resource = "mlops:cost"
    _track_activity = False  # a scrape is not user activity (hub cullers)

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST

        metrics: ServerMetrics = self.settings[METRICS_SETTING]
        metrics.poke()
        self.finish(metrics.render(), set_content_type=CONTENT_TYPE_LATEST)
