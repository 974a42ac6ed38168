"""All the cost pieces wired together, built once from plain settings (the server's one object).

::

    engine = CostEngine(CostSettings(interval=1.0, budgets=[{"project": "p", "amount": 50}]))
    engine.start()
    engine.track("k1", Target(pid, kernel_id="k1", notebook="a.ipynb", project="p", user="ana"))
    engine.status()                  # JSON-ready: targets with $/h and $ so far, alerts, budgets
    engine.events_since(0)           # (last_seq, [event dicts]): idle-GPU fired/cleared, budget,
                                     # idle-policy warning/acted/would-act/cleared
    engine.keep_alive("k1", 120)     # the idle policy leaves k1 alone for 2 h (blocking: ledger)
    metrics, tags = engine.run_end_metrics(run_id)
    engine.stop()

The sampler thread does all measuring; :meth:`CostEngine.status` only reads
what the last tick left (no psutil or NVML work), so a REST handler may call it
directly. Budgets are checked every ``budget_check_interval`` seconds on the
sampler thread.

The idle policy (:mod:`.policy`, ``CostSettings.idle_policy``) is fed every
snapshot on the sampler thread with the kernels exempt now: those the server
reports busy (:meth:`CostEngine.set_busy`) and those kept alive (the ledger's
marks, re-read at most every :data:`KEEP_ALIVE_REFRESH_S` seconds, and only while
some kernel is idle). Warnings, clearings and dry-run decisions become events;
a decision to act goes to ``policy_actor`` (the server's, which interrupts or
shuts the kernel down and then calls :meth:`CostEngine.acted`); with no actor it
is reported as ``would-act``. Actions and dry-run decisions go into the ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.advice import Machine, Peaks, right_size
from jupyter_mlops.core.cost.alerts import AlertEvent, IdleGpuDetector
from jupyter_mlops.core.cost.budgets import BudgetMonitor, parse_budgets
from jupyter_mlops.core.cost.carbon import resolve_intensity
from jupyter_mlops.core.cost.catalogue import Catalogue
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.ledger_policy import ACTION_FIELDS
from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics
from jupyter_mlops.core.cost.policy import BUSY, KEPT_ALIVE, IdleDecision, IdlePolicy, load_rules
from jupyter_mlops.core.cost.pricing import J_PER_KWH, PricingModel, machine_instance
from jupyter_mlops.core.cost.records import Snapshot, Target
from jupyter_mlops.core.cost.sampler import Sampler
from jupyter_mlops.core.cost.sources import ResourceSource
from jupyter_mlops.exceptions import ConfigError

__all__ = ["KEEP_ALIVE_REFRESH_S", "CostEngine", "CostSettings", "build_pricing"]

_log = logging.getLogger("jupyter_mlops.cost")

KEEP_ALIVE_REFRESH_S = 5.0
"""Seconds between two reads of the ledger's keep-alive marks (while some kernel is idle)."""


@dataclass(frozen=True)
class CostSettings:
    """Everything configurable about cost (the traitlets in ``MlopsConfig`` map one to one).

    ``ledger_url``: ``""`` for the default SQLite file, ``"memory"`` for no ledger.
    ``pricing_mode``: ``"per-resource"`` or ``"instance"`` (``instance`` a catalogue
    key, or ``instance_hourly`` > 0 to price this machine as a whole).
    ``currency`` / ``currency_factor``: convert the catalogue's prices.
    ``carbon_region`` / ``carbon_intensity``: the grid of gCO2e (:mod:`.carbon`; a bad
    one is logged and the world average used).
    """

    interval: float = 1.0
    ledger_url: str = ""
    retention_days: float = 90.0
    flush_interval: float = 10.0
    pricing_mode: str = "per-resource"
    instance: str = ""
    instance_hourly: float = 0.0
    rates: Mapping[str, float] = field(default_factory=dict)
    gpu_hours: Mapping[str, float] = field(default_factory=dict)
    catalogue_file: str = ""
    currency: str = ""
    currency_factor: float = 1.0
    idle_util_pct: float = 5.0
    idle_minutes: float = 10.0
    idle_min_mem_mb: float = 256.0
    budgets: Sequence[Mapping[str, Any]] = ()
    budget_check_interval: float = 60.0
    carbon_region: str = ""
    carbon_intensity: float = 0.0
    idle_policy: Sequence[Mapping[str, Any]] = ()
    idle_policy_dry_run: bool = False


def build_pricing(settings: CostSettings) -> PricingModel:
    """The pricing model the settings describe."""
    catalogue = Catalogue.load(settings.catalogue_file or None)
    if settings.pricing_mode == "per-resource":
        pricing = PricingModel.per_resource(
            catalogue, rates=settings.rates, gpu_hours=settings.gpu_hours
        )
    elif settings.pricing_mode == "instance":
        if settings.instance:
            pricing = PricingModel.for_instance(settings.instance, catalogue)
        elif settings.instance_hourly > 0:
            pricing = PricingModel.for_instance(
                machine_instance(settings.instance_hourly), catalogue
            )
        else:
            raise ConfigError(
                "instance pricing needs an instance or an hourly price",
                hint="set cost_instance (a catalogue key) or cost_instance_hourly",
            )
    else:
        raise ConfigError(
            f"unknown pricing mode {settings.pricing_mode!r}", hint="use per-resource or instance"
        )
    if settings.currency and settings.currency.upper() != pricing.currency:
        pricing = pricing.with_currency(settings.currency, settings.currency_factor)
    return pricing


