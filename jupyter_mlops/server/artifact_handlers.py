"""REST handlers of a run's artifacts and of the MLflow UI link (contract: ``api/openapi.yaml``).

* ``GET /runs/{run_id}/artifacts?path=DIR``: one folder of the run's artifacts.
* ``GET /runs/{run_id}/artifacts/preview?path=FILE``: a capped text preview, or
  what kind of file it is; an ``MLmodel``'s flavours and signature.
* ``GET /runs/{run_id}/artifacts/raw?path=FILE[&download=1][&preview=1]``: the
  file itself, streamed in chunks (never read whole into memory).
* ``GET /mlflow-ui``: the configured MLflow UI address and the ``mlflow ui``
  command for this store.

Raw files carry ``X-Content-Type-Options: nosniff`` and a
``Content-Security-Policy`` with ``sandbox`` (no script, no same origin: an HTML
report or SVG opened from here cannot act in JupyterLab's origin). Text is sent
as ``text/plain``; HTML and SVG are sent inline only with ``preview=1`` (the
panel's sandboxed frame), else as an attachment, like every file that is not an
image or text, and like anything with ``download=1``.

Resource ``mlops:runs``; the raw route also checks cookie-authenticated requests
for the XSRF token or a same-origin referer, like jupyter_server's ``/files``. The
work (:mod:`jupyter_mlops.core.artifacts.browse`) runs in the extension's thread pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.config import MlopsConfig
from jupyter_mlops.core.artifacts import browse as artifact_browse
from jupyter_mlops.core.tracking.query import validate_run_id
from jupyter_mlops.exceptions import UsageError
from jupyter_mlops.server.base import MlopsHandler

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "CHUNK_BYTES",
    "RAW_POLICY",
    "ArtifactPreviewHandler",
    "ArtifactRawHandler",
    "ArtifactsHandler",
    "MlflowUiHandler",
    "content_disposition",
]

CHUNK_BYTES = 256 * 1024
"""Bytes read and sent at a time when streaming a file."""

RAW_POLICY = "sandbox; img-src data:; style-src 'unsafe-inline'; font-src data:"
"""Added to jupyter_server's API policy (``frame-ancestors 'self'; default-src 'none'``):
no script anywhere, an opaque origin, inline styles and ``data:`` images (nbconvert reports)."""


def content_disposition(disposition: str, name: str) -> str:
    """``inline`` / ``attachment`` with the file name, ASCII fallback plus RFC 5987 UTF-8."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name
    )
    return f"{disposition}; filename=\"{fallback or 'artifact'}\"; filename*=UTF-8''{quote(name)}"


class _ArtifactHandler(MlopsHandler):
    auth_resource = "mlops:runs"

    def artifact_path(self) -> str | None:
        """The ``path`` query argument, decoded once and otherwise as sent.

        Not ``get_query_argument``: it turns NUL and control characters into spaces
        and strips the ends, so ``ok.txt%00`` would quietly become ``ok.txt``; the
        core refuses such paths instead.
        """
        values = self.request.query_arguments.get("path")
        if not values:
            return None
        try:
            return values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError("The artifact path is not UTF-8 text.") from None


class _ArtifactJsonHandler(_ArtifactHandler):
    """``GET``: the JSON answer of :attr:`read` for the run and the ``path`` argument."""

    @staticmethod
    def read(client: MlflowClient, run_id: str, path: str | None) -> dict[str, Any]:
        """The core function that answers (``artifact_browse.list_artifacts``, ...)."""
        raise NotImplementedError

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        validate_run_id(run_id)
        self.reply(await self.service.call(type(self).read, run_id, self.artifact_path()))


class ArtifactsHandler(_ArtifactJsonHandler):
    """``GET /runs/{run_id}/artifacts?path=``: one folder (the root without ``path``)."""

    read = staticmethod(artifact_browse.list_artifacts)


class ArtifactPreviewHandler(_ArtifactJsonHandler):
    """``GET /runs/{run_id}/artifacts/preview?path=``: kind, size and a capped text of one file."""

    read = staticmethod(artifact_browse.preview_artifact)


class ArtifactRawHandler(_ArtifactHandler):
    """``GET /runs/{run_id}/artifacts/raw?path=``: the file, streamed, sandboxed, never sniffed."""

    @property
    def content_security_policy(self) -> str:
        return f"{super().content_security_policy}; {RAW_POLICY}"

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        # like jupyter_server's /files: a cookie-authenticated GET also needs the XSRF
        # token (``_xsrf``) or a same-origin Referer; token-authenticated requests are exempt
        self.check_xsrf_cookie()
        validate_run_id(run_id)
        download = self.get_query_argument("download", "") not in ("", "0")
        preview = self.get_query_argument("preview", "") not in ("", "0")
        found = await self.service.call(artifact_browse.open_artifact, run_id, self.artifact_path())
        try:
            handle = await self.service.run(found.path.open, "rb")
            try:
                inline = not download and (
                    found.kind in ("image", "text") or (preview and found.kind in ("html", "svg"))
                )
                disposition = "inline" if inline else "attachment"
                self.set_header("Content-Disposition", content_disposition(disposition, found.name))
                self.set_header("X-Content-Type-Options", "nosniff")
                self.set_header("Cache-Control", "no-cache")
                self.set_header("Content-Length", str(found.size))
                self.set_header("Content-Type", found.media_type)
                sent = 0
                while sent < found.size:
                    chunk = await self.service.run(handle.read, min(CHUNK_BYTES, found.size - sent))
                    if not chunk:
                        break  # the file shrank while we sent it
                    sent += len(chunk)
                    self.write(chunk)
                    try:
                        await self.flush()
                    except tornado.iostream.StreamClosedError:
                        return  # the client went away
            finally:
                await self.service.run(handle.close)
        finally:
            await self.service.run(found.close)
        self.finish(set_content_type=found.media_type)


class MlflowUiHandler(MlopsHandler):
    """``GET /mlflow-ui``: ``{"url", "command"}`` from ``c.MlopsConfig.mlflow_ui_url`` and the store."""

    auth_resource = "mlops:runs"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        ui_url = MlopsConfig(parent=self.extensionapp).mlflow_ui_url
        self.reply(artifact_browse.mlflow_ui_info(ui_url, self.service.tracking_uri))
