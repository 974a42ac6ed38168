"""REST handlers of run edits (contract: ``api/openapi.yaml``).

* ``POST /runs/{run_id}/rename`` ``{"name"}``
* ``POST /runs/{run_id}/tags`` ``{"set": {name: value}, "delete": [name]}``
* ``POST /runs/{run_id}/note`` ``{"note"}`` (empty removes it)
* ``POST /runs/{run_id}/delete``, ``POST /runs/{run_id}/restore``
* ``GET /deleted-runs?experiment_id=``: the runs that can be restored.

Each edit answers the run's ``RunSummary`` after it. Edits need the ``write``
action on ``mlops:runs`` (a read-only user gets a 403 and nothing changes); the
listing needs ``read``. The work is one :mod:`jupyter_mlops.core.tracking.run_edit`
function in the extension's thread pool, never on the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.core.tracking import run_edit
from jupyter_mlops.core.tracking.search_input import validate_run_id
from jupyter_mlops.server.base import MlopsHandler, authorized_to

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DeletedRunsHandler",
    "RunDeleteHandler",
    "RunNoteHandler",
    "RunRenameHandler",
    "RunRestoreHandler",
    "RunTagsHandler",
]


class _RunEditHandler(MlopsHandler):
    """``POST``: :meth:`edit` of the run with the JSON body, answered with the run after it."""

    auth_resource = "mlops:runs"

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """The core call of this route."""
        raise NotImplementedError

    @tornado.web.authenticated
    @authorized_to("write")
    async def post(self, run_id: str) -> None:
        validate_run_id(run_id)
        body = self.json_body() if self.request.body.strip() else {}
        self.reply(await self.service.call(type(self).edit, run_id, body))


class RunRenameHandler(_RunEditHandler):
    """``POST /runs/{run_id}/rename``: ``{"name"}``."""

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return run_edit.rename_run(client, run_id, body.get("name"))


class RunTagsHandler(_RunEditHandler):
    """``POST /runs/{run_id}/tags``: ``{"set": {...}, "delete": [...]}`` in one edit."""

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return run_edit.edit_tags(client, run_id, body.get("set"), body.get("delete"))


class RunNoteHandler(_RunEditHandler):
    """``POST /runs/{run_id}/note``: ``{"note"}``, Markdown; empty removes the note."""

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return run_edit.set_note(client, run_id, body.get("note"))


class RunDeleteHandler(_RunEditHandler):
    """``POST /runs/{run_id}/delete``: MLflow's soft delete (restorable)."""

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return run_edit.delete_run(client, run_id)


class RunRestoreHandler(_RunEditHandler):
    """``POST /runs/{run_id}/restore``: a deleted run back to active."""

    @staticmethod
    def edit(client: MlflowClient, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return run_edit.restore_run(client, run_id)


class DeletedRunsHandler(MlopsHandler):
    """``GET /deleted-runs?experiment_id=``: deleted runs, newest first."""

    auth_resource = "mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        ids = [
            part.strip()
            for raw in self.get_query_arguments("experiment_id")
            for part in raw.split(",")
            if part.strip()
        ]
        limit = self.int_arg("max_results", 100, 1, 1000)
        self.reply(await self.service.call(run_edit.deleted_runs, ids or None, limit))
