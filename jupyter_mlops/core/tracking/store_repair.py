"""Repair what an interrupted schema migration leaves in an embedded (SQLite) MLflow store.

MLflow migrates a new store with alembic. On SQLite, alembic's "batch" operations
rebuild a table: ``CREATE TABLE _alembic_tmp_<name>``, copy the rows, drop
``<name>``, rename the copy. Python's sqlite3 commits that ``CREATE TABLE`` on its
own (DDL opens no transaction); the copy, the drop and the rename run in the
migration's transaction. A migration that fails after the ``CREATE`` (plain MLflow in
another process, which takes no lock of ours, migrating the same new store at the same
moment) rolls back everything but the empty copy, and the store stays short of
MLflow's schema for good: every later open, ours, plain MLflow's and ``mlflow db
upgrade``, stops at ``table _alembic_tmp_<name> already exists``.

:func:`drop_interrupted_copies` drops such a copy where ``<name>`` itself is still
there (its rows were never moved), in one write transaction, so that the migration
runs again. A copy without its table is left alone: that is not what an interrupted
migration leaves, and it may hold the rows.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "BATCH_COPY_PREFIX",
    "chain_texts",
    "drop_interrupted_copies",
    "names_interrupted_copy",
]

_log = logging.getLogger(__name__)

BATCH_COPY_PREFIX = "_alembic_tmp_"
"""How alembic names the copy of a table that a batch operation rebuilds."""


def chain_texts(exc: BaseException | None) -> Iterator[str]:
    """The lower-case texts of ``exc`` and what caused it (ten at most): MLflow and SQLAlchemy
    wrap the database's own message."""
    seen = 0
    while exc is not None and seen < 10:
        yield str(exc).lower()
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


def names_interrupted_copy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is alembic's copy already being there."""
    return any(BATCH_COPY_PREFIX in text and "already exists" in text for text in chain_texts(exc))


def drop_interrupted_copies(db: Path, timeout: float = 30.0) -> list[str]:
    """Drop each ``_alembic_tmp_<name>`` of ``db`` whose ``<name>`` exists; the names dropped."""
    dropped: list[str] = []
    with contextlib.closing(sqlite3.connect(db, timeout=timeout, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")  # nobody migrates while we look and drop
        try:
            tables = {
                str(row[0])
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            for name in sorted(tables):
                if name.startswith(BATCH_COPY_PREFIX) and name[len(BATCH_COPY_PREFIX) :] in tables:
                    quoted = '"' + name.replace('"', '""') + '"'
                    conn.execute(f"DROP TABLE {quoted}")
                    dropped.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    for name in dropped:
        _log.warning(
            "jupyter-mlops: the MLflow store %s held %s, the empty copy a schema migration "
            "interrupted by another process left behind (the store stayed short of MLflow's "
            "schema); dropped it, %s is untouched and the migration runs again",
            db,
            name,
            name[len(BATCH_COPY_PREFIX) :],
        )
    return dropped
