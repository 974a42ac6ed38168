"""The cost ledger: per-minute aggregates in SQL, surviving restarts and dead kernels.

One row per (minute, kernel_id, run_id, notebook, project, user) holds the
quantities and money of that minute (:data:`MEASURES`, summed) and its peaks
(:data:`PEAKS`, maximum). Writes are additive upserts, so any number of
writers (the server, a kernel without a server, pipeline runs, even several
processes on one file) can book the same minute without losing anything.

* Where: :func:`default_ledger_url` (``$JUPYTER_MLOPS_COST_LEDGER``, else
  ``mlops-cost.db`` beside the project's embedded MLflow store, so a report in a
  project folder shows that folder's work). Any SQLAlchemy URL (PostgreSQL for a
  team) shares one ledger between servers. SQLite opens in WAL mode with a busy timeout.
* Rollups: the same rows summed into 10-minute, hourly and 4-hour buckets
  (``cost_10min``, ``cost_hours``, ``cost_4hours``) in the transaction that writes the minutes;
  long histories read those. A ledger from before a rollup table is backfilled
  once, by whichever process first opens it (a marker row in ``cost_meta``,
  inserted in the backfill's transaction, makes it once-only).
* Run tags: :meth:`Ledger.tag_run` keeps a run's user tags, so rows group by
  ``tag:epic`` (:meth:`Ledger.grouped`, several groupings at once).
* SQLAlchemy Core only, imported when a ledger is opened; writes are retried
  while the database is locked.
* Idle policy: keep-alive marks and the actions taken (:mod:`.ledger_policy`).
* Retention: :meth:`Ledger.purge` deletes rows (minutes and rollups) older than
  ``retention_days``. Budget marks live in their own table so that each
  threshold fires once per period, across restarts.

Times are epoch seconds; ``minute`` is the start of the minute (UTC).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_mlops.core.cost.ledger_policy import LedgerPolicy
from jupyter_mlops.core.cost.ledger_read import LedgerReads
from jupyter_mlops.core.cost.ledger_schema import (
    ADDITIVE,
    REPLACE,
    TAG_KEY_MAX,
    TAG_VALUE_MAX,
    Schema,
    busy,
    default_ledger_url,
    open_engine,
    row_key,
    upsert,
)
from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.core.cost.totals import MEASURES, PEAKS, Totals
from jupyter_mlops.exceptions import StoreError

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

_DAY = 86400

T = TypeVar("T")

#: ``(minute, (kernel_id, run_id, notebook, project, user))``
LedgerKey = tuple[int, tuple[str, str, str, str, str]]


class Ledger(LedgerReads, LedgerPolicy):
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
        self.engine: sa.engine.Engine
        self.engine, _ = open_engine(self.url, "cost ledger", busy_timeout_s)
        self.dialect = self.engine.dialect.name

        self.schema = Schema.build(sa)
        self.minutes, self.marks = self.schema.minutes, self.schema.marks
        self._retry(lambda: self.schema.meta.create_all(self.engine))
        self._retry(self._backfill_rollups)

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
                is_busy = isinstance(exc, sa.exc.OperationalError) and busy(exc)
                if not is_busy or attempt == attempts - 1:
                    raise StoreError(
                        f"the cost ledger failed: {type(exc.orig).__name__}: {exc.orig}",
                        hint="check cost_ledger_url and that the database is writable",
                    ) from exc
            except sa.exc.IntegrityError:
                if attempt == attempts - 1:
                    raise
            time.sleep(min(1.0, 0.02 * 2**attempt) * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    def _backfill_rollups(self) -> None:
        """Sum the minutes already booked into each rollup table, once per table and database.

        A table's marker row (``backfill:<table>`` in ``cost_meta``) and its backfill
        share one transaction: a second process opening the ledger at the same
        moment fails on the marker's primary key (and skips), and no process
        writes minutes before the markers are committed (it backfills first).
        """
        sa, meta, t = self._sa, self.schema.migrations, self.minutes
        with self.engine.connect() as conn:
            done = {str(r[0]) for r in conn.execute(sa.select(meta.c.name))}
        if "rollups-v1" in done:  # the first rollup ledgers marked both tables in one row
            done |= {"backfill:cost_10min", "backfill:cost_hours"}
        for size, rollup in self.schema.rollups:
            marker = f"backfill:{rollup.name}"
            if marker in done:
                continue
            bucket = (t.c.minute - t.c.minute % size).label("bucket")
            select = sa.select(
                bucket,
                t.c.key,
                *(t.c[n] for n in LABELS),
                *(sa.func.sum(t.c[n]).label(n) for n in MEASURES),
                *(sa.func.max(t.c[n]).label(n) for n in PEAKS),
                sa.func.max(t.c.currency).label("currency"),
                sa.func.max(t.c.updated).label("updated"),
            ).group_by(bucket, t.c.key, *(t.c[n] for n in LABELS))
            names = ["bucket", "key", *LABELS, *MEASURES, *PEAKS, "currency", "updated"]
            try:
                with self.engine.begin() as conn:
                    conn.execute(meta.insert().values(name=marker, done_at=self.clock()))
                    conn.execute(rollup.insert().from_select(names, select))
            except sa.exc.IntegrityError:
                continue  # another process did it

    def write(self, rows: Mapping[LedgerKey, Totals], currency: str = "USD") -> None:
        """Add each row's figures to its minute and its rollups, in one transaction."""
        if not rows:
            return
        now = self.clock()
        params = []
        for (minute, labels), totals in rows.items():
            row: dict[str, Any] = {"minute": int(minute), "key": row_key(labels)}
            row.update(zip(LABELS, labels, strict=True))
            row.update({n: float(getattr(totals, n)) for n in MEASURES})
            row.update({n: getattr(totals, n) for n in PEAKS})
            row["peak_rss_bytes"] = int(row["peak_rss_bytes"])
            row["peak_gpu_mem_bytes"] = int(row["peak_gpu_mem_bytes"])
            row["peak_cpu_percent"] = float(row["peak_cpu_percent"])
            row["currency"] = currency
            row["updated"] = now
            params.append(row)
        self._retry(lambda: self._upsert(params))

    def _upsert(self, params: list[dict[str, Any]]) -> None:
        sa, updates = self._sa, ADDITIVE
        with self.engine.begin() as conn:
            upsert(sa, conn, self.dialect, self.minutes, ["minute", "key"], params, updates)
            for size, rollup in self.schema.rollups:
                buckets = _roll_up(params, size)
                upsert(sa, conn, self.dialect, rollup, ["bucket", "key"], buckets, updates)

    def tag_run(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Keep ``tags`` (e.g. ``{"epic": "E-12"}``) of ``run_id``, for ``tag:KEY`` groupings.

        A key already kept gets the new value; an empty ``run_id`` is ignored.
        Keys and values are cut to 250 characters.
        """
        if not run_id or not tags:
            return
        now = self.clock()
        params = {
            str(k)[:TAG_KEY_MAX]: {
                "run_id": run_id[:255],
                "key": str(k)[:TAG_KEY_MAX],
                "value": str(v)[:TAG_VALUE_MAX],
                "updated": now,
            }
            for k, v in tags.items()
            if str(k)
        }
        sa, table = self._sa, self.schema.tags

        def run() -> None:
            with self.engine.begin() as conn:
                upsert(
                    sa, conn, self.dialect, table, ["run_id", "key"], list(params.values()), REPLACE
                )

        self._retry(run)

    # -- retention and budget marks -----------------------------------------------

    def purge(self, now: float | None = None) -> int:
        """Delete rows older than ``retention_days`` (rollups and idle actions too) and ended
        keep-alives; the number of minute rows deleted.

        The cut is on a boundary of the largest rollup bucket (4 hours, UTC), so every
        rollup loses exactly the minutes that go.
        """
        if not self.retention_days:
            return 0
        now = self.clock() if now is None else now
        cutoff = int(now - self.retention_days * _DAY)
        cutoff -= cutoff % max((size for size, _ in self.schema.rollups), default=60)
        minutes, marks, tags = self.minutes, self.marks, self.schema.tags
        sa = self._sa

        def run() -> int:
            with self.engine.begin() as conn:
                deleted = conn.execute(minutes.delete().where(minutes.c.minute < cutoff)).rowcount
                for _size, rollup in self.schema.rollups:
                    conn.execute(rollup.delete().where(rollup.c.bucket < cutoff))
                conn.execute(marks.delete().where(marks.c.period_start < cutoff - 31 * _DAY))
                booked = sa.select(minutes.c.run_id).where(minutes.c.run_id == tags.c.run_id)
                conn.execute(tags.delete().where((tags.c.updated < cutoff) & ~booked.exists()))
                actions, kept = self.schema.idle_actions, self.schema.keep_alive
                conn.execute(actions.delete().where(actions.c.time < cutoff))
                conn.execute(kept.delete().where(kept.c.until < now))
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


def _roll_up(params: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    """Minute rows summed into ``size``-second buckets (sums add, peaks take the larger)."""
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for row in params:
        bucket = row["minute"] - row["minute"] % size
        have = out.get((bucket, row["key"]))
        if have is None:
            rolled = dict(row)
            del rolled["minute"]
            rolled["bucket"] = bucket
            out[(bucket, row["key"])] = rolled
            continue
        for n in MEASURES:
            have[n] += row[n]
        for n in PEAKS:
            have[n] = max(have[n], row[n])
    return list(out.values())
