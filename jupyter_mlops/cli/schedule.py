"""``jupyter mlops schedule ...`` and ``jupyter mlops scheduler``: pipelines on a cron schedule.

:data:`SCHEDULE` (add, list, pause, resume, remove, run-now) and :data:`SCHEDULER`
(the headless loop: a systemd unit or a container's entry point) are listed in
:data:`jupyter_mlops.cli.main.COMMANDS`. Schedules live in the cost ledger's
database (:func:`~jupyter_mlops.core.pipeline.schedules.schedule_url`), shared with
a Jupyter server on the same folder, which fires them too while it runs; a firing
is claimed once, whichever fires it. croniter, SQLAlchemy and MLflow load inside
the commands.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.cli.command import FORMAT, arg, command, group
from jupyter_mlops.cli.output import bounded_int, print_json, print_table, tracking_uri
from jupyter_mlops.cli.run import RUN
from jupyter_mlops.exceptions import UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.scheduler import Firing, Scheduler
    from jupyter_mlops.core.pipeline.schedules import Schedule, ScheduleStore

__all__ = ["SCHEDULE", "SCHEDULER"]

_ENV_ROOT_DIR = "JUPYTER_MLOPS_ROOT_DIR"
_PARAMETER = next(a for a in RUN.arguments if "--parameter" in a.flags)


def _root(args: argparse.Namespace) -> Path:
    return Path(args.root_dir or os.environ.get(_ENV_ROOT_DIR) or os.getcwd()).resolve()


def _store(args: argparse.Namespace) -> ScheduleStore:
    from jupyter_mlops.core.pipeline.schedules import ScheduleStore, schedule_url

    return ScheduleStore(schedule_url(_root(args), tracking_uri(args)))


def _find(store: ScheduleStore, text: str) -> Schedule:
    """A schedule by its id or a unique start of it (as ``schedule list`` shows)."""
    matches = [s for s in store.list_schedules() if s.id.startswith(text.strip().lower())]
    if len(text.strip()) < 4 or len(matches) != 1:
        return store.get(text)  # NotFoundError with its hint
    return matches[0]


def _when(t: float | None, timezone: str) -> str:
    if t is None:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def _firing_line(firing: Firing) -> str:
    schedule = firing.schedule
    run = f" run {firing.run_id}" if firing.run_id else ""
    why = f": {firing.error}" if firing.error else ""
    when = _when(firing.fire_time, schedule.timezone)
    return f"{schedule.name} [{schedule.id[:8]}] {when}: {firing.status}{run}{why}"


def cmd_add(args: argparse.Namespace) -> int:
    """Schedule DIR (a pipeline folder or a .ipynb inside the root folder) to run at the times
    of a cron expression in a time zone. Every value is checked now, as `jupyter mlops run`
    checks it; nothing is stored when one is wrong. A running Jupyter server on the same folder
    fires the schedule, or `jupyter mlops scheduler` does without one.
    """
    root = _root(args)
    target = Path(args.target).absolute().resolve()
    if not target.is_relative_to(root):
        raise UsageError(
            f"{args.target} is outside the root folder {root}",
            hint="schedule a pipeline inside the root, or pass --root-dir",
        )
    store = _store(args)
    schedule = store.add(
        root,
        target.relative_to(root).as_posix(),
        args.cron,
        args.timezone,
        dict(args.parameters),
        from_text=True,
        max_concurrent=args.max_concurrent,
        name=args.name,
        catch_up=args.catch_up,
    )
    described = store.describe(schedule)
    if args.format == "json":
        print_json(described)
    else:
        print(
            f"schedule {schedule.id} ({schedule.name}): {schedule.path} at {schedule.cron!r} "
            f"{schedule.timezone}; next {_when(described['next_fire'], schedule.timezone)}"
        )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Every schedule: its next firing (in the schedule's time zone), the last one and how it
    ended, and the firings missed while no scheduler ran (the newest first).
    """
    store = _store(args)
    described = [store.describe(s) for s in store.list_schedules()]
    if args.format == "json":
        print_json({"schedules": described})
        return 0
    rows = []
    for d in described:
        tz = d["timezone"]
        last = f"{_when(d['last_fire'], tz)} {d['last_status']}" if d["last_fire"] else ""
        missed = f"{len(d['missed'])}, last {_when(d['missed'][-1], tz)}" if d["missed"] else ""
        rows.append(
            (
                d["id"][:8],
                d["name"],
                d["path"],
                f"{d['cron']} {tz}",
                "paused" if d["paused"] else _when(d["next_fire"], tz),
                last,
                missed,
            )
        )
    print_table(["ID", "NAME", "PATH", "CRON", "NEXT", "LAST", "MISSED"], rows)
    return 0


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    store = _store(args)
    schedule = store.set_paused(_find(store, args.id).id, paused)
    print(f"schedule {schedule.id} ({schedule.name}) {'paused' if paused else 'resumed'}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    """Stop firing a schedule until it is resumed (firings meanwhile are not missed)."""
    return _set_paused(args, True)


def cmd_resume(args: argparse.Namespace) -> int:
    """Fire a paused schedule again, from its next firing on."""
    return _set_paused(args, False)


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete a schedule and its firing history (the MLflow runs it made stay)."""
    store = _store(args)
    schedule = _find(store, args.id)
    store.remove(schedule.id)
    print(f"schedule {schedule.id} ({schedule.name}) removed")
    return 0


def _scheduler(args: argparse.Namespace, store: ScheduleStore, **options: Any) -> Scheduler:
    from jupyter_mlops.cli.run_caps import refuse_if_hard_budget_spent
    from jupyter_mlops.core.pipeline.scheduler import Scheduler, headless_fire

    root = _root(args)

    def report(firing: Firing) -> None:
        print(_firing_line(firing), flush=True)

    guard = functools.partial(refuse_if_hard_budget_spent, args)  # a spent hard budget refuses
    fire = headless_fire(root, tracking_uri(args), guard=guard)
    return Scheduler(store, root, fire, on_firing=report, **options)


def cmd_run_now(args: argparse.Namespace) -> int:
    """Fire a schedule now, here, and wait for its pipeline run (tagged with the schedule like
    any firing). Exit status 0 when the run finished, 1 otherwise, 130 when interrupted (the
    run is marked KILLED).
    """
    store = _store(args)
    scheduler = _scheduler(args, store)
    firing = scheduler.fire_now(_find(store, args.id).id)
    try:
        scheduler.join()
    except KeyboardInterrupt:
        scheduler.shutdown()
        return 130
    [row] = [
        r for r in store.history(firing.schedule.id, limit=5) if r["fire_time"] == firing.fire_time
    ]
    return 0 if row["status"] == "finished" else 1


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Fire the schedules of the root folder's database until stopped (Ctrl-C or SIGTERM): for a
    machine without a Jupyter server (a systemd unit, a container's entry point). Firings
    missed while nothing ran are listed by `schedule list`; --catch-up runs the last missed
    firing of every schedule at start. On stop, running firings are cancelled and their runs
    marked KILLED. A Jupyter server on the same database may run at the same time: each
    firing runs once.
    """
    store = _store(args)
    scheduler = _scheduler(args, store, catch_up=args.catch_up)
    schedules = store.list_schedules()
    print(
        f"jupyter-mlops scheduler: {len(schedules)} schedule(s) in {store.url.split('?')[0]}",
        flush=True,
    )
    for s in schedules:
        state = "paused" if s.paused else f"{s.cron} {s.timezone}"
        print(f"  {s.id[:8]} {s.name} ({s.path}): {state}", flush=True)
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        print(
            f"jupyter-mlops scheduler: stopping ({signal.Signals(signum).name})",
            file=sys.stderr,
            flush=True,
        )
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.run_forever(stop, interval=args.interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("jupyter-mlops scheduler: stopped", file=sys.stderr, flush=True)
    return 0


_ID = arg("id", metavar="ID", help="The schedule's id (or its first characters, as listed).")

SCHEDULE = group(
    "schedule",
    "Run pipelines on a cron schedule: add, list, pause, resume, remove, run-now.",
    command(
        "add",
        "Schedule a pipeline folder or notebook (cron expression, time zone).",
        cmd_add,
        arg(
            "target",
            metavar="DIR_OR_NOTEBOOK",
            help="A pipeline folder (pipeline.yaml) or a .ipynb.",
        ),
        arg(
            "--cron",
            required=True,
            metavar="EXPR",
            help="When to fire: minute hour day-of-month month day-of-week, e.g. "
            "'0 6 * * MON-FRI' (or @hourly, @daily, @weekly).",
        ),
        arg(
            "--timezone",
            default="UTC",
            metavar="TZ",
            help="IANA time zone of the cron times, e.g. Europe/Madrid (default: %(default)s).",
        ),
        _PARAMETER,
        arg(
            "--max-concurrent",
            type=bounded_int(1, 100),
            default=1,
            metavar="N",
            help="Runs of this schedule at once; a firing while N still run is skipped "
            "(default: %(default)s).",
        ),
        arg(
            "--catch-up",
            action="store_true",
            help="After a time when no scheduler ran, fire the last missed firing (the others "
            "are listed as missed).",
        ),
        arg("--name", help="A name to list it by (default: the pipeline's name)."),
        FORMAT,
    ),
    command("list", "Schedules, next and last firings, missed firings.", cmd_list, FORMAT),
    command("pause", "Stop firing a schedule until resumed.", cmd_pause, _ID),
    command("resume", "Fire a paused schedule again.", cmd_resume, _ID),
    command("remove", "Delete a schedule and its firing history.", cmd_remove, _ID),
    command("run-now", "Fire a schedule now and wait for its run.", cmd_run_now, _ID),
    description="Schedules of pipeline runs, kept in the cost ledger's database (mlops-cost.db "
    "beside the MLflow store, or $JUPYTER_MLOPS_COST_LEDGER). A Jupyter server with "
    "jupyter-mlops fires them while it runs; `jupyter mlops scheduler` fires them without one.",
)

SCHEDULER = command(
    "scheduler",
    "Fire the schedules without a Jupyter server, until stopped.",
    cmd_scheduler,
    arg(
        "--catch-up",
        action="store_true",
        help="At start, fire the last missed firing of every schedule.",
    ),
    arg(
        "--interval",
        type=bounded_int(1, 60),
        default=5,
        metavar="SECONDS",
        help="Seconds between looks at the schedules (default: %(default)s).",
    ),
)
