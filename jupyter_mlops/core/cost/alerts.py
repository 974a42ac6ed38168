"""Waste alerts: GPUs that kernels hold while idle, and what that burned.

Idle GPU
--------

A target is *idle on a GPU* while it holds at least ``min_mem_mb`` of the
GPU's memory and its utilisation of it (:class:`~.records.TargetGpu`) is below
``util_threshold_pct``. Once that has lasted ``after_minutes``, the
:class:`IdleGpuDetector` fires an :class:`AlertEvent` ("fired") carrying the
time the idle stretch began and the money the GPU cost since (its allocated
GPU price over the stretch). It clears ("cleared") when utilisation comes back,
the memory is freed, or the target goes away. A GPU with no utilisation figure
(MIG slices) never counts as idle. ``dismiss`` silences one alert until it clears.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_mlops.core.cost.money import format_money  # the one money format, re-exported
from jupyter_mlops.core.cost.pricing import HOUR, PricingModel
from jupyter_mlops.core.cost.records import Snapshot, TargetGpu
from jupyter_mlops.core.serial import fields_dict

__all__ = ["AlertEvent", "IdleGpuAlert", "IdleGpuDetector", "format_money", "held_idle"]


def _clock_time(epoch: float, tz: dt.tzinfo | None) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=tz).strftime("%H:%M")


@dataclass(frozen=True)
class IdleGpuAlert:
    """An idle stretch on one GPU by one target: since when, and what it cost so far."""

    target_id: str
    labels: Mapping[str, str]
    gpu_key: str
    model: str
    since: float
    burned: float
    currency: str
    mem_bytes: int
    util_pct: float
    actions: tuple[str, ...] = ("interrupt", "shutdown", "dismiss")

    kind = "idle-gpu"

    def message(self, tz: dt.tzinfo | None = None) -> str:
        """``idle GPU: $3.20 burned since 14:02`` (local time unless ``tz``)."""
        return (
            f"idle GPU: {format_money(self.burned, self.currency)} burned since "
            f"{_clock_time(self.since, tz)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **fields_dict(self, "kind target_id"),
            **self.labels,
            "gpu": self.gpu_key,
            **fields_dict(self, "model since burned currency mem_bytes util_pct"),
            "actions": list(self.actions),
            "message": self.message(),
        }


def held_idle(gpu: TargetGpu, util_threshold_pct: float, min_mem_bytes: int) -> bool:
    """A GPU the target holds (at least ``min_mem_bytes``) and uses below the threshold;
    never one without a utilisation figure (MIG slices)."""
    return (
        gpu.util_pct is not None
        and gpu.util_pct < util_threshold_pct
        and gpu.mem_bytes >= min_mem_bytes
    )


@dataclass(frozen=True)
class AlertEvent:
    """``state`` is ``"fired"`` or ``"cleared"``."""

    state: str
    alert: IdleGpuAlert


@dataclass(slots=True)
class _Stretch:
    since: float
    burned: float = 0.0
    fired: bool = False
    dismissed: bool = False
    last: IdleGpuAlert | None = None


class IdleGpuDetector:
    """Fires when a target holds a GPU idle for ``after_minutes``; clears when it stops.

    Feed it every snapshot (:meth:`update`, or subscribe :meth:`on_snapshot`
    and register ``listeners``).
    """

    def __init__(
        self,
        pricing: PricingModel,
        *,
        util_threshold_pct: float = 5.0,
        after_minutes: float = 10.0,
        min_mem_mb: float = 256.0,
    ) -> None:
        self.pricing = pricing
        self.util_threshold_pct = util_threshold_pct
        self.after_s = after_minutes * 60.0
        self.min_mem_bytes = int(min_mem_mb * (1 << 20))
        self.listeners: list[Callable[[AlertEvent], None]] = []
        self._stretches: dict[tuple[str, str], _Stretch] = {}
        self._lock = threading.Lock()

    def on_snapshot(self, snapshot: Snapshot) -> None:
        for event in self.update(snapshot):
            for listener in list(self.listeners):
                listener(event)

    def update(self, snapshot: Snapshot) -> list[AlertEvent]:
        """Advance with one snapshot; the alerts that fired or cleared on it."""
        events: list[AlertEvent] = []
        seen: set[tuple[str, str]] = set()
        with self._lock:
            for tid, sample in snapshot.targets.items():
                for gpu in sample.gpus:
                    idle = held_idle(gpu, self.util_threshold_pct, self.min_mem_bytes)
                    key = (tid, gpu.key)
                    if not idle:
                        continue
                    seen.add(key)
                    stretch = self._stretches.get(key)
                    if stretch is None:
                        stretch = _Stretch(since=sample.time - sample.interval)
                        self._stretches[key] = stretch
                    rate = self.pricing.gpu_rate(gpu.model, gpu.memory_total)
                    stretch.burned += rate * gpu.fraction * sample.interval / HOUR
                    stretch.last = IdleGpuAlert(
                        target_id=tid,
                        labels=sample.target.labels(),
                        gpu_key=gpu.key,
                        model=gpu.model,
                        since=stretch.since,
                        burned=stretch.burned,
                        currency=self.pricing.currency,
                        mem_bytes=gpu.mem_bytes,
                        util_pct=float(gpu.util_pct or 0.0),
                    )
                    if not stretch.fired and sample.time - stretch.since >= self.after_s:
                        stretch.fired = True
                        events.append(AlertEvent("fired", stretch.last))
            for key in set(self._stretches) - seen:
                stretch = self._stretches.pop(key)
                if stretch.fired and stretch.last is not None:
                    events.append(AlertEvent("cleared", stretch.last))
        return events

    def active(self) -> list[IdleGpuAlert]:
        """The alerts firing now (not dismissed), with their current ``burned``."""
        with self._lock:
            return [
                s.last
                for s in self._stretches.values()
                if s.fired and not s.dismissed and s.last is not None
            ]

    def dismiss(self, target_id: str, gpu_key: str) -> bool:
        """Hide one alert until it clears; False if there was none."""
        with self._lock:
            stretch = self._stretches.get((target_id, gpu_key))
            if stretch is None or not stretch.fired:
                return False
            stretch.dismissed = True
            return True
