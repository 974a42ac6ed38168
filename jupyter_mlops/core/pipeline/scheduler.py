"""The loop that fires schedules: :class:`Scheduler`, headless or inside the Jupyter server.

::

    scheduler = Scheduler(store, root, headless_fire(root, tracking_uri))   # or registry_fire(...)
    stop = threading.Event()
    scheduler.run_forever(stop, interval=5.0)      # tick() every few seconds until stop.set()

Each :meth:`Scheduler.tick` looks at every schedule: the firings due between the
schedule's ``last_checked`` and now are claimed (an ``INSERT`` that fails when
another scheduler on the same database claimed them first) and fired. A firing
more than ``grace`` seconds old was missed (no scheduler ran at that time): it
is recorded ``missed``, listed, and not run, except that with catch-up (the
schedule's ``catch_up``, or ``Scheduler(catch_up=True)`` on its first tick) the
last missed one is fired. A firing while ``max_concurrent`` runs of the schedule
are still running (in any scheduler on the database) is recorded ``skipped``.

The fire callback starts the firing's pipeline run (tags
``mlops.schedule.id`` and ``mlops.schedule.fireTime`` on it and on its child runs)
and returns a :class:`Started`; a thread per firing waits for the run to end and
records its status. :func:`headless_fire` runs the pipeline on a thread of its own
(``jupyter mlops scheduler``); :func:`registry_fire` starts it through the
server's :class:`~jupyter_mlops.core.pipeline.launches.LaunchRegistry`, so the
panel shows it. :meth:`Scheduler.shutdown` cancels what runs and waits: no run
is left RUNNING. A firing still ``started`` whose scheduler process is gone (same
host) is recorded ``lost``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline.schedules import Schedule, ScheduleStore, fire_times
from jupyter_mlops.exceptions import RunStateError

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.launches import LaunchRegistry

__all__ = [
    "GRACE",
    "FireCallback",
    "Firing",
    "Scheduler",
    "Started",
    "firing_tags",
    "headless_fire",
    "registry_fire",
]

GRACE = 60.0
"""Seconds after its time that a firing is still run; older ones were missed."""
MISSED_KEPT = 100
"""Missed firings recorded per schedule and gap (the newest); older ones are not listed."""


def _never() -> None:
    return None


@dataclass
class Started:
    """A firing's pipeline run, started: ``wait()`` blocks until it ends -> (status, run id)."""

    wait: Callable[[], tuple[str, str | None]]
    cancel: Callable[[], None] = _never
    launch: dict[str, Any] | None = None


@dataclass(frozen=True)
class Firing:
    """What happened to one firing (for logs and the CLI): status, and the run once known."""

    schedule: Schedule
    fire_time: float
    status: str
    run_id: str | None = None
    error: str | None = None
    launch: dict[str, Any] | None = None


FireCallback = Callable[[Schedule, float], Started]


def firing_tags(schedule: Schedule, fire_time: float) -> dict[str, str]:
    """The tags of a firing's runs: the schedule's id and the firing time (ISO 8601, UTC)."""
    when = datetime.fromtimestamp(fire_time, timezone.utc).isoformat(timespec="seconds")
    return {tags.SCHEDULE_ID: schedule.id, tags.SCHEDULE_FIRE_TIME: when}


