"""The jupyter-mlops server extension: builds the core objects once and serves the REST API.

Configuration is :class:`~jupyter_mlops.config.MlopsConfig` (``c.MlopsConfig.tracking_uri``,
``c.MlopsConfig.project``, ...), the same surface the kernel side and the CLI read.
At start the extension exports the resolved store, root folder and project
(``MLFLOW_TRACKING_URI``, ``JUPYTER_MLOPS_ROOT_DIR``, ``JUPYTER_MLOPS_PROJECT``)
into the server's environment, so every kernel it starts, whatever folder its
notebook is in, logs to the store the panel reads.

MLflow is not imported while the server starts: once the event loop runs, the
store is opened in the background (``c.MlopsExtensionApp.warm_up``), in the
extension's own small thread pool, never on the tornado event loop; without
warm-up the first request that needs the store opens it.

Compute cost: once the event loop runs, one
:class:`~jupyter_mlops.core.cost.CostEngine` is built from the ``cost_*``
traits of ``MlopsConfig`` (in the thread pool: it opens the ledger) and
started; a ``PeriodicCallback`` keeps its targets in step with the running
kernels (:class:`~jupyter_mlops.server.cost.KernelCostTracker`). It stops with
the server.

The handlers get the :class:`~jupyter_mlops.server.service.MlopsService` built
here; the routes are the table :data:`jupyter_mlops.server.routes.ROUTES`.

Pipelines: one :class:`~jupyter_mlops.core.pipeline.launches.LaunchRegistry` (root:
the contents manager's) runs the pipelines started over REST on threads of
its own; when the server stops it cancels them and waits for them to end.

Schedules: one :class:`~jupyter_mlops.server.schedule_handlers.ServerSchedules` (the
schedule store in the cost ledger's database, and a scheduler whose firings start
through the launch registry). With ``c.MlopsExtensionApp.run_schedules`` (the
default) its loop runs on a thread of its own from the end of the warm-up until
the server stops; then its running firings are cancelled (their runs end KILLED).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
from typing import TYPE_CHECKING, Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Integer

from jupyter_mlops.config import (
    ENV_COST_BUDGETS,
    ENV_COST_CATALOGUE,
    ENV_COST_LEDGER,
    ENV_PROJECT,
    ENV_ROOT_DIR,
    MlopsConfig,
    cost_settings,
)
from jupyter_mlops.core.tracking.store import redact_uri
from jupyter_mlops.core.version import __version__
from jupyter_mlops.server.service import LAUNCHES_SETTING, SERVICE_SETTING, MlopsService

if TYPE_CHECKING:
    import logging

    from jupyter_mlops.core.pipeline.launches import LaunchRegistry
    from jupyter_mlops.server.events import EventFeed
    from jupyter_mlops.server.schedule_handlers import ServerSchedules

__all__ = [
    "MlopsExtensionApp",
    "export_cost_environment",
    "export_environment",
]


def export_environment(
    tracking_uri: str, root_dir: str, project: str, log: logging.Logger | None = None
) -> None:
    """Put the resolved settings into ``os.environ`` so kernels started by this server inherit them.

    ``MLFLOW_TRACKING_URI`` already set by the user is what ``tracking_uri`` was
    resolved from, unless ``c.MlopsConfig.tracking_uri`` overrides it; then the
    configured value wins for kernels too (panel and kernels must share a store).
    """
    current = os.environ.get("MLFLOW_TRACKING_URI")
    if current != tracking_uri:
        if current and log is not None:
            log.warning(
                "jupyter-mlops: c.MlopsConfig.tracking_uri (%s) overrides MLFLOW_TRACKING_URI "
                "(%s) for kernels started by this server",
                redact_uri(tracking_uri),
                redact_uri(current),
            )
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    os.environ[ENV_ROOT_DIR] = root_dir
    os.environ[ENV_PROJECT] = project


def export_cost_environment(config: MlopsConfig, ledger_url: str) -> None:
    """Give kernels this server's ledger, catalogue and budgets (``%mlops`` budget warnings).

    With a ledger, this server books its kernels' cost: ``JUPYTER_MLOPS_COST_BOOKER_PID``
    tells them so (their runs then do not book their own trees a second time; see
    :mod:`jupyter_mlops.core.cost.booking`), and ``JUPYTER_MLOPS_COST_LEDGER`` points
    them, and ``jupyter mlops cost report`` in a terminal of this server, at the ledger.
    """
    from jupyter_mlops.core.cost.booking import booker_env
    from jupyter_mlops.core.cost.carbon import carbon_env

    os.environ.update(carbon_env(config.carbon_region, config.carbon_intensity))
    if ledger_url != "memory":
        os.environ[ENV_COST_LEDGER] = ledger_url
        os.environ.update(booker_env())
    if config.cost_catalogue_file:
        os.environ[ENV_COST_CATALOGUE] = config.cost_catalogue_file
    if config.cost_budgets:
        os.environ[ENV_COST_BUDGETS] = json.dumps(config.cost_budgets)


def _freeze_heap(_done: Any = None) -> None:
    """Exempt what the server holds now from future collections (see ``freeze_startup_heap``)."""
    gc.collect()  # what is garbage already is not frozen with the rest
    gc.freeze()


class MlopsExtensionApp(ExtensionApp):
    """Jupyter server extension of jupyter-mlops: REST API under ``/jupyter-mlops/api/``."""

    name = "jupyter_mlops"
    description = "Experiment tracking (MLflow), compute cost and pipelines for JupyterLab."
    load_other_extensions = True
    classes = [MlopsConfig]  # noqa: RUF012 - traitlets' own class attribute

    max_workers = Integer(
        4,
        help="Threads that run blocking tracking-store calls (MLflow) off the server's event loop.",
    ).tag(config=True)

    warm_up = Bool(
        True,
        help="Open the tracking store (import MLflow, create or migrate the SQLite schema) in "
        "the background as soon as the server runs, so the panel's first request is quick. "
        "False: open it on the first request.",
    ).tag(config=True)

    recover_interval = Integer(
        30,
        help="Seconds between sweeps that replay the metric spools of dead kernels and mark "
        "their runs KILLED (0: only at start).",
    ).tag(config=True)

    freeze_startup_heap = Bool(
        True,
        help="Once the warm-up has opened the tracking store (MLflow, SQLAlchemy and pandas "
        "imported), move every object the server holds then into the garbage collector's "
        "permanent generation (gc.freeze). Those objects live as long as the server, and "
        "without this every full collection walks all of them: pauses of 150-250 ms that "
        "stall every request (seen as the p99 of the Cost history route). False: leave the "
        "collector alone.",
    ).tag(config=True)

    cost_sync_interval = Float(
        2.0,
        help="Seconds between checks of which kernels run (their processes are then sampled "
        "every c.MlopsConfig.cost_interval seconds).",
    ).tag(config=True)

    run_schedules = Bool(
        True,
        help="Fire the pipeline schedules (jupyter mlops schedule add, the Pipelines view) while "
        "the server runs, on a thread of its own once the warm-up is done. A headless "
        "`jupyter mlops scheduler` on the same database may run too: each firing runs once. "
        "False: this server lists and edits schedules but fires none (run-now still works).",
    ).tag(config=True)

    schedule_interval = Float(
        5.0,
        help="Seconds between two looks at the schedules for due firings (a firing runs at "
        "most this late).",
    ).tag(config=True)

    service: MlopsService | None = None
    launches: LaunchRegistry | None = None
    schedules: ServerSchedules | None = None
    events: EventFeed | None = None
    _schedule_stop: threading.Event | None = None
    _schedule_thread: threading.Thread | None = None
    _recover_timer: Any = None
    _cost_timer: Any = None
    _idle_timer: Any = None
    _activity_timer: Any = None
    _started = False  # a second start (a test's second _post_start) would run all twice

    def initialize_settings(self) -> None:
        """Resolve store and project, export them for kernels, build the service for the handlers."""
        assert self.serverapp is not None
        config = MlopsConfig(parent=self)
        if not config.trait_has_value("root_dir"):
            config.root_dir = os.path.abspath(self.serverapp.root_dir)
        tracking_uri = config.resolved_tracking_uri()
        project = config.resolved_project()
        export_environment(tracking_uri, config.root_dir, project, self.log)
        self.service = MlopsService(
            tracking_uri=tracking_uri,
            project=project,
            root_dir=config.root_dir,
            max_workers=max(1, self.max_workers),
            spool_dir=config.spool_dir,
        )
        if config.cost_enabled:
            settings = cost_settings(config)
            self.service.cost_settings = settings
            export_cost_environment(config, settings.ledger_url)
        self.settings[SERVICE_SETTING] = self.service
        from jupyter_mlops.server.metrics_handler import METRICS_SETTING, ServerMetrics

        self.settings[METRICS_SETTING] = ServerMetrics(self.service)
        from jupyter_mlops.core.pipeline.launches import LaunchRegistry

        contents = self.serverapp.contents_manager
        self.launches = LaunchRegistry(
            getattr(contents, "root_dir", None) or self.serverapp.root_dir,
            tracking_uri=tracking_uri,
            allow_hidden=bool(getattr(contents, "allow_hidden", False)),
            log=self.log,
        )
        self.settings[LAUNCHES_SETTING] = self.launches
        from jupyter_mlops.server.pipeline_handlers import hard_budget_guard

        self.launches.guards.append(hard_budget_guard(self.service))  # hard budgets refuse
        from jupyter_mlops.core.notify import Notifier
        from jupyter_mlops.server.events import EVENTS_SETTING, EventFeed

        self.events = EventFeed(  # toasts and outgoing notifications (docs/notifications.md)
            Notifier(config.notify_urls, log=self.log), notify_finished=config.notify_finished
        )
        self.launches.listeners.append(self.events.on_launch_ended)
        self.settings[EVENTS_SETTING] = self.events
        from jupyter_mlops.core.pipeline.schedules import schedule_url
        from jupyter_mlops.server.schedule_handlers import SCHEDULES_SETTING, ServerSchedules

        ledger = self.service.cost_settings.ledger_url if self.service.cost_settings else ""
        url = (
            ledger if ledger and ledger != "memory" else schedule_url(config.root_dir, tracking_uri)
        )
        self.schedules = ServerSchedules(url, self.launches, self.log)
        self.settings[SCHEDULES_SETTING] = self.schedules
        self.log.info(
            "jupyter-mlops %s: tracking store %s, project %r",
            __version__,
            redact_uri(tracking_uri),
            project,
        )

    def initialize_handlers(self) -> None:
        """Register the REST routes of :data:`jupyter_mlops.server.routes.ROUTES`."""
        from jupyter_mlops.server.routes import ROUTES

        self.handlers.extend(ROUTES)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Called once the event loop runs: start the background warm-up."""
        if self.service is None or self._started:
            return
        self._started = True
        if self.warm_up:
            warming = self.service.warm_up(self.log)
            if self.freeze_startup_heap:
                warming.add_done_callback(_freeze_heap)
        self.service.recover(self.log)
        if self.recover_interval > 0:
            from tornado.ioloop import PeriodicCallback

            service, log = self.service, self.log

            def sweep() -> None:
                service.recover(log)

            self._recover_timer = PeriodicCallback(sweep, self.recover_interval * 1000)
            self._recover_timer.start()
        self._start_schedules()
        self._start_activity(serverapp)
        if self.events is not None:
            self.events.start()
        await self._start_cost(serverapp)

    def _start_schedules(self) -> None:
        """The scheduler loop on a thread of its own; it waits for the warm-up to end first."""
        if self.schedules is None or self.service is None or not self.run_schedules:
            return
        self._schedule_stop = threading.Event()
        self._schedule_thread = threading.Thread(
            target=self.schedules.serve,
            args=(self._schedule_stop, max(0.5, self.schedule_interval), self.service.warming),
            name="jupyter-mlops-scheduler",
            daemon=True,
        )
        self._schedule_thread.start()

    async def _start_cost(self, serverapp: Any) -> None:
        """Build and start the cost engine off the loop, then sync kernels every few seconds."""
        service = self.service
        if service is None or service.cost_settings is None:
            return
        try:
            engine = await service.run(service.start_cost)
        except Exception as exc:
            self.log.warning("jupyter-mlops: compute cost is off: %s", exc)
            from jupyter_mlops.core.cost.booking import ENV_BOOKER_PID

            os.environ.pop(ENV_BOOKER_PID, None)  # kernels started from now on book their runs
            return
        if engine is None:
            return
        if self.events is not None:
            engine.listeners.append(self.events.publish)
        from tornado.ioloop import PeriodicCallback

        from jupyter_mlops.server.cost import KernelCostTracker, RunLabels, running_runs_by_kernel

        ledger = engine.ledger
        tagged: dict[str, dict[str, str]] = {}  # run id -> user tags already in the ledger

        async def runs() -> dict[str, RunLabels]:
            return await service.call(running_runs_by_kernel, ledger, tagged)

        tracker = KernelCostTracker(
            engine,
            serverapp.kernel_manager,
            getattr(serverapp, "session_manager", None),
            project=service.project,
            log=self.log,
            runs=runs,
        )
        service.cost_tracker = tracker
        await tracker.sync()
        self._cost_timer = PeriodicCallback(tracker.sync, max(0.1, self.cost_sync_interval) * 1000)
        self._cost_timer.start()
        self._start_idle_policy(engine, serverapp)

    def _start_idle_policy(self, engine: Any, serverapp: Any) -> None:
        """Log each bad idle_policy rule once; apply the policy's decisions to the kernels."""
        from tornado.ioloop import PeriodicCallback

        from jupyter_mlops.server.idle import IdlePolicyDriver

        for error in engine.policy_errors:
            self.log.error("jupyter-mlops: %s; this rule only notifies", error)
        if not engine.policy.rules or self.service is None:
            return
        driver = IdlePolicyDriver(engine, serverapp.kernel_manager, self.service, log=self.log)
        driver.install()
        self._idle_timer = PeriodicCallback(driver.tick, 1000)
        self._idle_timer.start()

    def _start_activity(self, serverapp: Any) -> None:
        """Pipeline runs and scheduled firings count as server activity (for hub cullers)."""
        from tornado.ioloop import PeriodicCallback

        from jupyter_mlops.server.idle import feed_activity

        launches, settings = self.launches, serverapp.web_app.settings
        if launches is None:
            return

        def feed() -> None:
            feed_activity(settings, launches)

        self._activity_timer = PeriodicCallback(feed, 2000)
        self._activity_timer.start()

    async def stop_extension(self) -> None:
        """Stop the recovery sweeps and release the thread pool when the server stops."""
        if self._recover_timer is not None:
            self._recover_timer.stop()
        for timer in (self._cost_timer, self._idle_timer, self._activity_timer):
            if timer is not None:
                timer.stop()
        loop = asyncio.get_running_loop()
        if self._schedule_stop is not None and self._schedule_thread is not None:
            self._schedule_stop.set()  # the loop cancels its firings and waits for them
            await loop.run_in_executor(None, self._schedule_thread.join, 90.0)
        if self.launches is not None:  # cancel pipeline runs; off the loop: joins their threads
            await asyncio.get_running_loop().run_in_executor(None, self.launches.shutdown)
        if self.events is not None:  # sends what is queued; off the loop
            await loop.run_in_executor(None, self.events.close)
        if self.service is not None and self.service.cost is not None:
            try:  # off the event loop: joins the sampler thread, writes the ledger
                await self.service.run(self.service.stop_cost)
            except Exception as exc:
                self.log.warning("jupyter-mlops: stopping compute cost failed: %s", exc)
        if self.service is not None:
            self.service.shutdown()
