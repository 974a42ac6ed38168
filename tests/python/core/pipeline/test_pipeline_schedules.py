"""Schedules: validation, the store, missed firings and catch-up at a fixed clock, claims
raced by several processes on a brand-new database, and a real scheduled pipeline run.

The fire callbacks here are the scheduler's plug-in point (what the server and the
headless command pass); the store, croniter, SQLite and the pipeline run are real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core import tags
from jupyter_mlops.core.cost.ledger import Ledger, default_ledger_url
from jupyter_mlops.core.pipeline import schedules
from jupyter_mlops.core.pipeline.scheduler import (
    Firing,
    Scheduler,
    Started,
    firing_tags,
    headless_fire,
)
from jupyter_mlops.core.pipeline.schedules import Schedule, ScheduleStore, fire_times, next_fire
from jupyter_mlops.exceptions import (
    InvalidValueError,
    NotFoundError,
    PathError,
    RunStateError,
    UsageError,
)

T0 = 1_800_000_000.0  # a multiple of 300 s: a */5 firing


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    write_notebook(root / "nb" / "train.ipynb", notebook("lr: float = 0.1\n", "x = lr * 2"))
    return root


@pytest.fixture
def store(tmp_path: Path) -> ScheduleStore:
    return ScheduleStore(f"sqlite:///{tmp_path / 'ledger.db'}")


class Runs:
    """A fire callback whose runs end when the test says so; it keeps what it fired."""

    def __init__(self, *, hold: bool = False) -> None:
        self.fired: list[tuple[str, float]] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, schedule: Schedule, fire_time: float) -> Started:
        self.fired.append((schedule.id, fire_time))

        def wait() -> tuple[str, str | None]:
            self.release.wait(30)
            return "FINISHED", f"run-{int(fire_time)}"

        return Started(wait=wait, cancel=self.release.set)


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"cron": "61 * * * *"}, InvalidValueError, "does not parse"),
        ({"cron": "* * * * * *"}, InvalidValueError, "does not parse"),
        ({"cron": ""}, InvalidValueError, "does not parse"),
        ({"timezone": "Mars/Olympus"}, InvalidValueError, "unknown time zone"),
        ({"path": "../outside.ipynb"}, UsageError, "'..'"),
        ({"path": "/etc/passwd"}, UsageError, "absolute"),
        ({"path": "link/x.ipynb"}, PathError, "outside the root"),
        ({"path": "nb/missing.ipynb"}, NotFoundError, "does not exist"),
        ({"parameters": {"nope": "1"}}, UsageError, "unknown parameter 'nope'"),
        ({"parameters": {"lr": "fast"}}, UsageError, "lr"),
        ({"max_concurrent": 0}, InvalidValueError, "max_concurrent"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(
    root: Path, store: ScheduleStore, tmp_path: Path, change: dict[str, Any], error: type, text: str
) -> None:
    outside = tmp_path / "outside"
    write_notebook(outside / "x.ipynb", notebook("lr = 1\n"))
    (root / "link").symlink_to(outside)
    args: dict[str, Any] = {"path": "nb/train.ipynb", "cron": "* * * * *", "timezone": "UTC"}
    args.update(change)
    with pytest.raises(error) as raised:
        store.add(root, args.pop("path"), from_text=True, **args)
    assert text in str(raised.value)
    assert store.list_schedules() == []


def test_add_list_pause_resume_remove(root: Path, store: ScheduleStore) -> None:
    schedule = store.add(
        root,
        "nb/train.ipynb",
        "0 6 * * MON-FRI",
        "Europe/Madrid",
        {"lr": "0.3"},
        from_text=True,
        now=T0,
        name="morning",
    )
    assert (schedule.name, schedule.path, schedule.parameters) == (
        "morning",
        "nb/train.ipynb",
        {"lr": 0.3},
    )
    again = ScheduleStore(store.url)  # another process's view: the same row
    assert again.list_schedules() == [schedule]
    described = again.describe(schedule, now=T0)
    # 2027-01-15 08:00 UTC is a Friday: 06:00 in Madrid (UTC+1) is 05:00 UTC on Monday the 18th
    monday = datetime(2027, 1, 18, 5, tzinfo=timezone.utc).timestamp()
    assert described["next_fire"] == monday == next_fire("0 6 * * MON-FRI", "Europe/Madrid", T0)
    assert described["missed"] == []
    assert described["last_fire"] is None
    assert store.set_paused(schedule.id, True).paused is True
    assert store.describe(store.get(schedule.id))["next_fire"] is None
    assert store.set_paused(schedule.id, False, now=T0 + 99).last_checked == T0 + 99
    store.remove(schedule.id)
    with pytest.raises(NotFoundError):
        store.get(schedule.id)


def test_fire_times_follow_the_time_zone() -> None:
    # 06:00 in New York is 11:00 UTC in winter and 10:00 UTC in summer
    winter = fire_times("0 6 * * *", "America/New_York", T0, T0 + 86400, 10)
    summer = fire_times("0 6 * * *", "America/New_York", T0 + 180 * 86400, T0 + 181 * 86400, 10)
    assert [int(t % 86400 // 3600) for t in winter + summer] == [11, 10]
    assert len(fire_times("*/5 * * * *", "UTC", T0, T0 + 3600, 5)) == 5  # the last 5 of 12


def test_missed_firings_are_listed_and_the_due_one_fires(root: Path, store: ScheduleStore) -> None:
    schedule = store.add(root, "nb/train.ipynb", "*/5 * * * *", now=T0)
    runs = Runs()
    scheduler = Scheduler(store, root, runs)
    # the scheduler starts an hour later: 11 firings passed unseen, the 12th is 10 s old
    recorded = scheduler.tick(now=T0 + 3610)
    scheduler.shutdown()
    assert runs.fired == [(schedule.id, T0 + 3600)]
    assert [f.status for f in recorded].count("missed") == 11
    described = store.describe(store.get(schedule.id), now=T0 + 3610)
    assert described["missed"] == [T0 + 300 * i for i in range(1, 12)]
    assert (described["last_fire"], described["last_status"]) == (T0 + 3600, "finished")
    assert described["last_run_id"] == f"run-{int(T0 + 3600)}"
    # a second scheduler on the same database finds everything claimed
    other = Runs()
    assert Scheduler(store, root, other).tick(now=T0 + 3615) == []
    assert other.fired == []


@pytest.mark.parametrize("where", ["schedule", "scheduler"])
def test_catch_up_fires_the_last_missed_one(root: Path, store: ScheduleStore, where: str) -> None:
    schedule = store.add(
        root, "nb/train.ipynb", "*/5 * * * *", now=T0, catch_up=where == "schedule"
    )
    runs = Runs()
    scheduler = Scheduler(store, root, runs, catch_up=where == "scheduler")
    scheduler.tick(now=T0 + 3700)  # every firing is over a minute old
    scheduler.shutdown()
    assert runs.fired == [(schedule.id, T0 + 3600)]
    assert len(store.describe(store.get(schedule.id))["missed"]) == 11
    # the scheduler's --catch-up is for its start only; the schedule's flag for every gap
    scheduler.tick(now=T0 + 7300)
    scheduler.shutdown()
    assert len(runs.fired) == (2 if where == "schedule" else 1)


def test_max_concurrent_skips_and_paused_does_nothing(root: Path, store: ScheduleStore) -> None:
    schedule = store.add(root, "nb/train.ipynb", "* * * * *", now=T0)
    runs = Runs(hold=True)
    seen: list[Firing] = []
    scheduler = Scheduler(store, root, runs, on_firing=seen.append)
    scheduler.tick(now=T0 + 61)
    scheduler.tick(now=T0 + 121)  # the first run still runs: skipped, not queued
    with pytest.raises(RunStateError, match="max_concurrent"):
        scheduler.fire_now(schedule.id, now=T0 + 130)
    runs.release.set()
    scheduler.shutdown()
    statuses = {row["fire_time"]: row["status"] for row in store.history(schedule.id)}
    assert statuses == {T0 + 60: "finished", T0 + 120: "skipped"}
    assert [f.status for f in seen] == ["started", "skipped", "finished"]

    store.set_paused(schedule.id, True)
    assert scheduler.tick(now=T0 + 3600) == []
    store.set_paused(schedule.id, False, now=T0 + 3600)
    assert scheduler.tick(now=T0 + 3601) == []  # the paused hour is not "missed"
    assert store.describe(store.get(schedule.id))["missed"] == []


def test_fire_now_and_lost_firings(root: Path, store: ScheduleStore) -> None:
    schedule = store.add(root, "nb/train.ipynb", "0 0 1 1 *", now=T0)
    runs = Runs()
    scheduler = Scheduler(store, root, runs)
    firing = scheduler.fire_now(schedule.id, now=T0 + 5)
    scheduler.shutdown()
    assert (firing.status, runs.fired) == ("started", [(schedule.id, T0 + 5)])
    assert store.history(schedule.id)[0]["manual"] is True
    # a firing left "started" by a scheduler process that died is recorded lost
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **_TEXT)
    owner = f"{scheduler.host}:{dead.stdout.strip()}"
    assert store.claim(schedule.id, T0 + 50, "started", owner)
    scheduler.tick(now=T0 + 60)
    assert store.history(schedule.id)[0]["status"] == "lost"


def test_old_firings_are_pruned_but_never_a_running_one(
    root: Path, store: ScheduleStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = store.add(root, "nb/train.ipynb", "* * * * *", now=T0)
    other = store.add(root, "nb/train.ipynb", "* * * * *", now=T0)
    assert store.claim(schedule.id, T0, "started", "host:1")  # still running, the oldest
    assert store.claim(other.id, T0, "missed", "host:1")
    for i in range(1, 8):
        assert store.claim(schedule.id, T0 + 60 * i, "missed", "host:1")
    assert store.prune(schedule.id, keep=3) == 4  # of 8: the running one and the newest 3 stay
    times = [row["fire_time"] for row in store.history(schedule.id)]
    assert times == [T0 + 60 * i for i in (7, 6, 5)] + [T0]
    assert len(store.history(other.id)) == 1  # another schedule's firings are its own
    # a firing that ends prunes to FIRINGS_KEPT by itself
    monkeypatch.setattr(schedules, "FIRINGS_KEPT", 2)
    assert store.claim(schedule.id, T0 + 600, "started", "host:1")
    assert len(store.history(schedule.id)) == 5
    store.finish(schedule.id, T0 + 600, "finished", run_id="r")
    times = [row["fire_time"] for row in store.history(schedule.id)]
    assert times == [T0 + 600, T0 + 420, T0]


_TEXT: dict[str, Any] = {"capture_output": True, "text": True, "check": True, "timeout": 120}
_CLAIMER = """
import sys
from jupyter_mlops.core.pipeline.schedules import ScheduleStore
store = ScheduleStore(sys.argv[1])
won = [t for t in range(100) if store.claim("a" * 32, float(t), "started", sys.argv[2])]
print(",".join(map(str, won)))
"""


def test_claims_race_on_a_brand_new_database(tmp_path: Path) -> None:
    """Four processes open a database nobody created and claim the same 100 firings."""
    url = f"sqlite:///{tmp_path / 'new' / 'ledger.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIMER, url, f"host:{i}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(4)
    ]
    won: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        won += [int(t) for t in out.strip().split(",") if t]
    assert sorted(won) == list(range(100))  # every firing claimed exactly once


def test_a_scheduled_pipeline_run_is_tagged_with_its_schedule(
    root: Path, store: ScheduleStore, mlflow_store: Any
) -> None:
    schedule = store.add(root, "nb/train.ipynb", "0 0 1 1 *", "UTC", {"lr": 0.5})
    done = threading.Event()
    scheduler = Scheduler(
        store,
        root,
        headless_fire(root, mlflow_store.uri),
        on_firing=lambda f: done.set() if f.status != "started" else None,
    )
    firing = scheduler.fire_now(schedule.id)
    assert done.wait(180)
    scheduler.shutdown()
    [row] = store.history(schedule.id)
    assert row["status"] == "finished", row
    run = mlflow_store.client.get_run(row["run_id"])
    assert run.data.tags[tags.SCHEDULE_ID] == schedule.id
    expected = firing_tags(schedule, firing.fire_time)[tags.SCHEDULE_FIRE_TIME]
    assert run.data.tags[tags.SCHEDULE_FIRE_TIME] == expected
    children = mlflow_store.client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert [c.data.tags[tags.SCHEDULE_ID] for c in children] == [schedule.id]
    assert children[0].data.params["lr"] == "0.5"
    # its cost is booked under the child run, and grouped by the schedule's tag
    with Ledger(default_ledger_url(root, mlflow_store.uri)) as ledger:
        by_run = dict(ledger.grouped("run"))
        assert by_run[children[0].info.run_id].cost_allocated > 0
        by_schedule = dict(ledger.grouped(f"tag:{tags.SCHEDULE_ID}"))
    assert by_schedule[schedule.id].cost_allocated == by_run[children[0].info.run_id].cost_allocated