def _alive(owner: str, host: str) -> bool:
    """Whether the scheduler ``host:pid`` still runs (another host's: assumed so)."""
    owner_host, _, pid = owner.rpartition(":")
    if owner_host != host or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class Scheduler:
    """Fires the schedules of ``store`` for pipelines under ``root``; see the module doc."""

    def __init__(
        self,
        store: ScheduleStore,
        root: Path | str,
        fire: FireCallback,
        *,
        catch_up: bool = False,
        grace: float = GRACE,
        on_firing: Callable[[Firing], None] | None = None,
        log: logging.Logger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.root = Path(root).resolve()
        self.fire = fire
        self.catch_up = catch_up
        self.grace = grace
        self.on_firing = on_firing or (lambda firing: None)
        self.log = log or logging.getLogger(__name__)
        self.clock = clock
        self.host = socket.gethostname()
        self.owner = f"{self.host}:{os.getpid()}"
        self._lock = threading.Lock()
        self._active: dict[tuple[str, float], tuple[Started, threading.Thread]] = {}
        self._ticks = 0

    # -- ticking ------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> list[Firing]:
        """Claim and fire what is due at ``now``, record what was missed; what it recorded."""
        now = self.clock() if now is None else now
        first, self._ticks = self._ticks == 0, self._ticks + 1
        self._reap()
        done: list[Firing] = []
        for schedule in self.store.list_schedules():
            if not schedule.paused:
                catch_up = schedule.catch_up or (first and self.catch_up)
                done += self._tick_one(schedule, now, catch_up=catch_up)
            self.store.touch(schedule.id, now)
        return done

    def _tick_one(self, schedule: Schedule, now: float, *, catch_up: bool) -> list[Firing]:
        due = fire_times(schedule.cron, schedule.timezone, schedule.last_checked, now, MISSED_KEPT)
        late = [t for t in due if now - t > self.grace]
        on_time = [t for t in due if now - t <= self.grace]
        if late and catch_up and not on_time:
            on_time = [late.pop()]
        done = []
        for t in late:
            if self.store.claim(schedule.id, t, "missed", self.owner):
                done.append(self._report(Firing(schedule, t, "missed")))
        for t in on_time:
            firing = self._fire(schedule, t)
            if firing is not None:
                done.append(firing)
        return done

    def _running(self, schedule: Schedule) -> int:
        return sum(
            1
            for row in self.store.running()
            if row["schedule_id"] == schedule.id and _alive(row["owner"], self.host)
        )

    def _reap(self) -> None:
        """Firings left ``started`` by a scheduler process of this host that is gone: ``lost``."""
        for row in self.store.running():
            if not _alive(row["owner"], self.host):
                self.store.finish(row["schedule_id"], row["fire_time"], "lost")

    def _fire(self, schedule: Schedule, t: float, *, manual: bool = False) -> Firing | None:
        if self._running(schedule) >= schedule.max_concurrent:
            if manual:
                raise RunStateError(
                    f"Schedule {schedule.name!r} has {schedule.max_concurrent} run(s) in "
                    "progress (its max_concurrent).",
                    hint="wait for one to end, or raise max_concurrent",
                )
            if self.store.claim(schedule.id, t, "skipped", self.owner):
                return self._report(Firing(schedule, t, "skipped"))
            return None
        if not self.store.claim(schedule.id, t, "started", self.owner, manual=manual):
            return None  # another scheduler fired it
        try:
            started = self.fire(schedule, t)
        except Exception as exc:
            self.store.finish(schedule.id, t, "error", error=str(exc))
            self._report(Firing(schedule, t, "error", error=str(exc)))
            if manual:
                raise
            return Firing(schedule, t, "error", error=str(exc))
        thread = threading.Thread(
            target=self._wait,
            args=(schedule, t, started),
            name=f"jupyter-mlops-firing-{schedule.id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._active[(schedule.id, t)] = (started, thread)
        thread.start()
        launch = started.launch
        firing = Firing(schedule, t, "started", (launch or {}).get("run_id"), launch=launch)
        return self._report(firing)

    def _wait(self, schedule: Schedule, t: float, started: Started) -> None:
        error = None
        try:
            status, run_id = started.wait()
        except Exception as exc:
            status, run_id, error = "error", None, str(exc)
        try:
            self.store.finish(schedule.id, t, status.lower(), run_id=run_id, error=error)
        except Exception:
            self.log.exception("jupyter-mlops: recording the end of a firing failed")
        finally:
            with self._lock:
                self._active.pop((schedule.id, t), None)
        self._report(Firing(schedule, t, status.lower(), run_id=run_id, error=error))

    def _report(self, firing: Firing) -> Firing:
        try:
            self.on_firing(firing)
        except Exception:
            self.log.exception("jupyter-mlops: a firing listener failed")
        return firing

    # -- firing now, running, stopping ---------------------------------------------------

    def fire_now(self, schedule_id: str, now: float | None = None) -> Firing:
        """Fire a schedule at once (paused or not), within its ``max_concurrent``."""
        schedule = self.store.get(schedule_id)
        firing = self._fire(schedule, self.clock() if now is None else now, manual=True)
        if firing is None:  # another scheduler claimed that very instant
            raise RunStateError("The firing could not be claimed; try again.")
        return firing

    def run_forever(self, stop: threading.Event, interval: float = 5.0) -> None:
        """:meth:`tick` every ``interval`` seconds until ``stop`` is set, then :meth:`shutdown`."""
        try:
            while not stop.is_set():
                try:
                    self.tick()
                except Exception:
                    self.log.exception("jupyter-mlops: a scheduler tick failed")
                stop.wait(interval)
        finally:
            self.shutdown()

    def active(self) -> int:
        """Firings of this scheduler still running."""
        with self._lock:
            return len(self._active)

    def join(self, timeout: float | None = None) -> None:
        """Wait for this scheduler's running firings to end (up to ``timeout`` s each)."""
        with self._lock:
            threads = [thread for _started, thread in self._active.values()]
        for thread in threads:
            thread.join(timeout)

    def shutdown(self, timeout: float = 60.0) -> None:
        """Cancel this scheduler's running firings and wait (up to ``timeout`` s) for them."""
        with self._lock:
            entries = list(self._active.values())
        for started, _thread in entries:
            try:
                started.cancel()
            except Exception:
                self.log.exception("jupyter-mlops: cancelling a firing failed")
        deadline = time.monotonic() + timeout
        for _started, thread in entries:
            thread.join(max(0.0, deadline - time.monotonic()))


def headless_fire(
    root: Path | str,
    tracking_uri: str,
    *,
    allow_hidden: bool = False,
    guard: Callable[[], None] | None = None,
) -> FireCallback:
    """A fire callback that plans the schedule's pipeline and runs it on a thread of its own.

    ``guard`` is called first; when it raises (a spent hard budget), the firing is refused.
    """
    root_path = Path(root).resolve()

    def fire(schedule: Schedule, fire_time: float) -> Started:
        from jupyter_mlops.core.pipeline.paths import resolve
        from jupyter_mlops.core.pipeline.runner import plan_run, run_plan

        if guard is not None:
            guard()
        target = resolve(root_path, schedule.path, "path", allow_hidden=allow_hidden)
        plan = plan_run(target, root=root_path, overrides=schedule.parameters or None)
        cancel = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = run_plan(
                    plan,
                    tracking_uri=tracking_uri,
                    cancel=cancel,
                    tags=firing_tags(schedule, fire_time),
                )
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=run, name="jupyter-mlops-scheduled-run", daemon=True)
        thread.start()

        def wait() -> tuple[str, str | None]:
            thread.join()
            error = box.get("error")
            if isinstance(error, Exception):
                raise error
            if error is not None:  # interrupted: run_plan marked the runs KILLED
                return "KILLED", None
            return box["result"].status, box["result"].run_id

        return Started(wait=wait, cancel=cancel.set)

    return fire


def registry_fire(registry: LaunchRegistry, poll: float = 1.0) -> FireCallback:
    """A fire callback that starts the pipeline through ``registry`` (the server's launches)."""

    def fire(schedule: Schedule, fire_time: float) -> Started:
        from jupyter_mlops.core.pipeline.model import TERMINAL, LaunchRequest
        from jupyter_mlops.exceptions import NotFoundError

        request = LaunchRequest(path=schedule.path, parameters=dict(schedule.parameters))
        plan = registry.plan(request)
        launch = registry.start(plan, request, tags=firing_tags(schedule, fire_time))

        def wait() -> tuple[str, str | None]:
            while True:
                try:
                    current = registry.get(launch["id"])
                except NotFoundError:
                    return "lost", None
                if current["status"] in TERMINAL:
                    return str(current["status"]), current.get("run_id")
                time.sleep(poll)

        def cancel() -> None:
            registry.cancel(launch["id"])

        return Started(wait=wait, cancel=cancel, launch=launch)

    return fire
