"""Budgets per project: an amount per day, week or month; 80% and 100% announced once.

A :class:`Budget` is an amount per project per ``day``, ``week`` (from Monday)
or ``month``, periods in UTC. :class:`BudgetMonitor` measures the period's
allocated cost (from the ledger, or any ``spend`` function, e.g. an
accountant's totals including pending minutes) and reports each threshold
(80% and 100% by default) once per period and *consumer*: marks are kept in
the ledger, so a restart does not announce them again, and the server and a
kernel (different consumers) each say it once.

A ``hard`` budget also refuses new launches (REST, schedule firings, ``jupyter
mlops run``) while its project's spend is at or past 100% of this period:
:func:`refuse_if_hard_spent` raises :class:`RunStateError` saying which budget,
spent against amount, when the period resets and how to raise it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.cost.alerts import format_money
from jupyter_mlops.exceptions import ConfigError, RunStateError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.ledger import Ledger

__all__ = [
    "PERIODS",
    "Budget",
    "BudgetEvent",
    "BudgetMonitor",
    "BudgetStatus",
    "parse_budgets",
    "refuse_if_hard_spent",
]

PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class Budget:
    """``amount`` (in the pricing currency) per ``period`` for ``project``."""

    project: str
    amount: float
    period: str = "month"
    thresholds: tuple[float, ...] = (0.8, 1.0)
    hard: bool = False
    """At or past 100% of the period, new launches of the project are refused."""

    def __post_init__(self) -> None:
        if not isinstance(self.hard, bool):
            raise ConfigError(
                f"budget 'hard' for project {self.project!r} must be true or false, "
                f"not {self.hard!r}"
            )
        if self.period not in PERIODS:
            raise ConfigError(f"budget period {self.period!r} is not one of {', '.join(PERIODS)}")
        if not self.amount > 0:
            raise ConfigError(f"budget amount for project {self.project!r} must be positive")
        if not self.project:
            raise ConfigError("a budget needs a project")

    def period_bounds(self, now: float) -> tuple[int, int]:
        """Start and end (epoch seconds, UTC) of the period containing ``now``."""
        day = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).date()
        if self.period == "day":
            start = day
            end = day + dt.timedelta(days=1)
        elif self.period == "week":
            start = day - dt.timedelta(days=day.weekday())
            end = start + dt.timedelta(days=7)
        else:
            start = day.replace(day=1)
            days = calendar.monthrange(start.year, start.month)[1]
            end = start + dt.timedelta(days=days)
        return _epoch(start), _epoch(end)


def _epoch(day: dt.date) -> int:
    return calendar.timegm(day.timetuple())


def parse_budgets(items: Iterable[Mapping[str, Any]]) -> list[Budget]:
    """Budgets from config: ``[{"project": "p", "amount": 100, "period": "week"}, ...]``.

    ``"hard": true`` makes one refuse launches once spent; any other value than a JSON
    boolean is a :class:`ConfigError`.
    """
    out = []
    for item in items:
        try:
            thresholds = tuple(float(t) for t in item.get("thresholds", (0.8, 1.0)))
            out.append(
                Budget(
                    project=str(item["project"]),
                    amount=float(item["amount"]),
                    period=str(item.get("period", "month")),
                    thresholds=thresholds,
                    hard=item.get("hard", False),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"bad budget {dict(item)!r}: {exc}",
                hint='write budgets as {"project": "name", "amount": 100, "period": "week"}',
            ) from exc
    return out


@dataclass(frozen=True)
class BudgetStatus:
    """Spend of one budget in its current period."""

    budget: Budget
    spent: float
    period_start: int
    period_end: int
    currency: str

    @property
    def fraction(self) -> float:
        return self.spent / self.budget.amount

    def message(self) -> str:
        b = self.budget
        return (
            f"project {b.project}: {format_money(self.spent, self.currency)} of "
            f"{format_money(b.amount, self.currency)} this {b.period} ({self.fraction:.0%})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.budget.project,
            "amount": self.budget.amount,
            "period": self.budget.period,
            "spent": self.spent,
            "fraction": self.fraction,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "currency": self.currency,
            "hard": self.budget.hard,
            "message": self.message(),
        }


@dataclass(frozen=True)
class BudgetEvent:
    """A threshold (0.8, 1.0, ...) reached for the first time this period."""

    threshold: float
    status: BudgetStatus

    def message(self) -> str:
        word = "reached" if self.threshold >= 1.0 else f"at {self.threshold:.0%} of"
        return f"budget {word} the limit: {self.status.message()}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "budget",
            "threshold": self.threshold,
            **self.status.to_dict(),
            "message": self.message(),
        }


class _Marks:
    """Which thresholds were announced: in the ledger when there is one, else in memory."""

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger
        self.memory: set[tuple[str, int, int, str]] = set()

    def mark(self, project: str, start: int, threshold: int, consumer: str) -> bool:
        if self.ledger is not None:
            return bool(self.ledger.mark_budget(project, start, threshold, consumer))
        key = (project, start, threshold, consumer)
        if key in self.memory:
            return False
        self.memory.add(key)
        return True


class BudgetMonitor:
    """Evaluates budgets against spend; :meth:`check` returns each new threshold crossing once.

    ``spend(project, since) -> money``: default is the ledger's allocated cost
    (pass ``lambda p, s: accountant.totals(project=p, since=s).cost_allocated``
    to include minutes not yet written). ``consumer`` names who announces
    (``"server"``, ``"kernel:<id>"``): each consumer hears each threshold once.
    """

    def __init__(
        self,
        budgets: Sequence[Budget],
        ledger: Ledger | None = None,
        *,
        currency: str = "USD",
        consumer: str = "server",
        spend: Callable[[str, float], float] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.budgets = list(budgets)
        self.ledger = ledger
        self.currency = currency
        self.consumer = consumer
        self.clock = clock
        self._marks = _Marks(ledger)
        if spend is None:
            if ledger is None:
                raise ConfigError("a budget monitor needs a ledger or a spend function")
            spend = partial(_ledger_spend, ledger)
        self.spend = spend

    def status(self) -> list[BudgetStatus]:
        """Every budget's spend in its current period."""
        now = self.clock()
        out = []
        for budget in self.budgets:
            start, end = budget.period_bounds(now)
            spent = float(self.spend(budget.project, start))
            out.append(BudgetStatus(budget, spent, start, end, self.currency))
        return out

    def check(self) -> list[BudgetEvent]:
        """Thresholds reached and not yet announced (by this consumer) in this period."""
        events = []
        for status in self.status():
            for threshold in sorted(status.budget.thresholds):
                if status.fraction < threshold:
                    break
                percent = round(threshold * 100)
                project = status.budget.project
                if self._marks.mark(project, status.period_start, percent, self.consumer):
                    events.append(BudgetEvent(threshold, status))
        return events


def _ledger_spend(ledger: Ledger, project: str, since: float) -> float:
    return ledger.totals(project=project, since=since).cost_allocated


def refuse_if_hard_spent(statuses: Iterable[BudgetStatus], project: str) -> None:
    """:class:`RunStateError` when a hard budget of ``project`` is at or past 100% this period."""
    for status in statuses:
        budget = status.budget
        if not budget.hard or budget.project != project or status.fraction < 1.0:
            continue
        resets = dt.datetime.fromtimestamp(status.period_end, tz=dt.timezone.utc)
        raise RunStateError(
            f"Refused: the hard budget of project {budget.project} is spent: "
            f"{format_money(status.spent, status.currency)} of "
            f"{format_money(budget.amount, status.currency)} this {budget.period} "
            f"({status.fraction:.0%}); it resets on {resets:%Y-%m-%d %H:%M} UTC.",
            hint=f"raise the amount of project {budget.project!r} in c.MlopsConfig.cost_budgets "
            "(or $JUPYTER_MLOPS_COST_BUDGETS), make it not hard, or wait until it resets",
        )
