"""Uploading staged artifacts, the report worker's start, and recovery of dead queues.

Shared by the owner's writer thread (:class:`jupyter_mlops.core.artifacts.queue.ArtifactQueue`),
the detached report worker (:mod:`jupyter_mlops.core.tracking.report`) and
:func:`recover_artifacts`. Whoever delivers from a queue holds its ``.lock``
(``flock``), so two processes never upload the same entry at once; a report
entry is rendered only by the holder of its ``report-<id>.lock``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from jupyter_mlops.core.artifacts.staging import (
    DONE,
    DROPPED,
    ENTRIES,
    FILE,
    LOCK,
    MANIFEST,
    OWNER,
    QUEUE_SUFFIX,
    REPORT,
    Entry,
    QueueOwner,
    append_line,
    read_manifest,
    remove_tree,
    try_lock,
)
from jupyter_mlops.core.redact import redact_uri, scrub_error
from jupyter_mlops.core.tracking.delivery import StoreHealth, is_permanent_error
from jupyter_mlops.core.tracking.owner import sqlite_store_gone

__all__ = [
    "URI_ENV",
    "ArtifactHealth",
    "deliver_entry",
    "drop_entry",
    "finish_if_idle",
    "recover_artifacts",
    "report_lock_path",
    "spawn_report_worker",
    "start_report_worker",
]

URI_ENV = "JUPYTER_MLOPS_REPORT_TRACKING_URI"
"""How a report worker gets the tracking URI: in its environment, never in its argv."""

_PARKED = "unrecoverable"
_log = logging.getLogger("jupyter_mlops.spool")


class ArtifactHealth(StoreHealth):
    """:class:`StoreHealth` with the artifact queue's words: one warning per outage."""

    down_message = (
        "jupyter-mlops: cannot upload artifacts to the tracking store %s (%s). They are "
        "kept in %s and will be uploaded when the store is reachable again."
    )
    up_message = (
        "jupyter-mlops: the tracking store %s is reachable again; "
        "uploading the pending artifacts of run %s."
    )


def report_lock_path(folder: Path, entry_id: str) -> Path:
    """The lock held by the worker rendering report entry ``entry_id``."""
    return folder / f"report-{entry_id}.lock"


def drop_entry(folder: Path, run_id: str, entry: Entry, reason: str | None) -> None:
    """Give up an entry: its staged files go to ``<spool_dir>/unrecoverable/`` (with
    ``reason.txt``) when ``reason`` is given, else are deleted; a warning says where."""
    staged = folder / ENTRIES / entry.id
    if reason is not None and staged.exists():
        target = folder.parent / _PARKED / folder.name / entry.id
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(staged, target)
        (target / "reason.txt").write_text(reason + "\n", encoding="utf-8")
        _log.warning(
            "jupyter-mlops: artifact %s of run %s was refused by the tracking store (%s); "
            "it is kept in %s.",
            entry.name or entry.artifact_path or entry.id,
            run_id,
            scrub_error(reason),
            target,
        )
    append_line(folder / MANIFEST, [DROPPED, entry.id])
    remove_tree(staged)
    if entry.kind == REPORT:
        report_lock_path(folder, entry.id).unlink(missing_ok=True)


def deliver_entry(
    folder: Path, run_id: str, entry: Entry, client: Any, health: StoreHealth
) -> bool:
    """Upload one file or folder entry and record it done; False on an outage (kept)."""
    staged = folder / ENTRIES / entry.id
    if not staged.is_dir():
        drop_entry(folder, run_id, entry, None)  # removed by hand: nothing left to send
        return True
    try:
        if entry.kind == FILE:
            client.log_artifact(run_id, str(staged / entry.name), entry.artifact_path)
        else:
            client.log_artifacts(run_id, str(staged), entry.artifact_path)
    except Exception as exc:
        if not is_permanent_error(exc):
            return health.failed(exc)
        drop_entry(folder, run_id, entry, f"{type(exc).__name__}: {exc}")
        return True
    append_line(folder / MANIFEST, [DONE, entry.id])
    remove_tree(staged)
    health.succeeded(run_id)
    return True


def _remove_if_idle(folder: Path) -> bool:
    """Remove the queue folder if its owner closed it or died and nothing is pending
    (the caller holds the queue lock)."""
    owner = QueueOwner.read(folder / OWNER)
    if owner is not None and not owner.closed and not owner.gone():
        return False
    if read_manifest(folder / MANIFEST):
        return False
    remove_tree(folder)
    return True


