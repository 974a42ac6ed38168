"""The cost ledger: per-minute aggregates in SQL, surviving restarts and dead kernels.

One row per (minute, kernel_id, run_id, notebook, project, user) holds the
quantities and money of that minute (:data:`MEASURES`, summed) and its peaks
(:data:`PEAKS`, maximum). Writes are additive upserts, so any number of
writers (the server, a kernel without a server, pipeline runs, even several
processes on one file) can book the same minute without losing anything.

* Default database: an embedded SQLite file, ``<data dir>/jupyter-mlops/cost.db``
  (:func:`default_ledger_url`), opened in WAL mode with a busy timeout; any
  SQLAlchemy URL (PostgreSQL, MySQL, ...) works for a shared ledger.
* SQLAlchemy Core only, imported when a ledger is opened. ``INSERT ... ON
  CONFLICT DO UPDATE`` on SQLite and PostgreSQL, update-then-insert elsewhere;
  writes are retried while the database is locked.
* Retention: :meth:`Ledger.purge` deletes rows older than ``retention_days``.
* Budget marks (which threshold was already announced in which period) live in
  a second table so that each fires once per period, across restarts.

Times are epoch seconds; ``minute`` is the start of the minute (UTC).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.core.cost.totals import MEASURES, PEAKS, Totals
from jupyter_mlops.exceptions import ConfigError, StoreError

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = [
    "MEASURES",
    "PEAKS",
    "Ledger",
    "LedgerKey",
    "Totals",
    "default_ledger_url",
]

_log = logging.getLogger("jupyter_mlops.cost")

GROUPS = (*LABELS, "day", "week", "minute")
_DAY = 86400
_WEEK = 7 * _DAY
_MONDAY = 4 * _DAY  # 1970-01-05 was a Monday
ENV_LEDGER_URL = "JUPYTER_MLOPS_COST_LEDGER"

T = TypeVar("T")

#: ``(minute, (kernel_id, run_id, notebook, project, user))``
LedgerKey = tuple[int, tuple[str, str, str, str, str]]


def default_ledger_url() -> str:
    """``$JUPYTER_MLOPS_COST_LEDGER``, else ``sqlite:///`` in the user data dir beside the spool."""
    env = os.environ.get(ENV_LEDGER_URL)
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'jupyter-mlops' / 'cost.db'}"


def _row_key(labels: tuple[str, ...]) -> str:
    return hashlib.sha1("\x1f".join(labels).encode("utf-8"), usedforsecurity=False).hexdigest()