class CostEngine:
    """Sampler + accountant + ledger + idle-GPU detector + budgets, with an event log."""

    def __init__(
        self,
        settings: CostSettings | None = None,
        *,
        sources: Sequence[ResourceSource] | None = None,
        ledger: Ledger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings = settings or CostSettings()
        self.clock = clock
        self.pricing = build_pricing(settings)
        self.carbon = resolve_intensity(settings.carbon_region, settings.carbon_intensity)
        if ledger is None and settings.ledger_url != "memory":
            ledger = Ledger(settings.ledger_url or None, retention_days=settings.retention_days)
        self.ledger = ledger
        self.sampler = Sampler(sources, interval=settings.interval, clock=clock)
        self.accountant = CostAccountant(
            self.pricing, ledger, flush_interval=settings.flush_interval, clock=clock
        )
        self.idle = IdleGpuDetector(
            self.pricing,
            util_threshold_pct=settings.idle_util_pct,
            after_minutes=settings.idle_minutes,
            min_mem_mb=settings.idle_min_mem_mb,
        )
        budgets = parse_budgets(settings.budgets)
        self.budgets: BudgetMonitor | None = None
        if budgets:
            accountant = self.accountant
            self.budgets = BudgetMonitor(
                budgets,
                ledger,
                currency=self.pricing.currency,
                spend=lambda p, s: accountant.totals(project=p, since=s).cost_allocated,
                clock=clock,
            )
        rules, self.policy_errors = load_rules(settings.idle_policy)
        self.policy = IdlePolicy(
            rules,
            self.pricing,
            dry_run=settings.idle_policy_dry_run,
            min_mem_mb=settings.idle_min_mem_mb,
        )
        self.policy_actor: Callable[[IdleDecision], None] | None = None
        self._busy: frozenset[str] = frozenset()
        self._kept: dict[str, float] = {}  # kernel id -> until
        self._kept_read: float | None = None
        self._actions: deque[dict[str, Any]] = deque(
            ledger.idle_actions(20) if ledger is not None else (), maxlen=20
        )
        self.listeners: list[Callable[[dict[str, Any]], object]] = []
        self._events: deque[tuple[int, dict[str, Any]]] = deque(maxlen=500)
        self._seq = 0
        self._lock = threading.Lock()
        self._last_budget_check: float | None = None
        self.sampler.subscribe(self.accountant.on_snapshot)
        self.sampler.subscribe(self._on_snapshot)

    # -- life cycle and targets ---------------------------------------------------

    def start(self) -> None:
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        self.accountant.close()
        if self.ledger is not None:
            self.ledger.close()

    def track(self, target_id: str, target: Target) -> None:
        self.sampler.add_target(target_id, target)

    def untrack(self, target_id: str) -> None:
        self.sampler.remove_target(target_id)

    def relabel(self, target_id: str, **labels: str) -> None:
        self.sampler.update_target(target_id, **labels)

    # -- events -------------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            event = {"seq": self._seq, "time": self.clock(), **event}
            self._events.append((self._seq, event))
        for listener in list(self.listeners):
            listener(event)
        return event

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        for ev in self.idle.update(snapshot):
            self._emit(_alert_event(ev))
        if self.policy.rules:
            rates = {tid: live.rate.allocated for tid, live in self.accountant.live_all().items()}
            for decision in self.policy.update(snapshot, self._exempt(snapshot.time), rates):
                self._decided(decision, snapshot.time)
        if self.budgets is None:
            return
        due = self._last_budget_check is None or (
            snapshot.time - self._last_budget_check >= self.settings.budget_check_interval
        )
        if due:
            self._last_budget_check = snapshot.time
            for budget_event in self.budgets.check():
                self._emit({"state": "fired", **budget_event.to_dict()})

    # -- idle policy ----------------------------------------------------------------

    def set_busy(self, kernel_ids: frozenset[str]) -> None:
        """The kernels executing a cell now (the server's kernel manager knows)."""
        self._busy = frozenset(kernel_ids)

    def keep_alive(self, kernel_id: str, minutes: float, set_by: str = "") -> float:
        """Leave ``kernel_id`` alone for ``minutes`` (0: no longer); the end as epoch seconds.

        Blocking (writes the ledger, where kernels' ``%mlops keep-alive`` writes too).
        """
        until = self.clock() + minutes * 60.0 if minutes > 0 else 0.0
        if self.ledger is not None:
            self.ledger.keep_alive(kernel_id, until, set_by)
        with self._lock:
            if until:
                self._kept[kernel_id] = until
            else:
                self._kept.pop(kernel_id, None)
        return until

    def kept_alive(self) -> dict[str, float]:
        """Kernel id -> until, as last read (memory only)."""
        now = self.clock()
        with self._lock:
            return {k: u for k, u in self._kept.items() if u > now}

    def _exempt(self, now: float) -> dict[str, str]:
        stale = self._kept_read is None or now - self._kept_read >= KEEP_ALIVE_REFRESH_S
        if self.ledger is not None and self.policy.watching and stale:
            self._kept_read = now
            try:
                kept = self.ledger.keep_alives(now)
            except Exception:  # a locked or broken ledger: keep the marks known
                kept = None
            if kept is not None:
                with self._lock:
                    self._kept = kept
        with self._lock:  # the REST handler's keep_alive changes it from another thread
            exempt = dict.fromkeys((k for k, u in self._kept.items() if u > now), KEPT_ALIVE)
        exempt.update(dict.fromkeys(self._busy, BUSY))
        return exempt

    def _decided(self, decision: IdleDecision, now: float) -> None:
        if decision.state == "act":
            if self.policy_actor is not None:
                self.policy_actor(decision)
                return
            decision = replace(decision, state="would-act")
        event = self._emit(decision.to_event(now))
        if decision.state == "would-act":
            _log.warning("jupyter-mlops: idle policy (dry run): %s", event["message"])
            self._record(event)
        else:
            _log.info("jupyter-mlops: idle policy: %s", event["message"])

    def acted(self, decision: IdleDecision) -> dict[str, Any]:
        """Report that the server did what ``decision`` said: the ``acted`` event, and the
        ledger's row (blocking). The event."""
        event = self._emit(decision.to_event(self.clock(), "acted"))
        self._record(event)
        return event

    def left_alone(self, decision: IdleDecision, reason: str) -> dict[str, Any]:
        """Report that the server did not act on ``decision`` (the kernel is busy again): the
        ``cleared`` event, so that the warning shown is withdrawn."""
        cleared = replace(decision, state="cleared", reason=reason)
        return self._emit(cleared.to_event(self.clock()))

    def _record(self, event: dict[str, Any]) -> None:
        row = {k: event[k] for k in ACTION_FIELDS}
        with self._lock:
            self._actions.appendleft(row)
        if self.ledger is not None:
            try:
                self.ledger.record_idle_action(row)
            except Exception as exc:  # the event went out; the ledger row is a record
                _log.warning("jupyter-mlops: recording an idle action failed: %s", exc)

    def events_since(self, seq: int) -> tuple[int, list[dict[str, Any]]]:
        """Events after ``seq`` (oldest first) and the newest sequence number."""
        with self._lock:
            return self._seq, [e for s, e in self._events if s > seq]

    # -- reading ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """JSON-ready: the last snapshot with each target's live cost, active alerts, pricing."""
        snapshot = self.sampler.latest()
        live = self.accountant.live_all()
        targets = {}
        if snapshot is not None:
            for tid, sample in snapshot.targets.items():
                entry = sample.to_dict()
                if tid in live:
                    entry["cost"] = live[tid].to_dict()
                    entry["co2e_g"] = self.carbon.grams(live[tid].so_far.energy_j / J_PER_KWH)
                targets[tid] = entry
        return {
            "time": None if snapshot is None else snapshot.time,
            "interval": self.sampler.interval,
            "currency": self.pricing.currency,
            "pricing": self.pricing.describe(),
            "carbon": self.carbon.to_dict(),
            "gpu_available": bool(snapshot and snapshot.gpu_available),
            "gpus": [] if snapshot is None else [g.to_dict() for g in snapshot.gpus],
            "targets": targets,
            "alerts": [a.to_dict() for a in self.idle.active()],
            "actions": self.recent_actions(),
            "keep_alive": self.kept_alive(),
        }

    def recent_actions(self) -> list[dict[str, Any]]:
        """The idle policy's last 20 actions and dry-run decisions, newest first (memory only)."""
        with self._lock:
            return [dict(a) for a in self._actions]

    def advice(self, target_id: str, *, headroom: float = 1.2) -> dict[str, Any] | None:
        """Right-sizing advice for one target from its live totals; ``None`` when not priced yet.

        Reads only memory (the live figures and the last snapshot's GPUs), so it may run
        on the event loop (the machine's cores and memory: two cheap psutil reads).
        """
        live = self.accountant.live(target_id)
        if live is None:
            return None
        machine = Machine.detect(self.sampler.latest())
        advice = right_size(
            Peaks.from_totals(live.so_far), self.pricing, machine, headroom=headroom
        )
        return {"target_id": target_id, **advice.to_dict()}

    def budget_status(self) -> list[dict[str, Any]]:
        """Every budget's spend this period (reads the ledger: not for the event loop)."""
        return [] if self.budgets is None else [s.to_dict() for s in self.budgets.status()]

    def run_end_metrics(self, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
        """The end-of-run metrics and pricing tags for ``run_id`` (flushes pending minutes first)."""
        self.accountant.flush()
        totals = self.accountant.totals(run_id=run_id)
        metrics = run_cost_metrics(totals, self.pricing.currency, self.carbon)
        return metrics, pricing_tags(self.pricing, self.carbon)


def _alert_event(event: AlertEvent) -> dict[str, Any]:
    return {"state": event.state, **event.alert.to_dict()}
