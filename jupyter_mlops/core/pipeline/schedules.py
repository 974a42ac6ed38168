"""Pipeline schedules: cron expressions in a time zone, kept in SQL beside the cost ledger.

::

    store = ScheduleStore(default_ledger_url(root, tracking_uri))
    schedule = store.add(root, "pipelines/churn", "0 6 * * MON-FRI", "Europe/Madrid",
                         {"train.lr": "0.1"}, from_text=True)     # validated; nothing stored on error
    store.list_schedules(); store.set_paused(schedule.id, True); store.remove(schedule.id)
    store.describe(schedule, now)                                 # the REST ``Schedule`` object

Tables (SQLAlchemy Core, in the same database as the cost ledger, any SQLAlchemy URL):

* ``schedules``: id, name, path (relative to the root), cron, timezone, parameters
  (JSON, typed), max_concurrent, catch_up, paused, created, last_checked (the last
  time a scheduler looked at it: firings after it and before a scheduler's start
  were missed).
* ``schedule_firings``: one row per (schedule_id, fire_time), the primary key.
  A firing is *claimed* by inserting its row; a second scheduler (the server and a
  headless ``jupyter mlops scheduler`` on one database) fails on the key and
  leaves it, so no firing runs twice. :data:`STATUSES` are the states of a row.

The tables are created once, under a lock file beside a SQLite database
(``<db>.lock``, as the MLflow store's first open), so a brand-new database opened
by several processes at once works; SQLite opens in WAL mode with a busy timeout.
Validation (:func:`validate`): the cron expression by croniter (five fields, or
``@daily`` and its kind), the time zone by :mod:`zoneinfo`, the path confined to
the root, the parameters by planning a run (``plan_run``: every problem at once).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.schedule_sql import SqlTables
from jupyter_mlops.exceptions import InvalidValueError, NotFoundError

__all__ = [
    "FIRINGS_KEPT",
    "MISSED_SHOWN",
    "STATUSES",
    "Schedule",
    "ScheduleStore",
    "fire_times",
    "next_fire",
    "schedule_url",
    "validate",
]

#: a firing's states: started (running), its run's end (finished, failed, killed), skipped
#: (max_concurrent runs were still running), missed (no scheduler ran then), error (it
#: could not start: the pipeline is gone, the server is full), lost (its scheduler died)
STATUSES = ("started", "finished", "failed", "killed", "skipped", "missed", "error", "lost")
MISSED_SHOWN = 20
"""Missed firings a schedule lists (the newest)."""
FIRINGS_KEPT = 1000
"""Firings kept per schedule, the newest (a running one always); their runs stay in MLflow."""
_MAX_CONCURRENT = 100
_NAME_MAX = 200


@dataclass(frozen=True)
class Schedule:
    """One schedule as stored; times are epoch seconds."""

    id: str
    name: str
    path: str
    cron: str
    timezone: str
    parameters: dict[str, Any] = field(default_factory=dict)
    max_concurrent: int = 1
    catch_up: bool = False
    paused: bool = False
    created: float = 0.0
    last_checked: float = 0.0


def schedule_url(root_dir: Path | str | None = None, tracking_uri: str | None = None) -> str:
    """Where schedules are kept: the cost ledger's database (:func:`default_ledger_url`);
    with the ledger off (``memory``), ``mlops-cost.db`` in the root folder all the same."""
    from jupyter_mlops.core.cost.ledger_schema import LEDGER_FILE, default_ledger_url

    url = default_ledger_url(root_dir, tracking_uri)
    if url == "memory":
        return f"sqlite:///{Path(root_dir or '.').resolve() / LEDGER_FILE}"
    return url


def _croniter() -> Any:
    """croniter's class (imported on use; it ships no type hints)."""
    import importlib

    return importlib.import_module("croniter").croniter


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def next_fire(cron: str, timezone: str, after: float) -> float:
    """The first firing of ``cron`` (in ``timezone``) strictly after ``after``."""
    from datetime import datetime

    croniter = _croniter()

    start = datetime.fromtimestamp(after, _zone(timezone))
    return float(croniter(cron, start).get_next(float))


def fire_times(cron: str, timezone: str, after: float, until: float, limit: int) -> list[float]:
    """Firings in ``(after, until]``, ascending: the last ``limit`` of them when there are more."""
    from datetime import datetime

    croniter = _croniter()

    it = croniter(cron, datetime.fromtimestamp(until + 0.5, _zone(timezone)))
    out: list[float] = []
    while len(out) < limit:
        t = float(it.get_prev(float))
        if t <= after:
            break
        out.append(t)
    return out[::-1]


def _check_cron(cron: object) -> str:
    croniter = _croniter()

    text = cron.strip() if isinstance(cron, str) else ""
    fields = text.split()
    if not text or (not text.startswith("@") and len(fields) != 5) or not croniter.is_valid(text):
        raise InvalidValueError(
            f"cron expression {str(cron)[:120]!r} does not parse",
            hint="five fields: minute hour day-of-month month day-of-week, e.g. "
            "'0 6 * * MON-FRI' (or @hourly, @daily, @weekly)",
        )
    return " ".join(fields)


