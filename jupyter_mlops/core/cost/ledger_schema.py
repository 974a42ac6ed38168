"""The cost ledger's tables, where it lives by default, and its additive upsert.

Tables (SQLAlchemy Core, created on open):

* ``cost_minutes``: one row per (minute, label set) with summed :data:`MEASURES`
  and maximum :data:`PEAKS`; the source of truth.
* ``cost_10min``, ``cost_hours`` and ``cost_4hours``: the same rows rolled up
  into 10-minute, hourly and 4-hour buckets (:data:`ROLLUPS`), written in the
  transaction that writes the minutes, so long ranges read a few thousand rows
  instead of a scan (the chart's 24 h, 7 d and 30 d steps).
* ``cost_run_tags``: a run's user tags (``epic=E``), for ``tag:<key>`` groupings.
* ``cost_budget_marks``: which budget threshold was announced in which period.
* ``cost_meta``: markers of one-time migrations (the rollup backfill).
* ``cost_keep_alive``: kernels the idle policy leaves alone until a time
  (``%mlops keep-alive``, the toast's button); ``cost_idle_actions``: what the idle
  policy did (or would have done in a dry run), with the cost avoided per hour.
  Both arrived after the first ledgers: ``create_all`` adds them to an old file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.core.cost.totals import MEASURES, PEAKS

__all__ = [
    "ADDITIVE",
    "ENV_LEDGER_URL",
    "LEDGER_FILE",
    "REPLACE",
    "ROLLUPS",
    "Schema",
    "busy",
    "default_ledger_url",
    "open_engine",
    "row_key",
    "upsert",
]

ENV_LEDGER_URL = "JUPYTER_MLOPS_COST_LEDGER"
_ENV_ROOT_DIR = "JUPYTER_MLOPS_ROOT_DIR"  # same value as config.ENV_ROOT_DIR (no import cycle)
LEDGER_FILE = "mlops-cost.db"
#: ``(bucket seconds, table name)`` of the rollups, finest first.
ROLLUPS = ((600, "cost_10min"), (3600, "cost_hours"), (14400, "cost_4hours"))
TAG_KEY_MAX = 250
TAG_VALUE_MAX = 250


def default_ledger_url(
    root_dir: str | os.PathLike[str] | None = None, tracking_uri: str | None = None
) -> str:
    """Where the ledger is when nothing names one: beside the project's MLflow store.

    ``$JUPYTER_MLOPS_COST_LEDGER`` if set; else, for a ``sqlite:///<dir>/<file>.db``
    ``tracking_uri``, ``sqlite:///<dir>/mlops-cost.db``; else
    ``sqlite:///<root_dir or $JUPYTER_MLOPS_ROOT_DIR or cwd>/mlops-cost.db`` (absolute).
    So a report run in a project folder shows that folder's work.
    """
    env = os.environ.get(ENV_LEDGER_URL)
    if env:
        return env
    prefix = "sqlite:///"
    if tracking_uri and tracking_uri.startswith(prefix):
        db = tracking_uri[len(prefix) :].split("?", 1)[0]
        if db and db != ":memory:" and not db.startswith("file:"):
            return f"{prefix}{(Path(db).expanduser().absolute().parent / LEDGER_FILE)}"
    base = Path(root_dir or os.environ.get(_ENV_ROOT_DIR) or os.getcwd()).expanduser()
    return f"{prefix}{base.absolute() / LEDGER_FILE}"


def row_key(labels: tuple[str, ...]) -> str:
    """The primary-key part standing for a label set (the labels themselves are long)."""
    return hashlib.sha1("\x1f".join(labels).encode("utf-8"), usedforsecurity=False).hexdigest()


def _sum(cur: Any, new: Any) -> Any:
    return cur + new


def _larger(cur: Any, new: Any) -> Any:
    import sqlalchemy as sa

    return sa.case((new > cur, new), else_=cur)


def _newer(cur: Any, new: Any) -> Any:
    return new


#: :func:`upsert` updates of a cost row: sums add, peaks take the larger, the rest is replaced.
ADDITIVE: dict[str, Callable[[Any, Any], Any]] = {
    **dict.fromkeys(MEASURES, _sum),
    **dict.fromkeys(PEAKS, _larger),
    "currency": _newer,
    "updated": _newer,
}
#: :func:`upsert` updates of a run tag: the new value wins.
REPLACE: dict[str, Callable[[Any, Any], Any]] = {"value": _newer, "updated": _newer}


def busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "deadlock" in text


def open_engine(url: str, what: str, busy_timeout_s: float) -> tuple[Any, Path | None]:
    """A SQLAlchemy engine for ``url`` and, for a SQLite file, its path (folder created).

    SQLite connections wait ``busy_timeout_s`` on a lock and use WAL, so several
    processes share the file. ``what`` names the database in the error of a bad URL.
    """
    import sqlalchemy as sa

    from jupyter_mlops.exceptions import ConfigError

    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:
        raise ConfigError(
            f"the {what} URL is not a valid SQLAlchemy URL",
            hint="use sqlite:///path/mlops-cost.db or postgresql://host/db",
        ) from exc
    database = parsed.database or ""
    db_file: Path | None = None
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and not database.startswith(("file:", ":memory:"))
    ):
        db_file = Path(database).expanduser().absolute()
        db_file.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        timeout_ms = int(busy_timeout_s * 1000)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={timeout_ms}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    from jupyter_mlops.core.fork_gate import guard

    return guard(engine), db_file


def _cost_table(sa: Any, meta: Any, name: str, time_column: str) -> Any:
    # the rollups are clustered on (bucket, key) in SQLite (WITHOUT ROWID): a range of
    # buckets is read in order, with no second lookup per row
    extra = {} if time_column == "minute" else {"sqlite_with_rowid": False}
    return sa.Table(
        name,
        meta,
        sa.Column(time_column, sa.BigInteger, primary_key=True, autoincrement=False),
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
        sa.Index(f"ix_{name}_project", "project", time_column),
        sa.Index(f"ix_{name}_kernel", "kernel_id"),
        sa.Index(f"ix_{name}_run", "run_id"),
        **extra,
    )


class Schema(NamedTuple):
    """Every table of the ledger; ``rollups`` pairs each bucket size with its table."""

    meta: Any
    minutes: Any
    rollups: tuple[tuple[int, Any], ...]
    tags: Any
    marks: Any
    migrations: Any
    keep_alive: Any
    idle_actions: Any

    @classmethod
    def build(cls, sa: Any) -> Schema:
        meta = sa.MetaData()
        minutes = _cost_table(sa, meta, "cost_minutes", "minute")
        rollups = tuple((size, _cost_table(sa, meta, name, "bucket")) for size, name in ROLLUPS)
        tags = sa.Table(
            "cost_run_tags",
            meta,
            sa.Column("run_id", sa.String(255), primary_key=True),
            sa.Column("key", sa.String(TAG_KEY_MAX), primary_key=True),
            sa.Column("value", sa.String(TAG_VALUE_MAX), nullable=False),
            sa.Column("updated", sa.Float, nullable=False),
            sa.Index("ix_cost_run_tags_key", "key", "value"),
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
        migrations = sa.Table(
            "cost_meta",
            meta,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("done_at", sa.Float, nullable=False),
        )
        keep_alive = sa.Table(
            "cost_keep_alive",
            meta,
            sa.Column("kernel_id", sa.String(255), primary_key=True),
            sa.Column("until", sa.Float, nullable=False),
            sa.Column("set_by", sa.String(255), nullable=False),
            sa.Column("updated", sa.Float, nullable=False),
        )
        idle_actions = sa.Table(
            "cost_idle_actions",
            meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("time", sa.Float, nullable=False, index=True),
            *(
                sa.Column(n, sa.String(1024 if n == "notebook" else 255), nullable=False)
                for n in LABELS
            ),
            sa.Column("resource", sa.String(8), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("state", sa.String(16), nullable=False),
            sa.Column("burned", sa.Float, nullable=False),
            sa.Column("avoided_per_hour", sa.Float, nullable=False),
            sa.Column("currency", sa.String(8), nullable=False),
        )
        return cls(meta, minutes, rollups, tags, marks, migrations, keep_alive, idle_actions)


def upsert(
    sa: Any,
    conn: Any,
    dialect: str,
    table: Any,
    index: list[str],
    params: list[dict[str, Any]],
    updates: dict[str, Callable[[Any, Any], Any]],
) -> None:
    """Insert ``params`` into ``table``; on a key in ``index`` already there, apply ``updates``.

    ``updates`` maps a column to ``f(current, new)`` of two column expressions.
    ``ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, update-then-insert elsewhere.
    """
    if not params:
        return
    if dialect in ("sqlite", "postgresql"):
        conn.execute(_upsert_statement(table, dialect, tuple(index), updates), params)
        return
    for row in params:
        where = sa.and_(*(table.c[n] == row[n] for n in index))
        values = {n: f(table.c[n], sa.literal(row[n])) for n, f in updates.items()}
        if conn.execute(table.update().where(where).values(values)).rowcount == 0:
            conn.execute(table.insert().values(row))


def _upsert_statement(
    table: Any, dialect: str, index: tuple[str, ...], updates: dict[str, Callable[[Any, Any], Any]]
) -> Any:
    """``INSERT ... ON CONFLICT DO UPDATE`` for ``table``, built once and kept in ``table.info``
    (every flush reuses it: building and compiling it each time cost most of a flush)."""
    cache = table.info.setdefault("jupyter_mlops_upserts", {})
    key = (dialect, index, id(updates))
    stmt = cache.get(key)
    if stmt is None:
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            insert: Any = sqlite_insert(table)
        else:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            insert = pg_insert(table)
        ex = insert.excluded
        sets = {n: f(table.c[n], ex[n]) for n, f in updates.items()}
        stmt = cache[key] = insert.on_conflict_do_update(index_elements=index, set_=sets)
    return stmt