def finish_if_idle(folder: Path) -> bool:
    """Remove a closed (or orphaned) queue folder once nothing in it is pending."""
    fd = try_lock(folder / LOCK)
    if fd is None:
        return False
    try:
        return _remove_if_idle(folder)
    finally:
        os.close(fd)


def spawn_report_worker(folder: Path, entry_id: str, tracking_uri: str, lock_fd: int) -> None:
    """Start the detached worker that renders and uploads report entry ``entry_id``.

    The worker inherits ``lock_fd`` (the entry's lock) and holds it while it
    lives; the caller closes its own copy afterwards. Arguments are an argv list
    (no shell); the tracking URI travels in the worker's environment, not its argv.
    """
    env = dict(os.environ)
    env[URI_ENV] = tracking_uri
    argv = [sys.executable, "-m", "jupyter_mlops.core.tracking.report", "--queue", str(folder)]
    argv += ["--entry", entry_id, "--lock-fd", str(lock_fd)]
    starter = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=folder / ENTRIES / entry_id,  # nothing of the user's can shadow our imports
        env=env,
        pass_fds=(lock_fd,),
        start_new_session=True,
    )
    # the worker forks itself away and this first process exits at once: reap it
    with contextlib.suppress(subprocess.TimeoutExpired):
        starter.wait(timeout=30)


def start_report_worker(folder: Path, entry_id: str, uri: str) -> bool:
    """Take report entry ``entry_id``'s lock and start its worker, handing the lock over.

    False when the lock is held (a worker lives) or the worker cannot be started (the
    entry then waits for :func:`recover_artifacts`).
    """
    fd = try_lock(report_lock_path(folder, entry_id))
    if fd is None:
        return False
    try:
        spawn_report_worker(folder, entry_id, uri, fd)
    except OSError as exc:
        _log.warning("jupyter-mlops: could not start the report worker: %s", exc)
        return False
    finally:
        os.close(fd)
    return True


def _recover_queue(folder: Path, owner: QueueOwner, uri: str, client: Any) -> bool:
    fd = try_lock(folder / LOCK)
    if fd is None:
        return False  # its owner or another recoverer is delivering
    try:
        abandoned = owner.closed or owner.gone()
        health = ArtifactHealth(uri, str(folder))
        progress = False
        for entry in read_manifest(folder / MANIFEST):
            if entry.kind == REPORT:
                progress = start_report_worker(folder, entry.id, uri) or progress
            elif abandoned:
                if client is None:
                    from jupyter_mlops.core.tracking.store import get_client

                    client = get_client(uri)
                if not deliver_entry(folder, owner.run_id, entry, client, health):
                    return progress  # store unavailable: the rest waits for next time
                progress = True
        return (abandoned and _remove_if_idle(folder)) or progress
    except Exception as exc:
        _log.warning(
            "jupyter-mlops: could not recover the artifacts of run %s from %s: %s",
            owner.run_id,
            redact_uri(uri),
            scrub_error(str(exc)),
        )
        return False
    finally:
        os.close(fd)


def recover_artifacts(
    spool_dir: Path | str, tracking_uri: str | None = None, *, client: Any = None
) -> list[str]:
    """Upload the artifact queues of dead (or closed) owners in ``spool_dir``; return run ids.

    Entries are uploaded as staged, then the queue folder is deleted. A report entry
    whose worker died gets a new worker (it renders and uploads in the background).
    As in :func:`jupyter_mlops.core.tracking.recovery.recover_orphans`, ``tracking_uri`` (and
    ``client``) are used for queues of the same store, so credentials in the URI work;
    queues of other hosts are left alone; a store that is unreachable leaves the queue
    for a later attempt; a SQLite store whose file is gone is never recreated.
    """
    from jupyter_mlops.core.tracking.delivery import quiet_store_errors

    folder = Path(spool_dir)
    if not folder.is_dir():
        return []
    recovered: list[str] = []
    with quiet_store_errors():
        for queue in sorted(folder.glob(f"*{QUEUE_SUFFIX}")):
            owner = QueueOwner.read(queue / OWNER)
            if owner is None or owner.host != socket.gethostname():
                continue  # being created, or another host's
            same = tracking_uri is not None and redact_uri(tracking_uri) == owner.tracking_uri
            uri = tracking_uri if same and tracking_uri else owner.tracking_uri
            if sqlite_store_gone(uri):
                continue  # kept as is: opening it would create an empty store
            if _recover_queue(queue, owner, uri, client if same else None):
                recovered.append(owner.run_id)
    return recovered