def _check_timezone(timezone: object) -> str:
    from zoneinfo import ZoneInfoNotFoundError

    if not isinstance(timezone, str) or not timezone.strip():
        raise InvalidValueError("timezone must be an IANA time zone name such as Europe/Madrid")
    try:
        _zone(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValueError(
            f"unknown time zone {timezone[:80]!r}",
            hint="use an IANA name such as UTC, Europe/Madrid or America/New_York",
        ) from exc
    return timezone.strip()


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValueError(f"{what} must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_name(name: object, default: str) -> str:
    if name is None or name == "":
        return default
    if not isinstance(name, str) or not name.strip() or len(name) > _NAME_MAX:
        raise InvalidValueError(f"name must be text of 1 to {_NAME_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidValueError("name must not contain control characters")
    return name.strip()


def validate(
    root: Path | str,
    path: str,
    cron: object,
    timezone: object = "UTC",
    parameters: Mapping[str, object] | None = None,
    *,
    from_text: bool = False,
    max_concurrent: object = 1,
    name: object = None,
    catch_up: object = False,
    allow_hidden: bool = False,
) -> dict[str, Any]:
    """A new schedule's columns, checked (raises with a hint; reads the notebooks, writes nothing).

    ``parameters`` are planned against the pipeline like ``jupyter mlops run -p``
    (``from_text``: strings read by each parameter's type) and kept typed.
    """
    from jupyter_mlops.core.pipeline.paths import relative, resolve, strip_root_from
    from jupyter_mlops.core.pipeline.plan import plan_run
    from jupyter_mlops.exceptions import MlopsError

    cron_text = _check_cron(cron)
    zone = _check_timezone(timezone)
    limit = _check_int(max_concurrent, "max_concurrent", 1, _MAX_CONCURRENT)
    if not isinstance(catch_up, bool):
        raise InvalidValueError(f"catch_up must be true or false, got {catch_up!r}")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise InvalidValueError("parameters must be an object of names to values")
    root_path = Path(root).resolve()
    target = resolve(root_path, path, "path", allow_hidden=allow_hidden)
    try:
        plan = plan_run(target, root=root_path, overrides=parameters or None, from_text=from_text)
    except MlopsError as exc:
        raise strip_root_from(exc, root_path) from None
    typed: dict[str, Any] = {}
    for step, values in (plan.trials[0] if plan.trials else {}).items():
        for param, value in values.items():
            typed[f"{step}.{param}" if plan.is_pipeline else param] = value
    return {
        "name": _check_name(name, plan.name),
        "path": relative(root_path, target),
        "cron": cron_text,
        "timezone": zone,
        "parameters": typed,
        "max_concurrent": limit,
        "catch_up": catch_up,
    }


class ScheduleStore(SqlTables):
    """Schedules and their firings in the SQL database at ``url`` (thread-safe; many processes)."""

    def add(
        self,
        root: Path | str,
        path: str,
        cron: object,
        timezone: object = "UTC",
        parameters: Mapping[str, object] | None = None,
        *,
        now: float | None = None,
        **options: Any,
    ) -> Schedule:
        """Validate (:func:`validate`, same arguments) and store a new schedule."""
        columns = validate(root, path, cron, timezone, parameters, **options)
        created = time.time() if now is None else now
        schedule = Schedule(id=uuid.uuid4().hex, created=created, last_checked=created, **columns)
        row = {**schedule.__dict__, "parameters": json.dumps(schedule.parameters)}
        self.retry(lambda: self.execute(self.schedules.insert().values(row)))
        return schedule

    def _schedule(self, row: Any) -> Schedule:
        values = dict(row._mapping)
        values["parameters"] = json.loads(values["parameters"] or "{}")
        values["catch_up"], values["paused"] = bool(values["catch_up"]), bool(values["paused"])
        return Schedule(**values)

    def list_schedules(self) -> list[Schedule]:
        """Every schedule, oldest first."""
        sa, t = self.sa, self.schedules
        rows = self.fetch(sa.select(t).order_by(t.c.created, t.c.id))
        return [self._schedule(row) for row in rows]

    def get(self, schedule_id: str) -> Schedule:
        """One schedule; :class:`NotFoundError` when there is none with ``schedule_id``."""
        rows = self.fetch(self.sa.select(self.schedules).where(self.schedules.c.id == schedule_id))
        if not rows:
            raise NotFoundError(
                f"No schedule {schedule_id[:40]!r}.",
                hint="`jupyter mlops schedule list` shows the schedules and their ids",
            )
        return self._schedule(rows[0])

    def set_paused(self, schedule_id: str, paused: bool, now: float | None = None) -> Schedule:
        """Pause or resume; a resumed schedule counts nothing before ``now`` as missed."""
        self.get(schedule_id)
        values: dict[str, Any] = {"paused": paused}
        if not paused:
            values["last_checked"] = time.time() if now is None else now
        self._update(schedule_id, values)
        return self.get(schedule_id)

    def remove(self, schedule_id: str) -> None:
        """Delete a schedule and its firings (its runs stay in MLflow)."""
        self.get(schedule_id)
        f, t = self.firings, self.schedules

        def delete() -> None:
            with self.engine.begin() as conn:
                conn.execute(f.delete().where(f.c.schedule_id == schedule_id))
                conn.execute(t.delete().where(t.c.id == schedule_id))

        self.retry(delete)

    def touch(self, schedule_id: str, now: float) -> None:
        """Record that a scheduler looked at the schedule at ``now`` (never moves back)."""
        t = self.schedules
        stmt = t.update().where(t.c.id == schedule_id, t.c.last_checked < now)
        self.retry(lambda: self.execute(stmt.values(last_checked=now)))

    def _update(self, schedule_id: str, values: dict[str, Any]) -> None:
        t = self.schedules
        stmt = t.update().where(t.c.id == schedule_id).values(values)
        self.retry(lambda: self.execute(stmt))

    # -- firings ------------------------------------------------------------------------

    def claim(
        self, schedule_id: str, fire_time: float, status: str, owner: str, *, manual: bool = False
    ) -> bool:
        """Insert the firing's row; False when another scheduler has it already."""
        row = {
            "schedule_id": schedule_id,
            "fire_time": float(fire_time),
            "status": status,
            "manual": manual,
            "owner": owner,
            "claimed": time.time(),
        }
        try:
            self.retry(lambda: self.execute(self.firings.insert().values(row)))
        except self.sa.exc.IntegrityError:
            return False
        if status != "started":
            self.prune(schedule_id)
        return True

    def prune(self, schedule_id: str, keep: int | None = None) -> int:
        """Remove a schedule's firings older than its newest ``keep`` (default
        :data:`FIRINGS_KEPT`; none that is still ``started``); returns how many went."""
        keep = FIRINGS_KEPT if keep is None else keep
        sa, f = self.sa, self.firings
        mine = sa.select(f.c.fire_time).where(f.c.schedule_id == schedule_id)
        cutoff = self.fetch(mine.order_by(f.c.fire_time.desc()).offset(keep).limit(1))
        if not cutoff:
            return 0
        stmt = f.delete().where(
            f.c.schedule_id == schedule_id,
            f.c.fire_time <= cutoff[0].fire_time,
            f.c.status != "started",
        )
        return self.retry(lambda: self.execute(stmt))

    def finish(
        self,
        schedule_id: str,
        fire_time: float,
        status: str,
        *,
        run_id: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record how a firing ended (``status`` one of :data:`STATUSES`)."""
        f = self.firings
        stmt = f.update().where(f.c.schedule_id == schedule_id, f.c.fire_time == float(fire_time))
        values = {"status": status, "ended": time.time(), "error": (error or None) and error[:500]}
        if run_id:
            values["run_id"] = run_id
        self.retry(lambda: self.execute(stmt.values(values)))
        self.prune(schedule_id)

    def history(
        self, schedule_id: str, *, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """A schedule's firings, newest first (only those with ``status`` when given)."""
        sa, f = self.sa, self.firings
        query = sa.select(f).where(f.c.schedule_id == schedule_id)
        if status is not None:
            query = query.where(f.c.status == status)
        rows = self.fetch(query.order_by(f.c.fire_time.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]

    def running(self) -> list[dict[str, Any]]:
        """Every firing still ``started``, whichever scheduler owns it."""
        f = self.firings
        return [
            dict(r._mapping) for r in self.fetch(self.sa.select(f).where(f.c.status == "started"))
        ]

    def describe(self, schedule: Schedule, now: float | None = None) -> dict[str, Any]:
        """The REST ``Schedule`` object: the row, next firing, last firing, missed firings."""
        now = time.time() if now is None else now
        sa, f = self.sa, self.firings
        last = self.fetch(
            sa.select(f)
            .where(f.c.schedule_id == schedule.id, f.c.status != "missed")
            .order_by(f.c.fire_time.desc())
            .limit(1)
        )
        missed = self.history(schedule.id, status="missed", limit=MISSED_SHOWN)
        out = {k: v for k, v in schedule.__dict__.items() if k != "last_checked"}
        out["next_fire"] = (
            None if schedule.paused else next_fire(schedule.cron, schedule.timezone, now)
        )
        out["last_fire"] = last[0].fire_time if last else None
        out["last_run_id"] = last[0].run_id if last else None
        out["last_status"] = last[0].status if last else None
        out["missed"] = sorted(row["fire_time"] for row in missed)
        return out
