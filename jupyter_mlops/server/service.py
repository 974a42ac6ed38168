"""What the handlers use: :class:`MlopsService`, built once by the extension app.

The service holds the resolved store, project and root, one small thread pool for
blocking calls (MLflow, the ledger, file work), the read cache, and the compute
cost engine once it runs. It imports no tornado handler: handlers reach it
through the application settings (:data:`SERVICE_SETTING`), and the pipeline
launches through :data:`LAUNCHES_SETTING`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar, cast

from jupyter_mlops.core.tracking import query
from jupyter_mlops.core.tracking.readcache import ReadCache
from jupyter_mlops.core.tracking.store import redact_uri
from jupyter_mlops.core.version import __version__

if TYPE_CHECKING:
    import logging

    from mlflow import MlflowClient

    from jupyter_mlops.core.cost.engine import CostEngine, CostSettings
    from jupyter_mlops.core.cost.sources import ResourceSource
    from jupyter_mlops.server.cost import KernelCostTracker

__all__ = ["LAUNCHES_SETTING", "SERVICE_SETTING", "MlopsService"]

SERVICE_SETTING = "jupyter_mlops_service"
"""Key of the :class:`MlopsService` in the tornado application settings."""
LAUNCHES_SETTING = "jupyter_mlops_launches"
"""Key of the :class:`~jupyter_mlops.core.pipeline.launches.LaunchRegistry` in the settings."""

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
        # the cost engine's sources: None for psutil + NVML (tests give an NVML stand-in)
        self.cost_sources: list[ResourceSource] | None = None
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
        engine = CostEngine(self.cost_settings, sources=self.cost_sources)
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
