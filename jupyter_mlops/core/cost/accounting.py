"""The accountant: prices every tick, keeps live rates and totals, books the ledger.

Subscribe it to a sampler and everything else reads from it::

    accountant = CostAccountant(PricingModel.per_resource(), Ledger())
    sampler.subscribe(accountant.on_snapshot)
    accountant.live("k1")              # LiveCost: $/h now, session and all-time totals
    accountant.totals(run_id="abc")    # ledger + not yet written minutes

Per tick it measures and prices each target (:mod:`.pricing`), adds the result
to the target's live totals and to the pending per-minute rows, and every
``flush_interval`` seconds writes the pending rows to the ledger in one
transaction (on the sampler thread; a failed write keeps the rows pending and
logs one warning per outage). A kernel's ``so_far`` includes what the ledger
already held for its ``kernel_id`` when the accountant first saw it, so a
server restart does not reset the figure.

``accountant.flushed`` listeners get each batch of rows once the ledger holds it
(the metrics endpoint advances its in-memory totals so); :meth:`CostAccountant.quiet`
runs a read with no flush in between, so such totals are loaded exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jupyter_mlops.core.cost.ledger import Ledger, LedgerKey, Totals
from jupyter_mlops.core.cost.pricing import Cost, PricingModel
from jupyter_mlops.core.cost.records import LABELS, Snapshot

__all__ = ["CostAccountant", "LiveCost"]

_log = logging.getLogger("jupyter_mlops.cost")
T = TypeVar("T")


@dataclass
class LiveCost:
    """One target's money now: ``rate`` per hour at the last tick, ``session`` since first
    seen by this accountant, ``so_far`` including the ledger's earlier figures for its kernel."""

    target_id: str
    labels: dict[str, str]
    time: float
    rate: Cost
    session: Totals = field(default_factory=Totals)
    base: Totals = field(default_factory=Totals)

    @property
    def so_far(self) -> Totals:
        return self.base.copy().merge(self.session)

    def to_dict(self) -> dict[str, Any]:
        so_far = self.so_far
        return {
            "target_id": self.target_id,
            **self.labels,
            "time": self.time,
            "currency": self.rate.currency,
            "rate_per_hour": self.rate.allocated,
            "used_rate_per_hour": self.rate.used,
            "cost_so_far": so_far.cost_allocated,
            "waste_so_far": so_far.cost_waste,
            "session": self.session.to_dict(),
            "so_far": so_far.to_dict(),
        }


