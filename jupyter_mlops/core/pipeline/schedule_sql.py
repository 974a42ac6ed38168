"""The SQL side of :mod:`~jupyter_mlops.core.pipeline.schedules`: tables, engine, retries.

:class:`SqlTables` opens any SQLAlchemy URL (the cost ledger's database by
default), creates ``schedules`` and ``schedule_firings`` once (under
``<db>.lock`` for a SQLite file, so several processes opening a brand-new
database at once do not trip over each other), and retries statements while the
database is locked. SQLAlchemy is imported when a store is opened.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_mlops.core.cost.ledger_schema import busy, open_engine
from jupyter_mlops.exceptions import StoreError

__all__ = ["SqlTables"]

T = TypeVar("T")


def _tables(sa: Any) -> tuple[Any, Any, Any]:
    meta = sa.MetaData()
    schedules = sa.Table(
        "schedules",
        meta,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("max_concurrent", sa.Integer, nullable=False),
        sa.Column("catch_up", sa.Boolean, nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("last_checked", sa.Float, nullable=False),
    )
    firings = sa.Table(
        "schedule_firings",
        meta,
        sa.Column("schedule_id", sa.String(32), primary_key=True),
        sa.Column("fire_time", sa.Float, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("manual", sa.Boolean, nullable=False, default=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("run_id", sa.String(64)),
        sa.Column("error", sa.String(500)),
        sa.Column("claimed", sa.Float, nullable=False),
        sa.Column("ended", sa.Float),
        sa.Index("ix_schedule_firings_status", "status", "schedule_id"),
    )
    return meta, schedules, firings


class SqlTables:
    """The schedule tables in the database at ``url``; see the module doc."""

    def __init__(self, url: str, *, busy_timeout_s: float = 10.0) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.url = url
        self.engine, db_file = open_engine(url, "schedule database", busy_timeout_s)
        self.dialect = self.engine.dialect.name
        self.meta, self.schedules, self.firings = _tables(sa)
        if db_file is None:
            self.retry(lambda: self.meta.create_all(self.engine))
            return
        from jupyter_mlops.core.tracking.store_lock import file_lock, lock_path

        with file_lock(lock_path(db_file)):
            self.retry(lambda: self.meta.create_all(self.engine))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def retry(self, action: Callable[[], T], attempts: int = 8) -> T:
        """``action()``, again while the database is locked (or its tables appear at once)."""
        sa = self.sa
        for attempt in range(attempts):
            try:
                return action()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                again = "already exists" in str(exc) or (
                    isinstance(exc, sa.exc.OperationalError) and busy(exc)
                )
                if not again or attempt == attempts - 1:
                    raise StoreError(
                        f"the schedule database failed: {type(exc.orig).__name__}: {exc.orig}",
                        hint="check that the database (the cost ledger's) is reachable and "
                        "writable",
                    ) from exc
            time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    def execute(self, statement: Any) -> int:
        """Run a write in its own transaction; the number of rows it touched."""
        with self.engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def fetch(self, query: Any) -> list[Any]:
        """The rows of ``query``, retried while the database is locked."""

        def read() -> list[Any]:
            with self.engine.connect() as conn:
                return list(conn.execute(query))

        return self.retry(read)
