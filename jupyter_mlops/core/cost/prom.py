"""Prometheus metrics of compute cost: in-memory ledger totals and a custom collector.

::

    counters = CostCounters()
    engine.accountant.quiet(lambda: counters.load(engine.ledger))   # once, off the event loop
    engine.accountant.flushed.append(counters.add)                    # then advanced per flush
    collector = CostCollector(counters, carbon, status=engine.status)
    text = render(collector)     # bytes in the Prometheus text format

A scrape only renders: :class:`CostCounters` holds the ledger's all-time totals per
(project, user, notebook), loaded once from the coarsest rollup table (a few
hundred rows for a week of 20 kernels, not a GROUP BY over every minute) and then
advanced by each batch the accountant writes. So the counters equal
``jupyter mlops cost report --since 1970-01-01`` summed the same way, up to the
last flush (every 10 s, ``CostSettings.flush_interval``). Counters never go down: a reload
after a retention purge keeps the larger figure.

Metric names and labels are listed in :data:`COUNTERS` and docs/metrics.md.
prometheus_client is allowed here: it is a library, not a server framework.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client.registry import Collector

from jupyter_mlops.core.cost.ledger_groups import NONE
from jupyter_mlops.core.cost.pricing import J_PER_KWH
from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.core.cost.totals import MEASURES, Totals

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from jupyter_mlops.core.cost.carbon import CarbonIntensity
    from jupyter_mlops.core.cost.ledger import Ledger, LedgerKey

__all__ = ["COUNTERS", "GROUP_LABELS", "CostCollector", "CostCounters", "render"]

PREFIX = "jupyter_mlops"
#: the labels of the cost counters, in key order
GROUP_LABELS = ("project", "user", "notebook")
_INDEX = tuple(LABELS.index(n) for n in GROUP_LABELS)
#: counter name (``_total`` is added) -> (help, value of a group's totals, has a currency label)
COUNTERS: dict[str, tuple[str, Callable[[Totals, float], float], bool]] = {
    "cost": ("Allocated compute cost (what holding the resources cost).", lambda t, g: t.cost_allocated, True),
    "used_cost": ("Cost of the resources actually used.", lambda t, g: t.cost_used, True),
    "cpu_core_seconds": ("CPU time used, core-seconds.", lambda t, g: t.cpu_core_seconds, False),
    "gpu_seconds": ("GPU time held (x MIG fraction), seconds.", lambda t, g: t.gpu_seconds, False),
    "energy_kwh": ("Energy: measured GPU share + estimated CPU, kWh.", lambda t, g: t.energy_j / J_PER_KWH, False),
    "co2e_grams": ("gCO2e: energy x the grid's carbon intensity.", lambda t, g: t.energy_j / J_PER_KWH * g, False),
}  # fmt: skip
_KERNEL = ("kernel_id", "notebook", "project", "user")
#: MLflow's run statuses: each is a series of ``jupyter_mlops_runs`` (0 when none)
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

GroupKey = tuple[str, str, str]


class CostCounters:
    """All-time ledger totals per (project, user, notebook), in memory. Thread-safe.

    ``loaded`` is False until :meth:`load` ran: the collector then leaves the
    counters out rather than report a zero that would jump.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[GroupKey, Totals] = {}
        self.currency = "USD"
        self.loaded = False

    def load(self, ledger: Ledger) -> None:
        """Read the ledger's totals (blocking; under ``accountant.quiet`` so no flush is missed).

        A group already held keeps, per measure, the larger of the two figures.
        """
        fresh = ledger_totals(ledger)
        seen = ledger.currencies()
        currency = seen.pop() if len(seen) == 1 else ("mixed" if seen else "")
        with self._lock:
            for key, totals in fresh.items():
                have = self._totals.get(key)
                if have is not None:
                    for name in MEASURES:
                        setattr(totals, name, max(getattr(totals, name), getattr(have, name)))
                self._totals[key] = totals
            if currency:
                self.currency = currency
            self.loaded = True

    def add(self, rows: Mapping[LedgerKey, Totals]) -> None:
        """Add a batch the accountant wrote (an ``accountant.flushed`` listener)."""
        with self._lock:
            for (_minute, labels), totals in rows.items():
                key = _group_key(labels)
                self._totals.setdefault(key, Totals()).merge(totals)

    def snapshot(self) -> dict[GroupKey, Totals]:
        with self._lock:
            return {k: v.copy() for k, v in self._totals.items()}


def _group_key(labels: Sequence[str]) -> GroupKey:
    project, user, notebook = (labels[i] or NONE for i in _INDEX)
    return project, user, notebook


def ledger_totals(ledger: Ledger) -> dict[GroupKey, Totals]:
    """Totals per (project, user, notebook) over the whole ledger, from its coarsest rollup."""
    import sqlalchemy as sa

    _size, table = ledger.schema.rollups[-1]
    labels = [table.c[n] for n in GROUP_LABELS]
    stmt = sa.select(
        *labels, *(sa.func.coalesce(sa.func.sum(table.c[n]), 0.0).label(n) for n in MEASURES)
    ).group_by(*labels)
    out: dict[GroupKey, Totals] = {}
    with ledger.engine.connect() as conn:
        for row in conn.execute(stmt):
            data = row._mapping
            project, user, notebook = (str(data[n] or "") or NONE for n in GROUP_LABELS)
            totals = out[(project, user, notebook)] = Totals()
            for name in MEASURES:
                setattr(totals, name, float(data[name] or 0.0))
    return out