def _tables(sa: Any) -> tuple[Any, Any]:
    meta = sa.MetaData()
    minutes = sa.Table(
        "cost_minutes",
        meta,
        sa.Column("minute", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key", sa.String(40), primary_key=True),
        *(
            sa.Column(n, sa.String(1024 if n == "notebook" else 255), nullable=False)
            for n in LABELS
        ),
        *(sa.Column(n, sa.Float, nullable=False, default=0.0) for n in MEASURES),
        *(
            sa.Column(n, sa.Float if n == "peak_cpu_percent" else sa.BigInteger, nullable=False)
            for n in PEAKS
        ),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.Index("ix_cost_minutes_project", "project", "minute"),
        sa.Index("ix_cost_minutes_kernel", "kernel_id"),
        sa.Index("ix_cost_minutes_run", "run_id"),
    )
    marks = sa.Table(
        "cost_budget_marks",
        meta,
        sa.Column("project", sa.String(255), primary_key=True),
        sa.Column("period_start", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("threshold", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("consumer", sa.String(255), primary_key=True),
        sa.Column("fired_at", sa.Float, nullable=False),
    )
    return minutes, marks


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


class Ledger:
    """Per-minute cost rows in any SQLAlchemy database (SQLite file by default).

    ``retention_days``: rows older than this are deleted by :meth:`purge`
    (``None`` or 0: kept for ever). Thread-safe; several processes may share a file.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        retention_days: float | None = 90.0,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 10.0,
    ) -> None:
        import sqlalchemy as sa

        self.url = url or default_ledger_url()
        self.retention_days = retention_days
        self.clock = clock
        self._sa = sa
        try:
            parsed = sa.engine.make_url(self.url)
        except Exception as exc:
            raise ConfigError(
                "the cost ledger URL is not a valid SQLAlchemy URL",
                hint="use sqlite:///path/cost.db or postgresql://host/db",
            ) from exc
        self.dialect = parsed.get_backend_name()
        database = parsed.database or ""
        if self.dialect == "sqlite" and database and not database.startswith(("file:", ":memory:")):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine: sa.engine.Engine = sa.create_engine(parsed)
        if self.dialect == "sqlite":
            timeout_ms = int(busy_timeout_s * 1000)

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        self.minutes, self.marks = _tables(sa)
        self._retry(lambda: self.minutes.metadata.create_all(self.engine))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------

    def _retry(self, action: Callable[[], T], attempts: int = 8) -> T:
        sa = self._sa
        for attempt in range(attempts):
            try:
                return action()
            except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
                if "already exists" in str(exc) and attempt < attempts - 1:
                    # two processes created the tables at once (PostgreSQL: ProgrammingError)
                    continue
                busy = isinstance(exc, sa.exc.OperationalError) and _busy(exc)
                if not busy or attempt == attempts - 1:
                    raise StoreError(
                        f"the cost ledger failed: {type(exc.orig).__name__}: {exc.orig}",
                        hint="check cost_ledger_url and that the database is writable",
                    ) from exc
            except sa.exc.IntegrityError:
                if attempt == attempts - 1:
                    raise
            time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    def write(self, rows: Mapping[LedgerKey, Totals], currency: str = "USD") -> None:
        """Add each row's figures to its minute (creating rows as needed), in one transaction."""
        if not rows:
            return
        now = self.clock()
        params = []
        for (minute, labels), totals in rows.items():
            row: dict[str, Any] = {"minute": int(minute), "key": _row_key(labels)}
            row.update(zip(LABELS, labels, strict=True))
            row.update({n: float(getattr(totals, n)) for n in MEASURES})
            row.update({n: getattr(totals, n) for n in PEAKS})
            row["peak_rss_bytes"] = int(row["peak_rss_bytes"])
            row["peak_gpu_mem_bytes"] = int(row["peak_gpu_mem_bytes"])
            row["currency"] = currency
            row["updated"] = now
            params.append(row)
        self._retry(lambda: self._upsert(params))

    def _upsert(self, params: list[dict[str, Any]]) -> None:
        sa = self._sa
        t = self.minutes
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                stmt: Any = sqlite_insert(t)
            else:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                stmt = pg_insert(t)
            ex = stmt.excluded
            updates: dict[str, Any] = {n: t.c[n] + ex[n] for n in MEASURES}
            updates.update({n: sa.case((ex[n] > t.c[n], ex[n]), else_=t.c[n]) for n in PEAKS})
            updates.update(currency=ex.currency, updated=ex.updated)
            stmt = stmt.on_conflict_do_update(index_elements=["minute", "key"], set_=updates)
            with self.engine.begin() as conn:
                conn.execute(stmt, params)
            return
        with self.engine.begin() as conn:
            for row in params:
                where = (t.c.minute == row["minute"]) & (t.c.key == row["key"])
                values: dict[str, Any] = {n: t.c[n] + row[n] for n in MEASURES}
                values.update({n: sa.case((t.c[n] < row[n], row[n]), else_=t.c[n]) for n in PEAKS})
                values.update(currency=row["currency"], updated=row["updated"])
                if conn.execute(t.update().where(where).values(values)).rowcount == 0:
                    conn.execute(t.insert().values(row))

    # -- reading ------------------------------------------------------------------

    def _where(self, since: float | None, until: float | None, labels: Mapping[str, str]) -> Any:
        t = self.minutes
        clauses = []
        if since is not None:
            clauses.append(t.c.minute >= int(since // 60 * 60))
        if until is not None:
            clauses.append(t.c.minute < int(until))
        for name, value in labels.items():
            if name not in LABELS:
                raise ValueError(f"unknown label {name!r}; known: {', '.join(LABELS)}")
            clauses.append(t.c[name] == value)
        return self._sa.and_(self._sa.true(), *clauses)

    def _aggregates(self) -> list[Any]:
        sa, t = self._sa, self.minutes
        sums = [sa.func.coalesce(sa.func.sum(t.c[n]), 0.0).label(n) for n in MEASURES]
        return sums + [sa.func.coalesce(sa.func.max(t.c[n]), 0).label(n) for n in PEAKS]

    @staticmethod
    def _totals(row: Any) -> Totals:
        data = row._mapping
        return Totals(
            **{n: float(data[n] or 0.0) for n in MEASURES},
            peak_rss_bytes=int(data["peak_rss_bytes"] or 0),
            peak_gpu_mem_bytes=int(data["peak_gpu_mem_bytes"] or 0),
            peak_cpu_percent=float(data["peak_cpu_percent"] or 0.0),
        )

    def totals(
        self, *, since: float | None = None, until: float | None = None, **labels: str
    ) -> Totals:
        """Everything booked matching ``labels`` (``kernel_id="..."``, ``project=...``) in the window."""
        return self.totals_where(labels, since=since, until=until)

    def totals_where(
        self, labels: Mapping[str, str], *, since: float | None = None, until: float | None = None
    ) -> Totals:
        """:meth:`totals` with the labels as a mapping."""
        stmt = self._sa.select(*self._aggregates()).where(self._where(since, until, labels))
        with self.engine.connect() as conn:
            return self._totals(conn.execute(stmt).one())

    def grouped(
        self,
        by: str,
        *,
        since: float | None = None,
        until: float | None = None,
        **labels: str,
    ) -> list[tuple[str | int, Totals]]:
        """Totals per label value (``by="project"``) or per UTC ``day`` / ``week`` / ``minute`` start."""
        sa, t = self._sa, self.minutes
        if by not in GROUPS:
            raise ValueError(f"cannot group by {by!r}; use one of {', '.join(GROUPS)}")
        if by == "day":
            column: Any = t.c.minute - t.c.minute % _DAY
        elif by == "week":
            column = t.c.minute - (t.c.minute - _MONDAY) % _WEEK
        else:
            column = t.c[by]
        bucket = column.label("bucket")
        stmt = (
            sa.select(bucket, *self._aggregates())
            .where(self._where(since, until, labels))
            .group_by(column)
            .order_by(column)
        )
        with self.engine.connect() as conn:
            result = conn.execute(stmt).all()
        out: list[tuple[str | int, Totals]] = []
        for row in result:
            key = row._mapping["bucket"]
            out.append(
                (int(key) if by in ("day", "week", "minute") else str(key), self._totals(row))
            )
        return out

    def labels(self, **labels: str) -> list[dict[str, str]]:
        """The distinct label sets booked matching ``labels`` (e.g. every kernel of a project)."""
        sa, t = self._sa, self.minutes
        stmt = (
            sa.select(*(t.c[n] for n in LABELS)).where(self._where(None, None, labels)).distinct()
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def currencies(self) -> set[str]:
        sa, t = self._sa, self.minutes
        with self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(sa.select(t.c.currency).distinct())}

    # -- retention and budget marks -----------------------------------------------

    def purge(self, now: float | None = None) -> int:
        """Delete rows older than ``retention_days``; the number of rows deleted."""
        if not self.retention_days:
            return 0
        cutoff = int((self.clock() if now is None else now) - self.retention_days * _DAY)
        minutes, marks = self.minutes, self.marks

        def run() -> int:
            with self.engine.begin() as conn:
                deleted = conn.execute(minutes.delete().where(minutes.c.minute < cutoff)).rowcount
                conn.execute(marks.delete().where(marks.c.period_start < cutoff - 31 * _DAY))
                return int(deleted or 0)

        return self._retry(run)

    def mark_budget(self, project: str, period_start: int, threshold: int, consumer: str) -> bool:
        """Record that ``consumer`` announced ``threshold`` % for this period; False if it already had."""
        sa, marks = self._sa, self.marks
        row = {
            "project": project,
            "period_start": int(period_start),
            "threshold": int(threshold),
            "consumer": consumer,
            "fired_at": self.clock(),
        }

        def run() -> bool:
            try:
                with self.engine.begin() as conn:
                    conn.execute(marks.insert().values(row))
            except sa.exc.IntegrityError:
                return False
            return True

        return self._retry(run)

    def budget_marks(self, project: str, period_start: int) -> set[tuple[int, str]]:
        sa, m = self._sa, self.marks
        stmt = sa.select(m.c.threshold, m.c.consumer).where(
            (m.c.project == project) & (m.c.period_start == int(period_start))
        )
        with self.engine.connect() as conn:
            return {(int(r[0]), str(r[1])) for r in conn.execute(stmt)}