class CostAccountant:
    """Turns snapshots into money: live figures per target and per-minute ledger rows.

    ``ledger=None`` keeps everything in memory (the kernel side without a
    ledger). ``purge_interval``: seconds between retention purges.
    """

    def __init__(
        self,
        pricing: PricingModel,
        ledger: Ledger | None = None,
        *,
        flush_interval: float = 10.0,
        purge_interval: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pricing = pricing
        self.ledger = ledger
        self.flush_interval = flush_interval
        self.purge_interval = purge_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._io = threading.Lock()  # a flush and a totals() read never interleave
        self._live: dict[str, LiveCost] = {}
        self._pending: dict[LedgerKey, Totals] = {}
        self._inflight: dict[LedgerKey, Totals] = {}
        self._last_flush: float | None = None
        self._last_purge: float | None = None
        self._failing = False
        #: called with each batch of rows the ledger now holds (on the flushing thread)
        self.flushed: list[Callable[[Mapping[LedgerKey, Totals]], None]] = []

    @property
    def currency(self) -> str:
        return self.pricing.currency

    # -- the subscriber -----------------------------------------------------------

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Price one tick (sampler subscriber); flush and purge when due."""
        new = [s for tid, s in snapshot.targets.items() if tid not in self._live]
        bases = {s.target_id: self._history(s.target.kernel_id) for s in new}
        minute = int(snapshot.time // 60 * 60)
        with self._lock:
            for tid in set(self._live) - set(snapshot.targets):
                del self._live[tid]
            for tid, sample in snapshot.targets.items():
                usage = self.pricing.measure(sample)
                cost = self.pricing.price(usage)
                labels = sample.target.labels()
                live = self._live.get(tid)
                if live is None:
                    live = LiveCost(tid, labels, sample.time, cost, base=bases.get(tid, Totals()))
                    self._live[tid] = live
                live.labels, live.time = labels, sample.time
                live.rate = self.pricing.hourly(sample)
                live.session.add(usage, cost)
                if usage.wall_seconds > 0:
                    key: LedgerKey = (minute, tuple(labels[n] for n in LABELS))  # type: ignore[assignment]
                    self._pending.setdefault(key, Totals()).add(usage, cost)
        now = snapshot.time
        if self._last_flush is None:
            self._last_flush = now
        elif now - self._last_flush >= self.flush_interval:
            self._last_flush = now
            self.flush()
        purge_due = self._last_purge is None or now - self._last_purge >= self.purge_interval
        if self.ledger is not None and self.purge_interval > 0 and purge_due:
            self._last_purge = now
            self._purge()

    def _history(self, kernel_id: str) -> Totals:
        if self.ledger is None or not kernel_id:
            return Totals()
        try:
            return self.ledger.totals(kernel_id=kernel_id)
        except Exception as exc:
            _log.debug("cost ledger read failed: %s", exc)
            return Totals()

    def _purge(self) -> None:
        assert self.ledger is not None
        try:
            deleted = self.ledger.purge()
        except Exception as exc:
            _log.debug("cost ledger purge failed: %s", exc)
            return
        if deleted:
            _log.info("cost ledger: %d rows past retention deleted", deleted)

    # -- writing ------------------------------------------------------------------

    def flush(self) -> bool:
        """Write the pending minutes to the ledger now; False if the write failed (rows kept)."""
        if self.ledger is None:
            return True
        with self._io:
            with self._lock:
                rows, self._pending = self._pending, {}
                self._inflight = rows
            if not rows:
                return True
            try:
                self.ledger.write(rows, self.currency)
            except Exception as exc:
                with self._lock:
                    for key, totals in rows.items():
                        self._pending.setdefault(key, Totals()).merge(totals)
                    self._inflight = {}
                if not self._failing:
                    self._failing = True
                    _log.warning(
                        "cost ledger write failed (%s); retrying, figures kept in memory", exc
                    )
                return False
            with self._lock:
                self._inflight = {}
            for listener in list(self.flushed):
                try:
                    listener(rows)
                except Exception:
                    _log.exception("cost: a flush listener failed")
            if self._failing:
                self._failing = False
                _log.warning("cost ledger writable again")
            return True

    def close(self) -> None:
        """Write what is pending (call after the sampler stopped)."""
        self.flush()

    def quiet(self, read: Callable[[], T]) -> T:
        """``read()`` with no flush during it (a flush waits), e.g. loading totals that
        :attr:`flushed` listeners then advance: nothing is missed or counted twice."""
        with self._io:
            return read()

    # -- reading ------------------------------------------------------------------

    def live(self, target_id: str) -> LiveCost | None:
        with self._lock:
            return self._live.get(target_id)

    def live_all(self) -> dict[str, LiveCost]:
        with self._lock:
            return dict(self._live)

    def pending_totals(self, *, since: float | None = None, **labels: str) -> Totals:
        """What matches ``labels`` among the minutes not yet in the ledger."""
        wanted = [(LABELS.index(n), v) for n, v in labels.items()]
        out = Totals()
        with self._lock:
            for rows in (self._inflight, self._pending):
                for (minute, key), totals in rows.items():
                    if since is not None and minute < since // 60 * 60:
                        continue
                    if all(key[i] == v for i, v in wanted):
                        out.merge(totals)
        return out

    def totals(self, *, since: float | None = None, **labels: str) -> Totals:
        """Ledger figures plus pending minutes matching ``labels`` (a run, a kernel, a project)."""
        with self._io:
            pending = self.pending_totals(since=since, **labels)
            if self.ledger is None:
                return pending
            return self.ledger.totals_where(labels, since=since).merge(pending)
