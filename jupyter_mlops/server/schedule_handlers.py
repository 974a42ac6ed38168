"""REST handlers of pipeline schedules (contract: ``api/openapi.yaml``), and what they call.

* ``GET /pipelines/schedules``, ``GET /pipelines/schedules/{id}``: schedules (``read``).
* ``POST /pipelines/schedules``: add one (``execute``; 201), validated like a run.
* ``DELETE /pipelines/schedules/{id}``: remove it (``execute``; 204).
* ``POST /pipelines/schedules/{id}/pause|resume|run-now`` (``execute``).

Resource ``mlops:pipelines``. :class:`ServerSchedules` (built once by the extension
app, in the settings under :data:`SCHEDULES_SETTING`) holds the schedule store
(the cost ledger's database, opened on first use) and a
:class:`~jupyter_mlops.core.pipeline.scheduler.Scheduler` whose firings start
through the server's launch registry, so the panel sees them; the extension app
runs its loop on a thread (``c.MlopsExtensionApp.run_schedules``). Every store call
runs in the extension's thread pool, never on the event loop.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, cast

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server.base import MlopsHandler, authorized_to

if TYPE_CHECKING:
    import logging
    from concurrent.futures import Future

    from jupyter_mlops.core.pipeline.launches import LaunchRegistry
    from jupyter_mlops.core.pipeline.scheduler import Scheduler
    from jupyter_mlops.core.pipeline.schedules import ScheduleStore

__all__ = [
    "SCHEDULES_SETTING",
    "ScheduleHandler",
    "SchedulePauseHandler",
    "ScheduleResumeHandler",
    "ScheduleRunNowHandler",
    "ScheduleServer",
    "SchedulesHandler",
    "ServerSchedules",
]

SCHEDULES_SETTING = "jupyter_mlops_schedules"
"""Key of the :class:`ServerSchedules` in the tornado application settings."""
_FIELDS = {"path", "cron", "timezone", "parameters", "max_concurrent", "name", "catch_up"}
_SCHEDULE_ID = re.compile(r"^[0-9a-f]{32}$")


class ServerSchedules:
    """The server's schedules: the store (opened on first use) and its scheduler."""

    def __init__(self, url: str, registry: LaunchRegistry, log: logging.Logger) -> None:
        self.url = url
        self.registry = registry
        self.log = log
        self._lock = threading.Lock()
        self._scheduler: Scheduler | None = None

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler (blocking the first time: opens the database)."""
        with self._lock:
            if self._scheduler is None:
                from jupyter_mlops.core.pipeline.scheduler import Scheduler, registry_fire
                from jupyter_mlops.core.pipeline.schedules import ScheduleStore

                store = ScheduleStore(self.url)
                fire = registry_fire(self.registry)
                self._scheduler = Scheduler(store, self.registry.root, fire, log=self.log)
            return self._scheduler

    @property
    def store(self) -> ScheduleStore:
        return self.scheduler.store

    def list(self) -> dict[str, Any]:
        return {"schedules": [self.store.describe(s) for s in self.store.list_schedules()]}

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise UsageError(f"unknown fields: {', '.join(unknown)}", hint=f"use {sorted(_FIELDS)}")
        path = body.get("path")
        if not isinstance(path, str) or not path:
            raise UsageError(
                "path (a pipeline folder or a .ipynb, relative to the root) is required."
            )
        schedule = self.store.add(
            self.registry.root,
            path,
            body.get("cron"),
            body.get("timezone", "UTC"),
            body.get("parameters"),
            from_text=False,
            max_concurrent=body.get("max_concurrent", 1),
            name=body.get("name"),
            catch_up=body.get("catch_up", False),
            allow_hidden=self.registry.allow_hidden,
        )
        return self.store.describe(schedule)

    def get(self, schedule_id: str) -> dict[str, Any]:
        return self.store.describe(self.store.get(schedule_id))

    def remove(self, schedule_id: str) -> None:
        self.store.remove(schedule_id)

    def set_paused(self, schedule_id: str, paused: bool) -> dict[str, Any]:
        return self.store.describe(self.store.set_paused(schedule_id, paused))

    def run_now(self, schedule_id: str) -> dict[str, Any]:
        firing = self.scheduler.fire_now(schedule_id)
        return {"schedule": self.get(schedule_id), "launch": firing.launch}

    def serve(self, stop: threading.Event, interval: float, ready: Future[Any] | None) -> None:
        """The scheduler loop (a thread of the extension): after the warm-up, until ``stop``."""
        if ready is not None:
            try:
                ready.result()
            except Exception as exc:
                self.log.debug("jupyter-mlops: schedules start after a failed warm-up (%s)", exc)
        try:
            scheduler = self.scheduler
        except Exception as exc:
            self.log.warning("jupyter-mlops: schedules are not fired: %s", exc)
            return
        self.log.info("jupyter-mlops: firing pipeline schedules of %s", self.url.split("?")[0])
        scheduler.run_forever(stop, interval)


class ScheduleServer(MlopsHandler):
    """Base of the schedule handlers: the server's schedules, ids from the URL."""

    auth_resource = "mlops:pipelines"

    @property
    def schedules(self) -> ServerSchedules:
        return cast("ServerSchedules", self.settings[SCHEDULES_SETTING])

    def schedule_id(self, text: str) -> str:
        """A schedule id from the URL (32 hex digits), else a 400."""
        if not _SCHEDULE_ID.match(text):
            raise UsageError(f"Invalid schedule id {text[:40]!r} (32 hex digits).")
        return text


class SchedulesHandler(ScheduleServer):
    """``GET /pipelines/schedules``: every schedule; ``POST``: add one (201)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.run(self.schedules.list))

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self) -> None:
        schedule = await self.service.run(self.schedules.add, self.json_body())
        self.set_status(201)
        self.reply(schedule)


class ScheduleHandler(ScheduleServer):
    """``GET /pipelines/schedules/{id}``: one schedule; ``DELETE``: remove it (204)."""

    @tornado.web.authenticated
    @authorized
    async def get(self, schedule_id: str) -> None:
        self.reply(await self.service.run(self.schedules.get, self.schedule_id(schedule_id)))

    @tornado.web.authenticated
    @authorized_to("execute")
    async def delete(self, schedule_id: str) -> None:
        await self.service.run(self.schedules.remove, self.schedule_id(schedule_id))
        self.set_status(204)
        self.finish()


class SchedulePauseHandler(ScheduleServer):
    """``POST /pipelines/schedules/{id}/pause``: stop firing it until resumed."""

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self, schedule_id: str) -> None:
        sid = self.schedule_id(schedule_id)
        self.reply(await self.service.run(self.schedules.set_paused, sid, True))


class ScheduleResumeHandler(ScheduleServer):
    """``POST /pipelines/schedules/{id}/resume``: fire it again from its next firing."""

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self, schedule_id: str) -> None:
        sid = self.schedule_id(schedule_id)
        self.reply(await self.service.run(self.schedules.set_paused, sid, False))


class ScheduleRunNowHandler(ScheduleServer):
    """``POST /pipelines/schedules/{id}/run-now``: fire it now -> ``{"schedule", "launch"}``."""

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self, schedule_id: str) -> None:
        sid = self.schedule_id(schedule_id)
        self.reply(await self.service.run(self.schedules.run_now, sid))
