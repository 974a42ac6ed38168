"""The first open of an embedded (SQLite) MLflow store, one process at a time.

MLflow creates and migrates a SQLite store's schema the first time a process
builds its store object. Several processes doing that on a new file at once
(a server's warm-up, its kernels, pipeline workers) trip over each other:
"table ... already exists", "duplicate column name: step", "Online migration
expected to match one row". :func:`first_open` serializes that first open
across processes with an exclusive lock on a file beside the database
(``mlflow.db.lock``): the first holder creates and migrates the schema, each
later one finds it complete. Holding the lock costs one open per store and
process, after which nothing is locked (:func:`~jupyter_mlops.core.tracking.store.get_client`
keeps its client for the life of the process).

Only embedded stores are locked: a tracking server or a database server
(``http``, ``postgresql``, ``mysql``, ...) orders its own schema changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["OPEN_TIMEOUT", "embedded_store_path", "file_lock", "first_open", "lock_path"]

_log = logging.getLogger(__name__)

OPEN_TIMEOUT = 300.0
"""Seconds to wait for another process's first open of the same store (a migration takes seconds)."""


def embedded_store_path(tracking_uri: str) -> Path | None:
    """The database file of a ``sqlite:///...`` URI (absolute), else None (in-memory, not SQLite)."""
    scheme, sep, rest = tracking_uri.partition(":///")
    if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
        return None
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path).resolve()


def lock_path(db: Path) -> Path:
    """The lock file of database ``db``: ``<db>.lock`` beside it."""
    return db.with_name(db.name + ".lock")


def _try_lock(fd: int) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def file_lock(path: Path, timeout: float | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (created if needed) across processes.

    ``timeout``: seconds to wait for another holder (None: :data:`OPEN_TIMEOUT`).

    Yields True once locked. Yields False, without locking, when the lock file
    cannot be created (a read-only folder: nobody can create a store there
    either). Raises :class:`~jupyter_mlops.exceptions.StoreError` when another
    process holds the lock for more than ``timeout`` seconds. The lock ends
    when the block ends or the process dies (the system drops it; never stale).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        _log.debug("no lock file %s (%s): opening the store without it", path, exc)
        yield False
        return
    if timeout is None:
        timeout = OPEN_TIMEOUT
    try:
        deadline = time.monotonic() + timeout
        pause = 0.005
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                from jupyter_mlops.exceptions import StoreError

                raise StoreError(
                    f"Another process has been opening this store for over {timeout:g} s "
                    f"(it holds {path}).",
                    hint=f"find that process (fuser {path}) and stop it if it hangs, then retry",
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
        yield True
    finally:
        os.close(fd)  # closing releases the lock on every platform


@contextlib.contextmanager
def first_open(tracking_uri: str, timeout: float | None = None) -> Iterator[None]:
    """Run the block (a process's first open of ``tracking_uri``) under the store's lock.

    For an embedded SQLite store the block runs while this process holds
    ``<db>.lock``, so schema creation and migration happen once, whoever
    opens the new file at the same moment. Any other store: no lock.
    """
    db = embedded_store_path(tracking_uri)
    if db is None:
        yield
        return
    with file_lock(lock_path(db), timeout):
        yield
