"""Cost of this process tree without a server: a cell, a run, the kernel so far.

::

    meter = ProcessMeter(pricing)            # nothing measured yet
    meter.start()                            # first sample now, then a thread every interval
    ...                                      # the work
    totals = meter.stop()                    # last sample; Totals with peaks, priced
    run_cost_metrics(totals, pricing.currency)

    usage, cost = lifetime_cost(pricing)     # this process since it started (one sample)

:class:`ProcessMeter` is a :class:`~.sampler.Sampler` on this process
(:meth:`~.sampler.Sampler.for_current_process`) feeding an in-memory
:class:`~.accounting.CostAccountant`; every subscriber gets each priced
sample (the run's ``system/...`` series). :func:`lifetime_cost` prices the
process's whole life from one sample: CPU exactly (cumulative), memory and
GPUs as held now over the process's age (an estimate, said so where shown).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from jupyter_mlops.core.cost.accounting import CostAccountant, LiveCost
from jupyter_mlops.core.cost.limits import usable_cores
from jupyter_mlops.core.cost.merge import cpu_rate
from jupyter_mlops.core.cost.pricing import Cost, PricingModel, Usage
from jupyter_mlops.core.cost.records import Snapshot, TargetSample
from jupyter_mlops.core.cost.sampler import Sampler, sample_once
from jupyter_mlops.core.cost.sources import ProcessTreeSource
from jupyter_mlops.core.cost.totals import Totals

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.sources import ResourceSource

__all__ = ["ProcessMeter", "lifetime_cost", "process_age", "process_cpu"]

_log = logging.getLogger("jupyter_mlops.cost")
_ID = "self"

Listener = Callable[[TargetSample, LiveCost], None]


class ProcessMeter:
    """Measures and prices this process tree from :meth:`start` to :meth:`stop`."""

    def __init__(
        self,
        pricing: PricingModel,
        *,
        interval: float = 1.0,
        sources: list[ResourceSource] | None = None,
        pid: int | None = None,
    ) -> None:
        self.pricing = pricing
        if sources is None and pid is None:
            self.sampler = Sampler.for_current_process(_ID, interval=interval)
        else:
            from jupyter_mlops.core.cost.records import Target

            self.sampler = Sampler(sources, interval=interval)
            self.sampler.add_target(_ID, Target(pid=os.getpid() if pid is None else pid))
        self.accountant = CostAccountant(pricing, None, flush_interval=float("inf"))
        self.sampler.subscribe(self.accountant.on_snapshot)
        self.sampler.subscribe(self._notify)
        self.listeners: list[Listener] = []
        self.started: float | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def _notify(self, snapshot: Snapshot) -> None:
        sample = snapshot.targets.get(_ID)
        live = self.accountant.live(_ID)
        if sample is None or live is None:
            return
        for listener in list(self.listeners):
            try:
                listener(sample, live)
            except Exception:
                _log.debug("cost meter listener failed", exc_info=True)

    def start(
        self, *, thread: bool = True, since: float | None = None, cpu_at_since: float | None = None
    ) -> None:
        """Take the first sample now; with ``thread``, keep sampling every interval (peaks).

        ``since`` / ``cpu_at_since``: when the work really began (epoch seconds) and
        this process's CPU then (:func:`process_cpu`), for a meter of this process
        started a little late on another thread: that gap is booked too, at the first
        sample's memory. Its CPU is this process's own CPU as the first sample read it
        minus ``cpu_at_since``: the same measure on both sides (the tree's figure also
        holds the whole past of live children), and nothing between the two samples
        lost or counted twice; plus all the CPU of the children started since ``since``
        (Linux). A meter of another process (a pipeline's kernel, new since ``since``:
        ``cpu_at_since`` 0) books its tree's CPU as the first tick read it: its start-up
        and whatever it did before the meter was up.
        The gap makes a CPU rate (a peak) only when it is a window long enough
        (:data:`~.merge.MIN_RATE_WINDOW`).
        """
        self.started = time.time() if since is None else since
        before = (process_cpu(), 0.0)
        snapshot = self.sampler.tick()
        first = snapshot.targets.get(_ID)
        if first is not None and since is not None and cpu_at_since is not None:
            root = self._root_cpu(since)
            if first.target.pid != os.getpid():  # another process: only what its tree read
                root = root or (cpu_at_since, 0.0)
            cpu, lag = root or before
            self._book_gap(snapshot, first, since, cpu - cpu_at_since, lag)
        if thread:
            self.sampler.start()

    def _root_cpu(self, since: float) -> tuple[float, float] | None:
        """This process's own CPU as the first tick read it, with its children's started since
        ``since``, and when it was read (the tick's lag)."""
        born_after = math.inf
        if hasattr(time, "CLOCK_BOOTTIME"):  # Linux: /proc start times count from boot,
            boot = time.clock_gettime(time.CLOCK_BOOTTIME) - (time.time() - since)
            born_after = boot - 0.02  # in 10 ms clock ticks, rounded down
        for source in self.sampler.sources:
            if isinstance(source, ProcessTreeSource):
                return source.root_cpu(_ID, born_after)
        return None

    def _book_gap(
        self, snapshot: Snapshot, first: TargetSample, since: float, cpu: float, lag: float
    ) -> None:
        gap = first.time - since
        if gap <= 0:
            return
        cpu = max(0.0, cpu)
        rate = cpu_rate(cpu, gap + lag, self.sampler.cores) or 0.0
        early = replace(first, interval=gap, cpu_delta=cpu, cpu_percent=rate, gpus=())
        self.accountant.on_snapshot(replace(snapshot, targets={_ID: early}))

    def totals(self) -> Totals:
        """Use and cost since :meth:`start` (as of the last sample)."""
        live = self.accountant.live(_ID)
        return Totals() if live is None else live.session.copy()

    def stop(self) -> Totals:
        """Take a last sample, stop the thread and close the sources; the totals. Idempotent."""
        with self._lock:
            if not self._stopped:
                self._stopped = True
                try:
                    self.sampler.tick()
                finally:
                    self.sampler.stop()
        return self.totals()


def process_cpu() -> float:
    """This process's CPU seconds so far, its reaped children's included (cheap: ``os.times``;
    live children are not in it)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def process_age(pid: int | None = None) -> float:
    """Seconds since the process started (``psutil``)."""
    import psutil

    return max(0.0, time.time() - psutil.Process(pid or os.getpid()).create_time())


def lifetime_cost(
    pricing: PricingModel, sample: TargetSample | None = None, age: float | None = None
) -> tuple[Usage, Cost]:
    """Use and cost of this process tree since it started, from one sample (see the module doc)."""
    sample = sample_once() if sample is None else sample
    age = process_age(sample.target.pid) if age is None else age
    whole = replace(
        sample,
        interval=age,
        cpu_delta=sample.cpu_seconds,
        cpu_percent=cpu_rate(sample.cpu_seconds, age, usable_cores()) or 0.0,
        gpus=tuple(replace(g, energy_j=0.0) for g in sample.gpus),
    )
    usage = pricing.measure(whole)
    return usage, pricing.price(usage)
