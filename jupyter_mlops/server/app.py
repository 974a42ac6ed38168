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
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Integer

from jupyter_mlops import __version__
from jupyter_mlops.config import ENV_PROJECT, ENV_ROOT_DIR, MlopsConfig
from jupyter_mlops.core import query
from jupyter_mlops.core.store import redact_uri

if TYPE_CHECKING:
    import logging

    from mlflow import MlflowClient

__all__ = ["SERVICE_SETTING", "MlopsExtensionApp", "MlopsService", "export_environment"]

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
        self.warming: Future[Any] | None = None

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
        """``fn(client, *args, **kwargs)`` in the thread pool, awaited from the event loop."""
        loop = asyncio.get_running_loop()
        job = functools.partial(self._call_sync, fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, job)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in the thread pool, for blocking work that needs no store."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def warm_up(self, log: logging.Logger | None = None) -> Future[Any]:
        """Open the store in the background (imports MLflow, may create the SQLite schema)."""
        future = self._executor.submit(query.connect, self.tracking_uri)

        def report(done: Future[Any]) -> None:
            exc = None if done.cancelled() else done.exception()
            if exc is not None and log is not None:
                log.warning("jupyter-mlops: the tracking store is not usable yet: %s", exc)

        future.add_done_callback(report)
        self.warming = future
        return future

    def _recover_sync(self) -> list[str]:
        from jupyter_mlops.core.recovery import recover_orphans

        if not self.spool_dir:
            return []
        return recover_orphans(self.spool_dir, tracking_uri=self.tracking_uri, wait=0.0)

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

    def shutdown(self) -> None:
        """Stop the thread pool; queued calls are cancelled, running ones finish on their own."""
        self._executor.shutdown(wait=False, cancel_futures=True)


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

    service: MlopsService | None = None
    _recover_timer: Any = None

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
        self.settings[SERVICE_SETTING] = self.service
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

    async def stop_extension(self) -> None:
        """Stop the recovery sweeps and release the thread pool when the server stops."""
        if self._recover_timer is not None:
            self._recover_timer.stop()
        if self.service is not None:
            self.service.shutdown()
