"""The idle policy: what to do about kernels that hold a GPU (or a CPU) idle, decided per snapshot.

Rules (``c.MlopsConfig.idle_policy``, one per resource)::

    [{"resource": "gpu", "threshold_pct": 5, "after_minutes": 20, "grace_minutes": 10,
      "action": "shutdown"}]

* ``gpu``: a target is idle while it holds at least ``min_mem_mb`` of a GPU's memory
  and uses it below ``threshold_pct`` (as :class:`~.alerts.IdleGpuDetector` sees it;
  a GPU with no utilisation figure, MIG slices, is never idle);
* ``cpu``: a target is idle while it uses below ``threshold_pct`` of one core.

:func:`parse_rule` raises :class:`~jupyter_mlops.exceptions.ConfigError` for a bad
rule; :func:`load_rules` turns each bad rule into a ``notify`` rule (defaults for
the numbers that did not parse) and hands back the errors, so a server starts,
logs one error per bad rule, and only warns.

:class:`IdlePolicy` is the state machine, fed every snapshot with the targets that
are exempt now (:data:`BUSY`: executing a cell, which resets the idle stretch;
:data:`KEPT_ALIVE`: ``%mlops keep-alive``, which holds off warnings and actions
but keeps counting). Per target and rule::

    idle for after_minutes ──> "warning"  (act_at = now + grace_minutes)
    act_at reached         ──> "act"      (the server interrupts or shuts down) or,
                               "would-act" (dry run); nothing for ``notify``
    activity or keep-alive ──> "cleared"  (only after a warning)

Each :class:`IdleDecision` carries the money the idle stretch burned so far and
the target's allocated cost per hour (what acting avoids), from the pricing model.
Nothing here does anything to a kernel: the server applies the decisions.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_mlops.core.cost.alerts import held_idle
from jupyter_mlops.core.cost.money import format_money
from jupyter_mlops.core.cost.pricing import HOUR, PricingModel
from jupyter_mlops.core.cost.records import Snapshot, TargetSample
from jupyter_mlops.exceptions import ConfigError

__all__ = [
    "ACTIONS",
    "BUSY",
    "KEPT_ALIVE",
    "RESOURCES",
    "IdleDecision",
    "IdlePolicy",
    "IdleRule",
    "load_rules",
    "parse_rule",
]

RESOURCES = ("gpu", "cpu")
ACTIONS = ("notify", "interrupt", "shutdown")
BUSY = "busy"
"""Exemption reason: the kernel is executing a cell (its idle stretch starts again)."""
KEPT_ALIVE = "keep-alive"
FREE_HINT = "del the model and tensors you no longer need, then torch.cuda.empty_cache()"
"""What an ``interrupt`` action suggests: interrupting stops a cell; GPU memory stays held."""
"""Exemption reason: ``%mlops keep-alive`` (no warning or action until it expires)."""

_KEYS = ("resource", "threshold_pct", "after_minutes", "grace_minutes", "action")
_NUMBERS = (("threshold_pct", False), ("after_minutes", True), ("grace_minutes", False))
"""The numbers of a rule, and whether each must be above 0 (else 0 or more)."""
_EXAMPLE = (
    '{"resource": "gpu", "threshold_pct": 5, "after_minutes": 20, '
    '"grace_minutes": 10, "action": "shutdown"}'
)


@dataclass(frozen=True)
class IdleRule:
    """One rule of the idle policy (see the module docstring)."""

    resource: str = "gpu"
    threshold_pct: float = 5.0
    after_minutes: float = 20.0
    grace_minutes: float = 10.0
    action: str = "notify"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _KEYS}


def _number(raw: Mapping[str, Any], key: str, default: float, positive: bool) -> float:
    value = raw.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        need = "a number above 0" if positive else "a number, 0 or more"
        raise ConfigError(f"{key} must be {need}, got {value!r}")
    return float(value)


def parse_rule(raw: Any) -> IdleRule:
    """One rule from its config dict; :class:`ConfigError` saying what is wrong and how to write it."""
    hint = f"write each rule as {_EXAMPLE}"
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"an idle_policy rule must be a dict, got {type(raw).__name__}", hint=hint
        )
    problems = []
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(_KEYS)})")
    resource, action = raw.get("resource", "gpu"), raw.get("action", "notify")
    if resource not in RESOURCES:
        problems.append(f"resource must be gpu or cpu, got {resource!r}")
    if action not in ACTIONS:
        problems.append(f"action must be notify, interrupt or shutdown, got {action!r}")
    defaults = IdleRule()
    numbers = {}
    for key, positive in _NUMBERS:
        try:
            numbers[key] = _number(raw, key, getattr(defaults, key), positive)
        except ConfigError as exc:
            problems.append(exc.message)
    if problems:
        raise ConfigError(f"idle_policy rule {dict(raw)!r}: {'; '.join(problems)}", hint=hint)
    return IdleRule(resource=str(resource), action=str(action), **numbers)


def _fallback(raw: Any) -> IdleRule:
    """What a bad rule becomes: its parts that parse, defaults for the rest, action ``notify``."""
    if not isinstance(raw, Mapping):
        return IdleRule()
    rule = IdleRule(resource=raw["resource"]) if raw.get("resource") in RESOURCES else IdleRule()
    for key, positive in _NUMBERS:
        with contextlib.suppress(ConfigError):
            changes: dict[str, Any] = {key: _number(raw, key, getattr(rule, key), positive)}
            rule = replace(rule, **changes)
    return rule


def load_rules(raw: Sequence[Any]) -> tuple[list[IdleRule], list[ConfigError]]:
    """Every rule of ``raw``; a bad one becomes a ``notify`` rule and its error is returned."""
    rules: list[IdleRule] = []
    errors: list[ConfigError] = []
    for item in raw:
        try:
            rules.append(parse_rule(item))
        except ConfigError as exc:
            errors.append(exc)
            rules.append(_fallback(item))
    return rules, errors


@dataclass(frozen=True)
class IdleDecision:
    """A step of the policy for one kernel: ``state`` warning | act | would-act | cleared."""

    state: str
    rule: IdleRule
    target_id: str
    labels: Mapping[str, str]
    since: float
    burned: float
    per_hour: float
    currency: str
    act_at: float | None = None
    gpu: str = ""
    reason: str = ""

    def _what(self) -> str:
        notebook = self.labels.get("notebook") or self.labels.get("kernel_id") or self.target_id
        if self.rule.resource == "gpu":
            held = f"has held GPU {self.gpu} idle" if self.gpu else "has held a GPU idle"
        else:
            held = f"has used under {self.rule.threshold_pct:g}% of a CPU core"
        return f"Kernel of {notebook} {held}"

    def message(self, now: float) -> str:
        """One plain sentence for people (toasts, logs, notifications)."""
        minutes = round((now - self.since) / 60)
        money = format_money(self.burned, self.currency)
        span = f"{minutes} min" if minutes >= 1 else "under a minute"
        head = f"{self._what()} for {span} ({money} so far)"
        if self.state == "cleared":
            return f"{head}, and is {self.reason}: nothing will be done"
        verb = {"interrupt": "interrupting it", "shutdown": "shutting down"}.get(self.rule.action)
        if self.state == "warning":
            if verb is None:
                return f"{head}: shut it down, or mark it with %mlops keep-alive"
            wait = max(0, round(((self.act_at or now) - now) / 60))
            return f"{head}: {verb} in {wait} min"
        done = {"interrupt": "interrupted", "shutdown": "shut down"}.get(self.rule.action, "")
        if self.state == "would-act":
            return f"{head}: dry run, it would have been {done} now"
        avoiding = f"avoiding {format_money(self.per_hour, self.currency)}/h"
        if self.rule.action == "interrupt":  # an interrupt stops a cell; memory stays held
            return f"{head}: interrupted, {avoiding} once it frees what it holds ({FREE_HINT})"
        return f"{head}: {done}, {avoiding}"

    def to_event(self, now: float, state: str | None = None) -> dict[str, Any]:
        """The ``idle-policy`` event of the contract (``seq`` and ``time`` added by the publisher)."""
        state = state or self.state
        event: dict[str, Any] = {
            "kind": "idle-policy",
            "state": state,
            "message": replace(self, state=state).message(now),
            "action": self.rule.action,
            "resource": self.rule.resource,
            **{k: self.labels.get(k, "") for k in ("kernel_id", "notebook", "user", "project")},
            "run_id": self.labels.get("run_id", ""),
            "target_id": self.target_id,
            "gpu": self.gpu,
            "since": self.since,
            "burned": self.burned,
            "currency": self.currency,
            "avoided_per_hour": self.per_hour,
        }
        if self.act_at is not None:
            event["act_at"] = self.act_at
        return event


@dataclass(slots=True)
class _Stretch:
    since: float
    burned: float = 0.0
    per_hour: float = 0.0
    gpu: str = ""
    act_at: float | None = None  # set once warned
    acted: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)


class IdlePolicy:
    """Turns snapshots into :class:`IdleDecision` s (module docstring); not thread-safe: feed it
    from one thread (the sampler's)."""

    def __init__(
        self,
        rules: Sequence[IdleRule],
        pricing: PricingModel,
        *,
        dry_run: bool = False,
        min_mem_mb: float = 256.0,
    ) -> None:
        self.rules = tuple(rules)
        self.pricing = pricing
        self.dry_run = dry_run
        self.min_mem_bytes = int(min_mem_mb * (1 << 20))
        self._stretches: dict[tuple[str, int], _Stretch] = {}

    @property
    def watching(self) -> bool:
        """Whether some target is idle now (exemptions matter only then)."""
        return bool(self._stretches)

    def _idle_gpu(self, rule: IdleRule, sample: TargetSample) -> str | None:
        for gpu in sample.gpus:
            if held_idle(gpu, rule.threshold_pct, self.min_mem_bytes):
                return gpu.key
        return None

    def _idle(self, rule: IdleRule, sample: TargetSample) -> str | None:
        """The idle GPU's key (``""`` for an idle CPU), or None while the target works."""
        if not sample.alive or sample.interval <= 0:
            return None
        if rule.resource == "gpu":
            return self._idle_gpu(rule, sample)
        return "" if sample.cpu_percent < rule.threshold_pct else None

    def update(
        self,
        snapshot: Snapshot,
        exempt: Mapping[str, str] | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> list[IdleDecision]:
        """Advance with one snapshot; ``exempt``: target id -> :data:`BUSY` or :data:`KEPT_ALIVE`.

        ``rates``: each target's allocated cost per hour at this snapshot where the caller
        has priced it already (the engine's accountant has); else priced here, once per
        target and only while it is idle.
        """
        exempt = exempt or {}
        rates = rates or {}
        now = snapshot.time
        out: list[IdleDecision] = []
        seen: set[tuple[str, int]] = set()
        for tid, sample in snapshot.targets.items():
            why = exempt.get(tid)
            per_hour: float | None = rates.get(tid)
            for index, rule in enumerate(self.rules):
                gpu = None if why == BUSY else self._idle(rule, sample)
                if gpu is None:
                    continue
                key = (tid, index)
                seen.add(key)
                stretch = self._stretches.get(key)
                if stretch is None:
                    stretch = _Stretch(since=now - sample.interval)
                    self._stretches[key] = stretch
                if per_hour is None:
                    per_hour = self.pricing.hourly(sample).allocated
                stretch.burned += per_hour * sample.interval / HOUR
                stretch.per_hour, stretch.gpu = per_hour, gpu
                stretch.labels = sample.target.labels()
                out.extend(self._step(tid, rule, stretch, now, why))
        for key in set(self._stretches) - seen:
            stretch = self._stretches.pop(key)
            now_seen = snapshot.targets.get(key[0])
            alive = now_seen is not None and now_seen.alive
            if stretch.act_at is not None and not stretch.acted and alive:
                reason = "busy again" if exempt.get(key[0]) == BUSY else "in use again"
                out.append(self._decision("cleared", key[0], self.rules[key[1]], stretch, reason))
        return out

    def _step(
        self, tid: str, rule: IdleRule, stretch: _Stretch, now: float, why: str | None
    ) -> list[IdleDecision]:
        if why == KEPT_ALIVE:
            if stretch.act_at is None:
                return []
            cleared = self._decision("cleared", tid, rule, stretch, "kept alive")
            stretch.act_at, stretch.acted = None, False
            return [cleared]
        if stretch.act_at is None:
            if now - stretch.since < rule.after_minutes * 60.0:
                return []
            stretch.act_at = now + rule.grace_minutes * 60.0
            out = [self._decision("warning", tid, rule, stretch)]
        else:
            out = []
        if stretch.acted or rule.action == "notify" or now < stretch.act_at:
            return out
        stretch.acted = True
        out.append(self._decision("would-act" if self.dry_run else "act", tid, rule, stretch))
        return out

    def _decision(
        self, state: str, tid: str, rule: IdleRule, stretch: _Stretch, reason: str = ""
    ) -> IdleDecision:
        return IdleDecision(
            state=state,
            rule=rule,
            target_id=tid,
            labels=stretch.labels,
            since=stretch.since,
            burned=stretch.burned,
            per_hour=stretch.per_hour,
            currency=self.pricing.currency,
            act_at=stretch.act_at,
            gpu=stretch.gpu,
            reason=reason,
        )

    def forget(self, target_id: str) -> None:
        """Drop a target's stretches (it was shut down): no ``cleared`` follows."""
        for key in [k for k in self._stretches if k[0] == target_id]:
            del self._stretches[key]
