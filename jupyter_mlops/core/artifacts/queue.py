"""Durable, background artifact uploads for one run, with MLflow's names and signatures.

An artifact acknowledged by :class:`ArtifactQueue` is never lost, the same promise as
the metric spool (:mod:`jupyter_mlops.core.tracking.spool`):

* each call validates its input completely (nothing is staged for a bad one), copies
  the content into ``<spool_dir>/<run_id>.artifacts/entries/<id>/`` (a copy-on-write
  clone where the filesystem has one, else a copy: never a hard link, so the user may
  rewrite or delete their file right after), appends one line to the queue's manifest,
  ``fsync``s it and returns. The staged copy is what is uploaded.
* a daemon thread uploads each entry with ``MlflowClient.log_artifact`` (or
  ``log_artifacts`` for a folder), records it done and removes the staged copy.
  Failures are retried with backoff and warned about once per outage.
* what a killed process leaves is uploaded by :func:`recover_artifacts` (run by
  :func:`jupyter_mlops.core.tracking.recovery.recover_orphans`), which then deletes the folder.
* :meth:`ArtifactQueue.log_report` stages the notebook as saved and hands rendering
  (nbconvert, about a second) to a detached worker process (:mod:`jupyter_mlops.core.tracking.report`).

Layout and manifest format: :mod:`jupyter_mlops.core.artifacts.staging`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_mlops.core.artifacts.delivery import (
    ArtifactHealth,
    deliver_entry,
    drop_entry,
    finish_if_idle,
    recover_artifacts,
    start_report_worker,
)
from jupyter_mlops.core.artifacts.staging import (
    ENTRIES,
    FILE,
    LOCK,
    MANIFEST,
    OWNER,
    QUEUE_SUFFIX,
    REPORT,
    TREE,
    Entry,
    QueueOwner,
    check_artifact_path,
    check_readable,
    clone_or_copy,
    copy_tree,
    figure_saver,
    read_manifest,
    remove_tree,
    serialize_dict,
    source_path,
    split_artifact_file,
    try_lock,
)
from jupyter_mlops.core.redact import redact_uri
from jupyter_mlops.core.tracking.delivery import quiet_store_errors
from jupyter_mlops.core.tracking.writer import BackgroundWriter
from jupyter_mlops.exceptions import InvalidValueError, RunStateError, StoreError

__all__ = ["ArtifactQueue", "recover_artifacts"]


class ArtifactQueue(BackgroundWriter):
    """The durable artifact queue of run ``run_id`` in ``spool_dir``, with its writer thread.

    ``client`` is an ``MlflowClient``; by default the cached one for ``tracking_uri``.
    A queue left in the folder by a dead owner of the same run is taken over.
    """

    thread_prefix = "jupyter-mlops-artifacts"
    error_message = "jupyter-mlops: artifact writer error"

    def __init__(
        self,
        spool_dir: Path,
        run_id: str,
        tracking_uri: str,
        *,
        client: Any | None = None,
        flush_interval: float = 0.5,
    ) -> None:
        self.run_id = run_id
        self.tracking_uri = tracking_uri
        self.flush_interval = max(float(flush_interval), 0.01)
        self.folder = Path(spool_dir) / f"{run_id}{QUEUE_SUFFIX}"
        self.manifest_path = self.folder / MANIFEST
        self._client = client
        self.health = ArtifactHealth(tracking_uri, str(self.folder))
        self._init_writer()
        try:
            (self.folder / ENTRIES).mkdir(parents=True, exist_ok=True, mode=0o700)
            self._owner = QueueOwner.new(run_id, tracking_uri)
            self._owner.write(self.folder / OWNER)
            self._fd = os.open(self.manifest_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self._disk_error(exc) from exc
        self.start_writer()

    # -- the caller's side: validate, stage, append, return ---------------------------------

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload file ``local_path`` into ``artifact_path`` (as ``mlflow.log_artifact``)."""
        src = source_path(local_path, "local_path")
        target = check_artifact_path(artifact_path)
        if src.is_dir():
            raise InvalidValueError(
                f"{src} is a folder.", hint="use log_artifacts to upload a folder's contents"
            )
        check_readable(src)
        self._stage(FILE, src.name, target, lambda dest: clone_or_copy(src, dest / src.name))

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Upload the contents of folder ``local_dir`` (as ``mlflow.log_artifacts``)."""
        src = source_path(local_dir, "local_dir")
        target = check_artifact_path(artifact_path)
        if not src.is_dir():
            what = "is a file" if src.exists() else "does not exist"
            raise InvalidValueError(
                f"{src} {what}; log_artifacts takes a folder.",
                hint="use log_artifact for one file; relative paths start in the working "
                f"directory {Path.cwd()}",
            )

        self._stage(TREE, "", target, lambda dest: copy_tree(src, dest))

    def log_text(self, text: str, artifact_file: str) -> None:
        """Upload ``text`` as ``artifact_file`` (as ``mlflow.log_text``)."""
        if not isinstance(text, str):
            raise InvalidValueError(
                f"text must be a string, not {type(text).__name__}.", hint="pass str(value)"
            )
        directory, name = split_artifact_file(artifact_file)
        self._stage(FILE, name, directory, lambda dest: self._write(dest / name, text))

    def log_dict(self, dictionary: Any, artifact_file: str) -> None:
        """Upload ``dictionary`` as JSON, or YAML for ``.yaml``/``.yml`` (as ``mlflow.log_dict``)."""
        directory, name = split_artifact_file(artifact_file)
        text = serialize_dict(dictionary, name)
        self._stage(FILE, name, directory, lambda dest: self._write(dest / name, text))

    def log_figure(
        self, figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
    ) -> None:
        """Upload a matplotlib or plotly ``figure`` as ``artifact_file`` (as ``mlflow.log_figure``)."""
        directory, name = split_artifact_file(artifact_file)
        save = figure_saver(figure, name, save_kwargs)
        self._stage(FILE, name, directory, lambda dest: save(dest / name))

    def log_report(
        self, notebook_path: str | os.PathLike[str], artifact_dir: str = "notebook"
    ) -> None:
        """Upload the notebook as saved (``<artifact_dir>/<name>.ipynb``) and its HTML report
        (``<artifact_dir>/<name>.html``), rendered by a detached worker process.

        Returns once the notebook is staged (one file copy and an fsync); the worker is
        started from a short thread. The upload and the rendering survive this process's
        exit; a worker that dies (or never started) is replaced by :func:`recover_artifacts`.
        """
        src = source_path(notebook_path, "notebook_path")
        target = check_artifact_path(artifact_dir, "artifact_dir")
        if src.suffix != ".ipynb" or not src.is_file():
            raise InvalidValueError(
                f"{src} is not a notebook file (.ipynb).", hint="save the notebook first"
            )
        check_readable(src)
        stem = src.stem
        entry_id = self._stage(
            REPORT,
            stem,
            target,
            lambda dest: clone_or_copy(src, dest / f"{stem}.ipynb"),
            wake=False,
        )
        # starting a process costs milliseconds: a short non-daemon thread does it (the
        # interpreter waits for it at exit); if this process dies first, recovery does
        threading.Thread(
            target=start_report_worker,
            args=(self.folder, entry_id, self.tracking_uri),
            name="jupyter-mlops-report-start",
        ).start()

    @staticmethod
    def _write(path: Path, text: str) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    def _disk_error(self, exc: OSError) -> StoreError:
        return StoreError(
            f"Could not stage an artifact in {self.folder}: {exc}",
            hint="free disk space or set JUPYTER_MLOPS_SPOOL_DIR to another folder",
            run_id=self.run_id,
        )

    def _stage(
        self,
        kind: str,
        name: str,
        artifact_path: str | None,
        fill: Callable[[Path], None],
        *,
        wake: bool = True,
    ) -> str:
        """Fill a new entry folder, then append and fsync its manifest line; the entry's id."""
        if self._fd < 0:
            raise RunStateError(
                f"The artifact queue of run {self.run_id} is closed.", hint="start a new run"
            )
        entry = Entry(kind, uuid.uuid4().hex, name, artifact_path)
        dest = self.folder / ENTRIES / entry.id
        try:
            dest.mkdir(mode=0o700)
            fill(dest)
            data = (json.dumps(entry.record()) + "\n").encode()
            with self._append_lock:
                if self._fd < 0:
                    raise RunStateError(
                        f"The artifact queue of run {self.run_id} is closed.",
                        hint="start a new run",
                    )
                os.write(self._fd, data)
                os.fsync(self._fd)
        except OSError as exc:
            remove_tree(dest)
            raise self._disk_error(exc) from exc
        except BaseException:
            remove_tree(dest)
            raise
        if wake:
            self._wake.set()
        return entry.id

    # -- delivery ---------------------------------------------------------------------------

    def pending(self) -> int:
        """Entries staged but not yet in the store (reports being rendered included)."""
        return len(read_manifest(self.manifest_path))

    def deliver(self) -> bool:
        """Upload every staged file entry; True when caught up, False if the store is away
        (or another process holds the queue). Report entries are their worker's."""
        with self._deliver_lock, quiet_store_errors():
            lock = try_lock(self.folder / LOCK)
            if lock is None:
                return False
            try:
                for entry in read_manifest(self.manifest_path):
                    if entry.kind == REPORT:
                        continue
                    try:
                        client = self.client
                    except Exception as exc:  # the client cannot even be built
                        return self.health.failed(exc)
                    if not deliver_entry(self.folder, self.run_id, entry, client, self.health):
                        return False
                    with self._progress:
                        self._progress.notify_all()
                return True
            finally:
                os.close(lock)

    def flush(self, timeout: float | None = 30.0, *, reports: bool = False) -> None:
        """Block until every entry staged so far is uploaded (with ``reports``, rendered
        reports too). Raises :class:`StoreError` after ``timeout`` seconds (None: wait
        forever); the entries stay staged either way."""
        deadline = None if timeout is None else time.monotonic() + timeout
        target = {e.id for e in read_manifest(self.manifest_path) if reports or e.kind != REPORT}
        while True:
            left = target.intersection(e.id for e in read_manifest(self.manifest_path))
            if not left:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise StoreError(
                    f"{len(left)} artifact(s) of run {self.run_id} are not yet in the tracking "
                    f"store {redact_uri(self.tracking_uri)} after {timeout or 0:g} s: "
                    f"{self.last_error or 'the upload is still running'}",
                    hint=f"they are kept in {self.folder} and will be uploaded automatically "
                    "once the store is reachable, also after a restart; check the tracking URI",
                    run_id=self.run_id,
                )
            step = 0.1 if remaining is None else min(0.1, remaining)
            delivered = self._flush_round(step)
            if delivered is False or (delivered and reports):
                time.sleep(step)  # the store is away, or the report workers' part

    def close(self, *, delete: bool = False) -> None:
        """Stop the writer and close the queue.

        What is still pending stays staged for :func:`recover_artifacts` (call
        :meth:`flush` first to upload it now); ``delete`` discards it instead (not the
        reports, which their workers finish). The folder goes once nothing is pending.
        """
        self.stop_writer()
        with self._append_lock:
            if self._fd < 0:
                return
            os.close(self._fd)
            self._fd = -1
        if delete:
            with self._deliver_lock:
                for entry in read_manifest(self.manifest_path):
                    if entry.kind != REPORT:
                        drop_entry(self.folder, self.run_id, entry, None)
        with contextlib.suppress(OSError):  # from now on, recovery may upload what is left
            self._owner.closed = True
            self._owner.write(self.folder / OWNER)
        finish_if_idle(self.folder)
