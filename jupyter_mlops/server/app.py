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

Pipelines: one :class:`~jupyter_mlops.server.pipelines.LaunchRegistry` (root:
the contents manager's) runs the pipelines started over REST on threads of
its own; when the server stops it cancels them and waits for them to end.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Integer

from jupyter_mlops import __version__
from jupyter_mlops.config import (
    ENV_COST_BUDGETS,
    ENV_COST_CATALOGUE,
    ENV_COST_LEDGER,
    ENV_PROJECT,
    ENV_ROOT_DIR,
    MlopsConfig,
    cost_settings,
)
from jupyter_mlops.core.tracking import query
from jupyter_mlops.core.tracking.readcache import ReadCache
from jupyter_mlops.core.tracking.store import redact_uri

if TYPE_CHECKING:
    import logging

    from mlflow import MlflowClient

    from jupyter_mlops.core.cost.engine import CostEngine, CostSettings
    from jupyter_mlops.server.cost import KernelCostTracker
    from jupyter_mlops.server.pipelines import LaunchRegistry

__all__ = [
    "SERVICE_SETTING",
    "MlopsExtensionApp",
    "MlopsService",
    "export_cost_environment",
    "export_environment",
]

SERVICE_SETTING = "jupyter_mlops_service"
"""Key of the :class:`MlopsService` in the tornado application settings."""

P = ParamSpec("P")
T = TypeVar("T")


class MlopsService:
    """What the handlers use: the resolved store and project, and a thread pool for blocking calls.

    Handlers never build clients or stores: they pass a core function to
    :meth:`call`, which runs it in the pool with the one ``MlflowClient`` of
    this server's tracking URI.
    """

    def __init__(
        self,
        *,
        tracking_uri: str,
        project: str,
        root_dir: str,
        max_workers: int,
        spool_dir: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.spool_dir = spool_dir
        self.project = project
        self.root_dir = root_dir
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="jupyter-mlops"
        )
        self.reads = ReadCache(tracking_uri)
        self.warming: Future[Any] | None = None
        self.cost_settings: CostSettings | None = None
        self.cost: CostEngine | None = None
        self.cost_tracker: KernelCostTracker | None = None

    def health(self) -> dict[str, Any]:
        """The ``Health`` object of the REST contract (no store access)."""
        return {
            "version": __version__,
            "tracking_uri": redact_uri(self.tracking_uri),
            "project": self.project,
        }

    def _call_sync(
        self,
        fn: Callable[Concatenate[MlflowClient, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        return fn(query.connect(self.tracking_uri), *args, **kwargs)

    async def call(
        self,
        fn: Callable[Concatenate[MlflowClient, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``fn(client, *args, **kwargs)`` in the thread pool, awaited from the event loop.

        The questions the panel polls, on the embedded store, get the answer computed
        at the store's current version when there is one, and identical questions in
        flight share one computation (:mod:`jupyter_mlops.core.tracking.readcache`).
        """
        loop = asyncio.get_running_loop()
        job = functools.partial(self._call_sync, fn, *args, **kwargs)
        if not self.reads.reusable(fn):
            return await loop.run_in_executor(self._executor, job)
        return cast(
            "T",
            await self.reads.answer(
                fn, args, kwargs, lambda: loop.run_in_executor(self._executor, job)
            ),
        )

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the thread pool, for blocking work that needs no store."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def warm_up(self, log: logging.Logger | None = None) -> Future[Any]:
        """Open the store in the background (imports MLflow, may create the SQLite schema).

        It opens the store as every other first user does (``query.connect``, that is
        :func:`~jupyter_mlops.core.tracking.store.get_client`): a new SQLite store is created and
        migrated under its lock file, so kernels that start runs at the same moment wait
        for it instead of migrating it too.
        """
        future = self._executor.submit(query.connect, self.tracking_uri)

        def report(done: Future[Any]) -> None:
            exc = None if done.cancelled() else done.exception()
            if exc is not None and log is not None:
                log.warning("jupyter-mlops: the tracking store is not usable yet: %s", exc)

        future.add_done_callback(report)
        self.warming = future
        return future

    def _recover_sync(self) -> list[str]:
        from jupyter_mlops.core.tracking.recovery import recover_orphans
        from jupyter_mlops.core.tracking.store import get_client

        recovered = (
            recover_orphans(self.spool_dir, tracking_uri=self.tracking_uri, wait=0.0)
            if self.spool_dir
            else []
        )
        if self.tracking_uri:  # runs MLflow itself made in kernels that died
            client = get_client(self.tracking_uri)  # imports MLflow one thread at a time
            from jupyter_mlops.core.tracking.mlflow_context import end_orphaned_runs

            recovered += end_orphaned_runs(client)
        return recovered

    def recover(self, log: logging.Logger | None = None) -> Future[list[str]]:
        """Replay spools of dead kernels and end their runs (KILLED), in the thread pool."""
        future = self._executor.submit(self._recover_sync)

        def report(done: Future[list[str]]) -> None:
            exc = None if done.cancelled() else done.exception()
            if log is None:
                return
            if exc is not None:
                log.warning("jupyter-mlops: recovering spools of dead kernels failed: %s", exc)
            elif done.result():
                log.info("jupyter-mlops: recovered runs of dead kernels: %s", done.result())

        future.add_done_callback(report)
        return future

    def start_cost(self) -> CostEngine | None:
        """Build and start the cost engine from ``cost_settings`` (blocking: opens the ledger)."""
        from jupyter_mlops.core.cost.engine import CostEngine

        if self.cost_settings is None:
            return None
        engine = CostEngine(self.cost_settings)
        engine.start()
        self.cost = engine
        return engine

    def stop_cost(self) -> None:
        """Stop the sampler and write the pending ledger minutes (blocking: joins the thread)."""
        engine, self.cost = self.cost, None
        if engine is not None:
            engine.stop()

    def shutdown(self) -> None:
        """Stop the cost engine and the thread pool; queued calls are cancelled."""
        self.stop_cost()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.reads.close()


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


def export_cost_environment(config: MlopsConfig) -> None:
    """Give kernels this server's ledger, catalogue and budgets (``%mlops`` budget warnings)."""
    if config.cost_ledger_url:
        os.environ[ENV_COST_LEDGER] = config.cost_ledger_url
    if config.cost_catalogue_file:
        os.environ[ENV_COST_CATALOGUE] = config.cost_catalogue_file
    if config.cost_budgets:
        os.environ[ENV_COST_BUDGETS] = json.dumps(config.cost_budgets)


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

    cost_sync_interval = Float(
        2.0,
        help="Seconds between checks of which kernels run (their processes are then sampled "
        "every c.MlopsConfig.cost_interval seconds).",
    ).tag(config=True)

    service: MlopsService | None = None
    launches: LaunchRegistry | None = None
    _recover_timer: Any = None
    _cost_timer: Any = None

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
            self.service.cost_settings = cost_settings(config)
            export_cost_environment(config)
        self.settings[SERVICE_SETTING] = self.service
        from jupyter_mlops.server.pipelines import LAUNCHES_SETTING, LaunchRegistry

        contents = self.serverapp.contents_manager
        self.launches = LaunchRegistry(
            getattr(contents, "root_dir", None) or self.serverapp.root_dir,
            tracking_uri=tracking_uri,
            allow_hidden=bool(getattr(contents, "allow_hidden", False)),
            log=self.log,
        )
        self.settings[LAUNCHES_SETTING] = self.launches
        self.log.info(
            "jupyter-mlops %s: tracking store %s, project %r",
            __version__,
            redact_uri(tracking_uri),
            project,
        )

    def initialize_handlers(self) -> None:
        """Register the REST routes (see ``api/openapi.yaml``)."""
        from jupyter_mlops.server.handlers import default_handlers

        self.handlers.extend(default_handlers)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        """Called once the event loop runs: start the background warm-up."""
        if self.service is None:
            return
        if self.warm_up:
            self.service.warm_up(self.log)
        self.service.recover(self.log)
        if self.recover_interval > 0:
            from tornado.ioloop import PeriodicCallback

            service, log = self.service, self.log

            def sweep() -> None:
                service.recover(log)

            self._recover_timer = PeriodicCallback(sweep, self.recover_interval * 1000)
            self._recover_timer.start()
        await self._start_cost(serverapp)

    async def _start_cost(self, serverapp: Any) -> None:
        """Build and start the cost engine off the loop, then sync kernels every few seconds."""
        service = self.service
        if service is None or service.cost_settings is None:
            return
        try:
            engine = await service.run(service.start_cost)
        except Exception as exc:
            self.log.warning("jupyter-mlops: compute cost is off: %s", exc)
            return
        if engine is None:
            return
        from tornado.ioloop import PeriodicCallback

        from jupyter_mlops.server.cost import KernelCostTracker, running_runs_by_kernel

        async def runs() -> dict[str, str]:
            return await service.call(running_runs_by_kernel)

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

    async def stop_extension(self) -> None:
        """Stop the recovery sweeps and release the thread pool when the server stops."""
        if self._recover_timer is not None:
            self._recover_timer.stop()
        if self._cost_timer is not None:
            self._cost_timer.stop()
        if self.launches is not None:  # cancel pipeline runs; off the loop: joins their threads
            await asyncio.get_running_loop().run_in_executor(None, self.launches.shutdown)
        if self.service is not None and self.service.cost is not None:
            try:  # off the event loop: joins the sampler thread, writes the ledger
                await self.service.run(self.service.stop_cost)
            except Exception as exc:
                self.log.warning("jupyter-mlops: stopping compute cost failed: %s", exc)
        if self.service is not None:
            self.service.shutdown()
