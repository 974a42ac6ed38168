"""REST handlers of notebook pipelines (contract: ``api/openapi.yaml``).

* ``GET /pipelines``: exported pipelines (``pipeline.yaml``) under the server root.
* ``GET /pipelines/parameters?path=``: a notebook's ``parameters`` cell and its code cells.
* ``POST /pipelines/export``: export notebooks to a pipeline folder (action ``write``).
* ``POST /pipelines/runs``: plan, then start a run or a sweep (action ``execute``).
* ``GET /pipelines/runs``, ``GET /pipelines/runs/{id}``: this server's launches.
* ``POST /pipelines/runs/{id}/cancel``: stop a launch (action ``execute``).

Resource ``mlops:pipelines``. File work and planning run in the extension's
thread pool (:mod:`.pipeline_files`); the runs themselves on threads of the
:class:`~jupyter_mlops.core.pipeline.launches.LaunchRegistry`.

A launch with ``max_cost`` is estimated first (the reply's ``estimate``); while a
hard budget of the server's project is spent, every launch (and schedule firing)
is refused with 409 (:func:`hard_budget_guard`, one of the registry's guards).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.core.pipeline.launches import LaunchRegistry
from jupyter_mlops.core.pipeline.model import LaunchRequest
from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server import pipeline_files
from jupyter_mlops.server.base import MlopsHandler, authorized_to
from jupyter_mlops.server.service import LAUNCHES_SETTING

if TYPE_CHECKING:
    from jupyter_mlops.server.service import MlopsService

__all__ = [
    "LaunchCancelHandler",
    "LaunchHandler",
    "LaunchesHandler",
    "PipelineExportHandler",
    "PipelineParametersHandler",
    "PipelinesHandler",
    "hard_budget_guard",
]

_LAUNCH_ID = re.compile(r"^[0-9a-f]{32}$")


def hard_budget_guard(service: MlopsService) -> Callable[[], None]:
    """A guard of the launch registry: refuses launches while the project's hard budget is
    spent (the cost engine's spend, pending minutes included; nothing before it started)."""
    from jupyter_mlops.core.cost.budgets import refuse_if_hard_spent

    def guard() -> None:
        engine = service.cost
        monitor = engine.budgets if engine is not None else None
        if monitor is not None and any(b.hard for b in monitor.budgets):
            refuse_if_hard_spent(monitor.status(), service.project)

    return guard


class PipelineHandler(MlopsHandler):
    """Base of the pipeline handlers: the server root, the launch registry, JSON bodies."""

    auth_resource = "mlops:pipelines"

    @property
    def launches(self) -> LaunchRegistry:
        """The registry built once by ``MlopsExtensionApp.initialize_settings``."""
        return cast("LaunchRegistry", self.settings[LAUNCHES_SETTING])

    @property
    def root(self) -> Path:
        """The real path of the server root (what request paths are relative to)."""
        return self.launches.root

    def launch_id(self, text: str) -> str:
        """A launch id from the URL (32 hex digits), else a 400."""
        if not _LAUNCH_ID.match(text):
            raise UsageError(f"Invalid pipeline run id {text[:40]!r} (32 hex digits).")
        return text


class PipelinesHandler(PipelineHandler):
    """``GET /pipelines``: every folder with a ``pipeline.yaml`` under the root."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.run(pipeline_files.scan_pipelines, self.root))


class PipelineParametersHandler(PipelineHandler):
    """``GET /pipelines/parameters?path=``: parameters of a notebook, and cells to tag."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.optional_arg("path")
        self.reply(
            await self.service.run(
                pipeline_files.notebook_parameters,
                self.root,
                path,
                allow_hidden=self.launches.allow_hidden,
            )
        )


class PipelineExportHandler(PipelineHandler):
    """``POST /pipelines/export``: write a pipeline folder (201)."""

    @tornado.web.authenticated
    @authorized_to("write")
    async def post(self) -> None:
        body = self.json_body()
        result = await self.service.run(
            pipeline_files.export_notebooks,
            self.root,
            body,
            allow_hidden=self.launches.allow_hidden,
        )
        self.set_status(201)
        self.reply(result)


class LaunchesHandler(PipelineHandler):
    """``GET /pipelines/runs``: this server's launches; ``POST``: start one (202)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply({"runs": self.launches.list()})

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self) -> None:
        request = LaunchRequest.from_json(self.json_body())
        plan = await self.service.run(self.launches.plan, request)
        estimate = None
        if request.max_cost is not None:
            estimate = await self.service.run(self.launches.estimate, plan)
        launch = self.launches.start(plan, request, estimate=estimate)
        self.set_status(202)
        self.reply(launch)


class LaunchHandler(PipelineHandler):
    """``GET /pipelines/runs/{id}``: one launch with its executions' progress."""

    @tornado.web.authenticated
    @authorized
    async def get(self, launch_id: str) -> None:
        self.reply(self.launches.get(self.launch_id(launch_id)))


class LaunchCancelHandler(PipelineHandler):
    """``POST /pipelines/runs/{id}/cancel``: stop a launch; it ends KILLED."""

    @tornado.web.authenticated
    @authorized_to("execute")
    async def post(self, launch_id: str) -> None:
        self.reply(self.launches.cancel(self.launch_id(launch_id)))
