"""The sampler: one thread that measures every tracked target once per ``interval``.

::

    sampler = Sampler(interval=1.0)              # ProcessTreeSource + NvmlSource
    sampler.add_target("k1", Target(pid, kernel_id="k1", notebook="a.ipynb", project="p"))
    unsubscribe = sampler.subscribe(accountant.on_snapshot)   # called on the sampler thread
    sampler.start()
    snap = sampler.latest()                      # cheap: the last Snapshot, no psutil work
    sampler.stop()

Each tick calls every :class:`~.sources.ResourceSource` once (the process tree
of every target, then NVML once for all GPUs), merges the readings into one
:class:`~.records.Snapshot`, keeps it for :meth:`Sampler.latest` and hands it
to the subscribers. Tests drive :meth:`Sampler.tick` directly with an injected
``clock``; nothing here sleeps except the thread's wait between ticks.

Merging the readings (and attributing GPU use to targets) is :mod:`.merge`.

Outside a server (magics without one, pipeline executions),
:meth:`Sampler.for_current_process` tracks this process's own tree and
:func:`sample_once` measures one tree once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jupyter_mlops.core.cost.limits import usable_cores
from jupyter_mlops.core.cost.merge import Previous, merge_readings
from jupyter_mlops.core.cost.nvml import NvmlSource
from jupyter_mlops.core.cost.records import Snapshot, Target, TargetSample
from jupyter_mlops.core.cost.sources import ProcessTreeSource, ResourceSource

__all__ = ["Sampler", "SamplerStats", "merge_readings", "sample_once", "snapshot_once"]

_log = logging.getLogger("jupyter_mlops.cost")

Subscriber = Callable[[Snapshot], None]


@dataclass(frozen=True)
class SamplerStats:
    """How much the sampler cost: ticks done and the CPU its ticks used (thread time)."""

    ticks: int
    cpu_seconds: float
    last_tick_seconds: float


class Sampler:
    """Measures tracked targets every ``interval`` seconds on one daemon thread.

    ``sources``: the resource sources (default: real psutil and NVML).
    ``clock``: wall-clock seconds (``time.time``); intervals, minutes and alert
    times all come from it, so tests inject one. ``cores``: the most cores a CPU
    rate may show (default: this machine's usable cores, :func:`~.limits.usable_cores`).
    """

    def __init__(
        self,
        sources: Sequence[ResourceSource] | None = None,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        cores: float | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.sources: list[ResourceSource] = (
            list(sources) if sources is not None else [ProcessTreeSource(), NvmlSource()]
        )
        self.interval = float(interval)
        self.cores = usable_cores() if cores is None else float(cores)
        self.clock = clock
        self._targets: dict[str, Target] = {}
        self._prev: dict[str, Previous] = {}
        self._subscribers: list[Subscriber] = []
        self._failed_subscribers: set[int] = set()
        self._lock = threading.Lock()  # targets and subscribers
        self._tick_lock = threading.Lock()  # one tick at a time
        self._latest: Snapshot | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ticks = 0
        self._cpu = 0.0
        self._last_tick = 0.0

    @classmethod
    def for_current_process(
        cls, target_id: str = "self", *, interval: float = 1.0, **labels: str
    ) -> Sampler:
        """A sampler tracking this process's tree (the kernel side, pipeline runs)."""
        sampler = cls(interval=interval)
        sampler.add_target(target_id, Target(pid=os.getpid()).relabel(**labels))
        return sampler

    # -- targets and subscribers --------------------------------------------------

    def add_target(self, target_id: str, target: Target) -> None:
        """Track ``target`` as ``target_id``; re-adding replaces its labels (same pid keeps its state)."""
        with self._lock:
            self._targets[target_id] = target

    def update_target(self, target_id: str, **labels: str) -> Target:
        """Change some labels of a tracked target (``run_id`` when a run starts, ...)."""
        with self._lock:
            target = self._targets[target_id].relabel(**labels)
            self._targets[target_id] = target
            return target

    def remove_target(self, target_id: str) -> None:
        """Stop tracking ``target_id`` (what it used so far stays wherever subscribers put it)."""
        with self._lock:
            self._targets.pop(target_id, None)

    def targets(self) -> dict[str, Target]:
        with self._lock:
            return dict(self._targets)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(snapshot)`` after every tick, on the sampler thread; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- sampling -----------------------------------------------------------------

    def latest(self) -> Snapshot | None:
        """The last snapshot (``None`` before the first tick); costs nothing."""
        return self._latest

    def tick(self) -> Snapshot:
        """Measure every target once, publish the snapshot, return it."""
        with self._tick_lock:
            started = time.thread_time()
            targets = self.targets()
            now = self.clock()
            readings = []
            for source in self.sources:
                try:
                    readings.append(source.collect(targets, now))
                except Exception:
                    _log.exception("cost source %r failed; skipped this tick", source.name)
            snapshot = merge_readings(now, targets, readings, self._prev, cores=self.cores)
            self._latest = snapshot
            self._ticks += 1
            self._last_tick = time.thread_time() - started
            self._cpu += self._last_tick
        self._publish(snapshot)
        return snapshot

    def _publish(self, snapshot: Snapshot) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(snapshot)
            except Exception:
                if id(callback) not in self._failed_subscribers:
                    self._failed_subscribers.add(id(callback))
                    _log.exception("cost subscriber %r failed (logged once)", callback)

    def stats(self) -> SamplerStats:
        return SamplerStats(self._ticks, self._cpu, self._last_tick)

    # -- thread -------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the sampler thread (first tick at once); idempotent."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mlops-cost-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, take a last sample (what was used since the previous tick is
        booked, not lost when a busy machine delayed that tick), and close the sources."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
            try:
                self.tick()
            except Exception:
                _log.exception("cost sampler's last tick failed")
        for source in self.sources:
            try:
                source.close()
            except Exception:
                _log.debug("closing cost source %r failed", source.name, exc_info=True)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                _log.exception("cost sampler tick failed")
            due += self.interval
            now = time.monotonic()
            if due < now:  # fell behind (suspended laptop, slow tick): no burst of catch-up ticks
                due = now + self.interval
            self._stop.wait(due - now)


_shared_lock = threading.Lock()
_shared_sources: list[ResourceSource] | None = None


def sample_once(
    pid: int | None = None, *, sources: Sequence[ResourceSource] | None = None
) -> TargetSample:
    """Measure one process tree once (default: this process): cumulative CPU, RSS, GPUs held.

    Without ``sources``, one process-wide NVML source is kept between calls
    (starting NVML costs a good part of a second on a GPU machine).
    """
    return snapshot_once(pid, sources=sources).targets["once"]


def snapshot_once(
    pid: int | None = None, *, sources: Sequence[ResourceSource] | None = None
) -> Snapshot:
    """Like :func:`sample_once`, the whole snapshot: the tree as target ``"once"`` and every GPU."""
    global _shared_sources
    target = {"once": Target(pid=os.getpid() if pid is None else pid)}
    now = time.time()
    if sources is not None:
        readings = [s.collect(target, now) for s in sources]
    else:
        readings = [ProcessTreeSource().collect(target, now)]
        with _shared_lock:
            if _shared_sources is None:
                _shared_sources = [NvmlSource()]
            readings.extend(s.collect(target, now) for s in _shared_sources)
    return merge_readings(now, target, readings)
