"""Browse a run's artifacts: list one folder, preview a file, open a file to stream it.

Every path is relative to the run's artifact root and confined to it
(:mod:`jupyter_mlops.core.artifacts.paths`):
:func:`clean_path` refuses, with a :class:`~jupyter_mlops.exceptions.UsageError`
(HTTP 400): absolute paths, ``..`` segments (also percent-encoded, once or
more: ``%2e%2e``, ``%252e%252e``), backslashes, NUL and control characters. A
path that resolves outside the root through a symlink is a
:class:`~jupyter_mlops.exceptions.PathError` (403), and listings leave such
links out; a path that does not exist is a
:class:`~jupyter_mlops.exceptions.NotFoundError` (404).

Local artifact stores (``file://`` URIs and plain paths, the embedded store's
default) are read in place after confinement. Other stores (S3, ``mlflow-artifacts:``,
...) are listed with ``MlflowClient.list_artifacts`` and a file is fetched with
``MlflowClient.download_artifacts`` into a temporary folder, after its listed
size was checked against a cap. Models: :mod:`jupyter_mlops.core.artifacts.models`.

::

    list_artifacts(client, run_id, "plots")  -> {"entries": [{path, name, is_dir, size, kind}], ...}
    preview_artifact(client, run_id, "metrics.csv") -> {"kind": "text", "text": ..., "truncated": ...}
    with open_artifact(client, run_id, "plots/roc.png") as found: found.path, found.media_type
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from jupyter_mlops.core.artifacts.models import MLMODEL_FILE, parse_mlmodel, run_logged_models
from jupyter_mlops.core.artifacts.paths import (
    artifact_kind,
    clean_path,
    confine,
    local_root,
    media_type,
)
from jupyter_mlops.core.tracking.search_input import mlflow_errors as _mlflow_errors
from jupyter_mlops.core.tracking.search_input import validate_run_id
from jupyter_mlops.exceptions import NotFoundError, PathError, UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "MAX_DOWNLOAD_BYTES",
    "MAX_ENTRIES",
    "PREVIEW_BYTES",
    "ArtifactFile",
    "artifact_kind",
    "clean_path",
    "list_artifacts",
    "local_root",
    "media_type",
    "mlflow_ui_info",
    "open_artifact",
    "preview_artifact",
]

PREVIEW_BYTES = 256 * 1024
"""The most bytes of a text file a preview returns (``truncated`` says when there was more)."""
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024
"""Largest file fetched from a remote artifact store to serve it (local files: no cap)."""
MAX_ENTRIES = 2000
"""Most entries of one folder listing (``truncated`` says when there were more)."""


def _get_run(client: MlflowClient, run_id: str) -> Run:
    validate_run_id(run_id)
    with _mlflow_errors(run_id=run_id):
        return client.get_run(run_id)


def _entry(path: str, is_dir: bool, size: int | None, is_model: bool = False) -> dict[str, Any]:
    return {
        "path": path,
        "name": PurePosixPath(path).name,
        "is_dir": is_dir,
        "size": None if is_dir else size,
        "kind": "folder" if is_dir else artifact_kind(path),
        "is_model": is_model,
    }


def _local_entries(root: Path, rel: str, run_id: str) -> list[dict[str, Any]]:
    if not root.exists() and not rel:
        return []  # a run that has logged nothing has no folder yet
    folder = confine(root, rel, run_id)
    if not folder.exists():
        raise NotFoundError(f"Run {run_id} has no artifact {rel!r}.", run_id=run_id)
    if not folder.is_dir():
        raise UsageError(f"Artifact {rel!r} is a file, not a folder.", hint="preview it instead")
    real_root = root.resolve()
    out = []
    for child in folder.iterdir():
        real = child.resolve()
        if real != real_root and not real.is_relative_to(real_root):
            continue  # a link out of the artifact folder is not shown
        child_rel = f"{rel}/{child.name}" if rel else child.name
        try:
            if real.is_dir():
                out.append(_entry(child_rel, True, None, (real / MLMODEL_FILE).is_file()))
            elif real.is_file():
                out.append(_entry(child_rel, False, real.stat().st_size))
        except OSError:
            continue  # vanished or unreadable meanwhile
    return out


def _remote_entries(client: MlflowClient, run_id: str, rel: str) -> list[dict[str, Any]]:
    with _mlflow_errors(run_id=run_id):
        infos = client.list_artifacts(run_id, rel or None)
    if rel and not infos:
        parent = rel.rsplit("/", 1)[0] if "/" in rel else None
        with _mlflow_errors(run_id=run_id):
            siblings = client.list_artifacts(run_id, parent)
        if not any(info.path == rel and info.is_dir for info in siblings):
            raise NotFoundError(f"Run {run_id} has no artifact folder {rel!r}.", run_id=run_id)
    return [_entry(info.path, bool(info.is_dir), info.file_size) for info in infos]


def list_artifacts(
    client: MlflowClient, run_id: str, path: str | None = "", *, direct: bool = True
) -> dict[str, Any]:
    """One folder of run ``run_id``'s artifacts: folders first, then files, by name.

    ``{"run_id", "path", "entries", "truncated", "model", "models"}``: ``model`` is the
    :func:`~jupyter_mlops.core.artifacts.models.parse_mlmodel` summary when this folder is
    an MLflow model (holds ``MLmodel``); ``models`` (root only) are the models the run
    logged with MLflow 3's ``log_model``, which live outside its artifact tree.
    ``direct=False`` goes through MLflow's artifact API even for a local store.
    """
    rel = clean_path(path)
    run = _get_run(client, run_id)
    root = local_root(run.info.artifact_uri) if direct else None
    entries = (
        _local_entries(root, rel, run_id)
        if root is not None
        else _remote_entries(client, run_id, rel)
    )
    entries.sort(key=lambda e: (not e["is_dir"], e["name"].lower(), e["name"]))
    model = None
    if any(e["name"] == MLMODEL_FILE and not e["is_dir"] for e in entries):
        mlmodel = f"{rel}/{MLMODEL_FILE}" if rel else MLMODEL_FILE
        try:
            with open_artifact(client, run_id, mlmodel, direct=direct) as found:
                model = parse_mlmodel(found.read_text(PREVIEW_BYTES * 4))
        except UsageError:
            model = None
    models = []
    if not rel:
        try:
            models = run_logged_models(client, run.info.experiment_id, run_id)
        except Exception:  # a store without logged models (an MLflow 2 server): none to show
            models = []
    return {
        "run_id": run_id,
        "path": rel,
        "entries": entries[:MAX_ENTRIES],
        "truncated": len(entries) > MAX_ENTRIES,
        "model": model,
        "models": models,
    }


@dataclass
class ArtifactFile:
    """A readable local copy of one artifact (the file itself for a local store).

    Use it as a context manager, or call :meth:`close`: a file downloaded from a
    remote store lives in a temporary folder that ``close`` removes.
    """

    path: Path
    rel: str
    size: int
    temp_dir: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.rel).name

    @property
    def kind(self) -> str:
        return artifact_kind(self.rel)

    @property
    def media_type(self) -> str:
        return media_type(self.rel)

    def read_text(self, limit: int) -> str:
        """The first ``limit`` bytes as UTF-8 text (bad bytes replaced)."""
        with self.path.open("rb") as handle:
            return handle.read(limit).decode("utf-8", errors="replace")

    def close(self) -> None:
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None

    def __enter__(self) -> ArtifactFile:
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _need_file(rel: str) -> None:
    if not rel:
        raise UsageError(
            "Give the artifact file to read.", hint="?path=<file in the run's artifacts>"
        )


def _open_remote(client: MlflowClient, run_id: str, rel: str, max_bytes: int) -> ArtifactFile:
    parent = rel.rsplit("/", 1)[0] if "/" in rel else None
    with _mlflow_errors(run_id=run_id):
        siblings = client.list_artifacts(run_id, parent)
    info = next((i for i in siblings if i.path == rel), None)
    if info is None:
        raise NotFoundError(f"Run {run_id} has no artifact {rel!r}.", run_id=run_id)
    if info.is_dir:
        raise UsageError(f"Artifact {rel!r} is a folder.", hint="list it instead")
    if (info.file_size or 0) > max_bytes:
        raise UsageError(
            f"Artifact {rel!r} is {info.file_size} bytes, more than the {max_bytes} bytes "
            "this server fetches from a remote artifact store.",
            hint=f"download it with: mlflow artifacts download -r {run_id} -a {shlex.quote(rel)}",
            run_id=run_id,
        )
    temp_dir = tempfile.mkdtemp(prefix="jupyter-mlops-artifact-")
    try:
        with _mlflow_errors(run_id=run_id):
            local = Path(client.download_artifacts(run_id, rel, temp_dir)).resolve()
        if not local.is_relative_to(Path(temp_dir).resolve()) or not local.is_file():
            raise PathError(f"Artifact {rel!r} did not download as one file.", run_id=run_id)
        size = local.stat().st_size
        if size > max_bytes:
            raise UsageError(f"Artifact {rel!r} is larger than {max_bytes} bytes.", run_id=run_id)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return ArtifactFile(path=local, rel=rel, size=size, temp_dir=temp_dir)


def open_artifact(
    client: MlflowClient,
    run_id: str,
    path: str | None,
    *,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    direct: bool = True,
) -> ArtifactFile:
    """A readable local file holding artifact ``path`` of run ``run_id`` (close it when done).

    Local stores: the file itself, after confinement (``max_bytes`` does not apply:
    it is streamed). Remote stores (or ``direct=False``): downloaded into a temporary
    folder when its listed size is at most ``max_bytes``.
    """
    rel = clean_path(path)
    _need_file(rel)
    run = _get_run(client, run_id)
    root = local_root(run.info.artifact_uri) if direct else None
    if root is None:
        return _open_remote(client, run_id, rel, max_bytes)
    target = confine(root, rel, run_id)
    if not target.exists():
        raise NotFoundError(f"Run {run_id} has no artifact {rel!r}.", run_id=run_id)
    if not target.is_file():
        raise UsageError(f"Artifact {rel!r} is a folder.", hint="list it instead")
    if not os.access(target, os.R_OK):
        raise PathError(f"Artifact {rel!r} of run {run_id} cannot be read.", run_id=run_id)
    return ArtifactFile(path=target, rel=rel, size=target.stat().st_size)


def preview_artifact(
    client: MlflowClient,
    run_id: str,
    path: str | None,
    *,
    limit: int = PREVIEW_BYTES,
    direct: bool = True,
) -> dict[str, Any]:
    """What the panel shows of one file, at most ``limit`` bytes of it.

    ``{"run_id", "path", "name", "kind", "media_type", "size", "text", "truncated",
    "model"}``: ``text`` for text files only (``None`` for images, HTML, SVG and
    binaries, which the panel loads from the raw route into an ``<img>`` or a
    sandboxed frame); ``model`` when the file is an ``MLmodel``.
    """
    with open_artifact(client, run_id, path, direct=direct) as found:
        text = None
        truncated = False
        model = None
        if found.kind == "text":
            with found.path.open("rb") as handle:
                head = handle.read(limit + 1)
            truncated = len(head) > limit
            if b"\x00" not in head[:8192]:
                text = head[:limit].decode("utf-8", errors="replace")
            if found.name == MLMODEL_FILE and text is not None and not truncated:
                try:
                    model = parse_mlmodel(text)
                except UsageError:
                    model = None
        return {
            "run_id": run_id,
            "path": found.rel,
            "name": found.name,
            "kind": found.kind if found.kind != "text" or text is not None else "binary",
            "media_type": found.media_type,
            "size": found.size,
            "text": text,
            "truncated": truncated,
            "model": model,
        }


def mlflow_ui_info(ui_url: str, tracking_uri: str) -> dict[str, Any]:
    """``{"url", "command"}``: the MLflow UI base URL (``None`` when not configured) and the
    ``mlflow ui`` command that serves this store (credentials removed from the URI)."""
    from jupyter_mlops.core.tracking.store import redact_uri

    url = ui_url.strip().rstrip("/")
    web = bool(url) and urlparse(url).scheme in ("http", "https")  # never javascript: or data:
    command = f"mlflow ui --backend-store-uri {shlex.quote(redact_uri(tracking_uri))}"
    return {"url": redact_uri(url) if web else None, "command": command}