class CostCollector(Collector):
    """A prometheus_client collector: counters per group, gauges per kernel, budgets, runs.

    Every source is a cheap in-memory read: ``status`` is ``CostEngine.status``
    (the sampler's last snapshot), ``budgets`` and ``runs`` return figures cached
    by whoever refreshes them off the event loop (``None``: not known yet, left out).
    """

    def __init__(
        self,
        counters: CostCounters,
        carbon: CarbonIntensity,
        *,
        status: Callable[[], Mapping[str, Any]] | None = None,
        budgets: Callable[[], Sequence[Mapping[str, Any]] | None] | None = None,
        runs: Callable[[], Mapping[str, int] | None] | None = None,
    ) -> None:
        self.counters = counters
        self.carbon = carbon
        self.status = status
        self.budgets = budgets
        self.runs = runs

    def describe(self) -> list[Metric]:
        return []  # registering must not collect

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        yield from self._counters()
        info = GaugeMetricFamily(
            f"{PREFIX}_carbon_intensity_grams_per_kwh",
            "Grid carbon intensity the gCO2e figures use.",
            labels=["region", "source"],
        )
        info.add_metric([self.carbon.region or "world", self.carbon.source], self.carbon.g_per_kwh)
        yield info
        if self.status is not None:
            yield from self._kernels(self.status())
        budgets = self.budgets() if self.budgets is not None else None
        if budgets is not None:
            yield from _budgets(budgets)
        runs = self.runs() if self.runs is not None else None
        if runs is not None:
            family = GaugeMetricFamily(
                f"{PREFIX}_runs", "Runs in the tracking store by status.", labels=["status"]
            )
            for status, count in sorted({**dict.fromkeys(RUN_STATUSES, 0), **runs}.items()):
                family.add_metric([status], count)
            yield family

    def _counters(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily

        if not self.counters.loaded:
            return
        groups = sorted(self.counters.snapshot().items())
        currency = self.counters.currency
        g = self.carbon.g_per_kwh
        for name, (text, value, money) in COUNTERS.items():
            labels = [*GROUP_LABELS, "currency"] if money else list(GROUP_LABELS)
            family = CounterMetricFamily(f"{PREFIX}_{name}", text, labels=labels)
            for key, totals in groups:
                family.add_metric([*key, currency] if money else list(key), value(totals, g))
            yield family

    def _kernels(self, status: Mapping[str, Any]) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        currency = str(status.get("currency", ""))
        now = status.get("time") or 0.0
        idle: dict[str, float] = {}
        for alert in status.get("alerts", ()):
            tid = str(alert.get("target_id", ""))
            idle[tid] = max(idle.get(tid, 0.0), max(0.0, now - float(alert.get("since", now))))
        names = {
            "cost_per_hour": ("Live allocated cost per hour of the kernel.", True),
            "cost": ("Allocated cost of the kernel so far.", True),
            "co2e_grams": ("gCO2e of the kernel so far.", False),
            "cpu_percent": ("CPU use, percent of one core.", False),
            "memory_bytes": ("Resident memory of the kernel's process tree.", False),
            "gpu_memory_bytes": ("GPU memory the kernel holds.", False),
            "idle": ("1 while the kernel holds a GPU idle (an idle-GPU alert), else 0.", False),
            "idle_seconds": ("Seconds the kernel has held a GPU idle (0 when not idle).", False),
        }
        families = {
            n: GaugeMetricFamily(
                f"{PREFIX}_kernel_{n}", text, labels=[*_KERNEL, "currency"] if money else [*_KERNEL]
            )
            for n, (text, money) in names.items()
        }
        for tid, target in sorted(status.get("targets", {}).items()):
            labels = [str(target.get(n, "")) for n in _KERNEL]
            cost = target.get("cost") or {}
            energy = float((cost.get("so_far") or {}).get("energy_j", 0.0)) / J_PER_KWH
            values = {
                "cost_per_hour": cost.get("rate_per_hour"),
                "cost": cost.get("cost_so_far"),
                "co2e_grams": self.carbon.grams(energy) if cost else None,
                "cpu_percent": target.get("cpu_percent"),
                "memory_bytes": target.get("rss_bytes"),
                "gpu_memory_bytes": sum(g.get("mem_bytes", 0) for g in target.get("gpus", ())),
                "idle": 1.0 if tid in idle else 0.0,
                "idle_seconds": idle.get(tid, 0.0),
            }
            for name, value in values.items():
                if value is None:
                    continue
                money = names[name][1]
                families[name].add_metric([*labels, currency] if money else labels, float(value))
        yield from families.values()


def _budgets(budgets: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    from prometheus_client.core import GaugeMetricFamily

    labels = ["project", "period", "currency"]
    ratio = GaugeMetricFamily(
        f"{PREFIX}_budget_usage_ratio",
        "Spend this period / the budget (1 = the budget is used up).",
        labels=labels,
    )
    spent = GaugeMetricFamily(f"{PREFIX}_budget_spent", "Spend this period.", labels=labels)
    amount = GaugeMetricFamily(f"{PREFIX}_budget_amount", "The budget per period.", labels=labels)
    for b in budgets:
        key = [str(b.get("project", "")), str(b.get("period", "")), str(b.get("currency", ""))]
        ratio.add_metric(key, float(b.get("fraction", 0.0)))
        spent.add_metric(key, float(b.get("spent", 0.0)))
        amount.add_metric(key, float(b.get("amount", 0.0)))
    yield from (ratio, spent, amount)


def render(collector: CostCollector) -> bytes:
    """The collector's metrics in the Prometheus text format, from a private registry."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
