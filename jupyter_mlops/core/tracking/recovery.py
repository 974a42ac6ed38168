"""Replay the spools of dead processes, and never leave their runs RUNNING.

Recovery calls the spool (:mod:`~jupyter_mlops.core.tracking.spool`) and the
artifact delivery (:mod:`~jupyter_mlops.core.artifacts.delivery`), never the
other way round. A spool is an orphan when its meta sidecar names a process on
this host that is gone: the pid no longer exists, is a zombie, or now belongs to
a process started at another time (pid reuse, checked with psutil's create time).
Recovering processes take a ``flock`` on ``.recover.lock`` in the spool folder
so two of them never replay the same spool at once; the operating system drops
that lock when its holder dies, so a lock file left by a dead process is
simply taken over.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_mlops.core.artifacts.delivery import recover_artifacts
from jupyter_mlops.core.redact import redact_uri
from jupyter_mlops.core.tracking.owner import owner_alive, sqlite_store_gone
from jupyter_mlops.core.tracking.spool import Spool
from jupyter_mlops.core.tracking.spool_format import META_SUFFIX, SpoolMeta
from jupyter_mlops.core.tracking.store import import_mlflow

__all__ = ["owner_alive", "recover_orphans"]

_log = logging.getLogger("jupyter_mlops.spool")
_LOCK_NAME = ".recover.lock"
_PARKED = "unrecoverable"


@contextlib.contextmanager
def _dir_lock(path: Path, wait: float) -> Iterator[bool]:
    """Exclusive lock on ``path`` (created if needed); yields False if not had within ``wait``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    locked = False
    try:
        while True:
            try:
                if sys.platform == "win32":
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                else:
                    import fcntl

                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
        yield locked
    finally:
        os.close(fd)  # closing releases the lock on every platform


def _mtime_ms(path: Path) -> int | None:
    try:
        return int(path.stat().st_mtime * 1000)
    except OSError:
        return None


def _recover_one(spool_dir: Path, meta: SpoolMeta, uri: str, client: Any) -> bool:
    # recovery runs on a thread of its own, maybe while another one imports MLflow
    import_mlflow("mlflow.store.tracking.sqlalchemy_store")
    from mlflow.exceptions import MlflowException

    spool = Spool(spool_dir, meta.run_id, uri, client=client)
    done = False
    try:
        if not spool.deliver():
            return False  # store unavailable: deliver() warned; try again next time
        end_time = meta.end_time or _mtime_ms(spool.path) or time.time_ns() // 1_000_000
        try:
            run = spool.client.get_run(meta.run_id)
            owner = meta.status_owner
            if run.info.status == "RUNNING" and (owner is None or not owner_alive(*owner)):
                spool.client.set_terminated(
                    meta.run_id, meta.end_status or "KILLED", end_time=end_time
                )
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
        done = True
        return True
    except Exception as exc:
        _log.warning(
            "jupyter-mlops: could not finish recovering run %s from %s: %s",
            meta.run_id,
            redact_uri(uri),
            exc,
        )
        return False
    finally:
        spool.close(delete=done)


def _park(folder: Path, meta: SpoolMeta, uri: str) -> None:
    """Move an orphan whose store is gone to ``<spool_dir>/unrecoverable/`` (kept, not retried)."""
    target = folder / _PARKED
    target.mkdir(exist_ok=True, mode=0o700)
    for path in sorted(folder.glob(f"{meta.run_id}.*")):
        os.replace(path, target / path.name)
    _log.warning(
        "jupyter-mlops: the store %s of run %s no longer exists; its spooled records are "
        "kept in %s.",
        redact_uri(uri),
        meta.run_id,
        target,
    )


def recover_orphans(
    spool_dir: Path | str,
    *,
    tracking_uri: str | None = None,
    client: Any = None,
    wait: float = 2.0,
) -> list[str]:
    """Replay every orphaned spool in ``spool_dir`` into its store; return the recovered run ids.

    Each orphan's records are delivered, then its run, if still ``RUNNING``, is
    set to the status its process recorded on the way out (``mark_ended``) or
    ``KILLED``, with the spool's last write as end time; then its files are
    deleted. The meta sidecar holds the tracking URI without credentials: when
    ``tracking_uri`` is the same store, it (and ``client``, if given) is used
    instead so credentials in the URI still work. Orphans whose store is
    unreachable stay for a later attempt. Returns ``[]`` if another process is
    recovering (lock not had within ``wait`` seconds). An orphan whose SQLite
    store file was deleted is moved to ``unrecoverable/`` in the spool folder.
    Artifact queues of dead processes are uploaded too
    (:func:`jupyter_mlops.core.artifacts.delivery.recover_artifacts`).
    """
    folder = Path(spool_dir)
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    recovered: list[str] = []
    with _dir_lock(folder / _LOCK_NAME, wait) as locked:
        if not locked:
            return []
        for meta_path in sorted(folder.glob(f"*{META_SUFFIX}")):
            meta = SpoolMeta.read(meta_path)
            if meta is None or meta.host != host or owner_alive(meta.pid, meta.create_time):
                continue
            same_store = tracking_uri is not None and redact_uri(tracking_uri) == meta.tracking_uri
            uri = tracking_uri if same_store and tracking_uri else meta.tracking_uri
            if sqlite_store_gone(uri):
                _park(folder, meta, uri)
                continue
            if _recover_one(folder, meta, uri, client if same_store else None):
                recovered.append(meta.run_id)
        for run_id in recover_artifacts(folder, tracking_uri, client=client):
            if run_id not in recovered:
                recovered.append(run_id)
    return recovered
