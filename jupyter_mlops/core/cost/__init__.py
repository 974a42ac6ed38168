"""Live compute cost: per-kernel CPU, RAM and GPU use, priced, booked, alerted on, reported.

::

    from jupyter_mlops.core.cost import CostEngine, CostSettings, Target

    engine = CostEngine(CostSettings(interval=1.0))      # sampler, pricing, ledger, alerts
    engine.track("k1", Target(pid, kernel_id="k1", notebook="a.ipynb", project="p"))
    engine.start()
    engine.status()                                      # cheap: what the last tick saw, priced

    from jupyter_mlops.core.cost import Ledger, build_report, render_report
    print(render_report(build_report(Ledger(), by="project", since="7d"), "table"))

Modules, one subject each:

==============  ==================================================================
``records``     the data flowing through (``Target``, ``Snapshot``, ``TargetSample``, ...)
``sources``     the :class:`ResourceSource` seam; :class:`ProcessTreeSource` (psutil)
``limits``      :func:`usable_cores`, :func:`usable_memory`: affinity and cgroup limits
``nvml``        :class:`NvmlSource` (``pynvml`` from nvidia-ml-py; quietly absent)
``sampler``     :class:`Sampler`: one thread, every target's tree and all GPUs per tick
``merge``       :func:`merge_readings`: one tick's readings -> a ``Snapshot``, GPU use per target
``catalogue``   ``catalogue.yaml``: dated rates, GPU and instance prices; overrides
``pricing``     :class:`PricingModel`: use -> allocated / used money (formulas inside)
``totals``      :class:`Totals`: summed use and money with peaks
``ledger``      :class:`Ledger`: per-minute rows and rollups in SQLite or any SQLAlchemy database
                (``ledger_schema`` tables and default URL, ``ledger_read`` queries,
                ``ledger_groups`` groupings: labels, ``tag:KEY``, day, week)
``history``     :func:`history`: cost over time per notebook / project / user / tag (the chart)
``money``       :func:`format_money`: the one money format (``$0.42``, ``$0.0031``, ``<$0.0001``)
``booking``     who books which process tree; :class:`RunBooking`: a run books its own tree
``accounting``  :class:`CostAccountant`: prices ticks, live $/h and $ so far, books the ledger
``alerts``      :class:`IdleGpuDetector`: "idle GPU: $X burned since 14:02"
``budgets``     :class:`Budget`, :class:`BudgetMonitor`: 80% / 100% once per period
``advice``      :func:`right_size`: cheapest catalogued GPU / instance that fits the peaks
``report``      :func:`build_report`, :func:`render_report`: table / csv / json
``metrics``     :func:`run_cost_metrics`, :func:`system_metrics`, :func:`pricing_tags`
``engine``      :class:`CostEngine`: all of it wired from :class:`CostSettings`
``meter``       :class:`ProcessMeter`: this process tree from start to stop (a cell, a run)
==============  ==================================================================

Importing this package is cheap: names resolve to their module on first use
(psutil and SQLAlchemy load only with the modules that need them). Nothing
here imports tornado, jupyter_server, IPython, ipywidgets or MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.lazy import lazy_attribute, lazy_dir

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.accounting import CostAccountant, LiveCost
    from jupyter_mlops.core.cost.advice import Advice, Machine, Peaks, Suggestion, right_size
    from jupyter_mlops.core.cost.alerts import AlertEvent, IdleGpuAlert, IdleGpuDetector
    from jupyter_mlops.core.cost.budgets import (
        Budget,
        BudgetEvent,
        BudgetMonitor,
        BudgetStatus,
        parse_budgets,
    )
    from jupyter_mlops.core.cost.catalogue import Catalogue, GpuOffer, InstanceOffer, Rates
    from jupyter_mlops.core.cost.engine import CostEngine, CostSettings, build_pricing
    from jupyter_mlops.core.cost.history import history
    from jupyter_mlops.core.cost.ledger import Ledger, default_ledger_url
    from jupyter_mlops.core.cost.meter import ProcessMeter, lifetime_cost
    from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics, system_metrics
    from jupyter_mlops.core.cost.money import format_money
    from jupyter_mlops.core.cost.nvml import NvmlSource
    from jupyter_mlops.core.cost.pricing import Cost, PricingModel, Usage, machine_instance
    from jupyter_mlops.core.cost.records import (
        GpuDevice,
        GpuProcess,
        ProcessUse,
        Reading,
        Snapshot,
        Target,
        TargetGpu,
        TargetSample,
    )
    from jupyter_mlops.core.cost.report import (
        Report,
        ReportRow,
        build_report,
        parse_time,
        render_report,
    )
    from jupyter_mlops.core.cost.sampler import Sampler, sample_once
    from jupyter_mlops.core.cost.sources import ProcessTreeSource, ResourceSource
    from jupyter_mlops.core.cost.totals import Totals

_HOME = {
    "CostAccountant": "accounting",
    "LiveCost": "accounting",
    "Advice": "advice",
    "Machine": "advice",
    "Peaks": "advice",
    "Suggestion": "advice",
    "right_size": "advice",
    "AlertEvent": "alerts",
    "IdleGpuAlert": "alerts",
    "IdleGpuDetector": "alerts",
    "format_money": "money",
    "Budget": "budgets",
    "BudgetEvent": "budgets",
    "BudgetMonitor": "budgets",
    "BudgetStatus": "budgets",
    "parse_budgets": "budgets",
    "Catalogue": "catalogue",
    "GpuOffer": "catalogue",
    "InstanceOffer": "catalogue",
    "Rates": "catalogue",
    "CostEngine": "engine",
    "CostSettings": "engine",
    "build_pricing": "engine",
    "history": "history",
    "Ledger": "ledger",
    "default_ledger_url": "ledger",
    "ProcessMeter": "meter",
    "lifetime_cost": "meter",
    "pricing_tags": "metrics",
    "run_cost_metrics": "metrics",
    "system_metrics": "metrics",
    "NvmlSource": "nvml",
    "Cost": "pricing",
    "PricingModel": "pricing",
    "Usage": "pricing",
    "machine_instance": "pricing",
    "GpuDevice": "records",
    "GpuProcess": "records",
    "ProcessUse": "records",
    "Reading": "records",
    "Snapshot": "records",
    "Target": "records",
    "TargetGpu": "records",
    "TargetSample": "records",
    "Report": "report",
    "ReportRow": "report",
    "build_report": "report",
    "parse_time": "report",
    "render_report": "report",
    "Sampler": "sampler",
    "sample_once": "sampler",
    "ProcessTreeSource": "sources",
    "ResourceSource": "sources",
    "Totals": "totals",
}

__all__ = [
    "Advice",
    "AlertEvent",
    "Budget",
    "BudgetEvent",
    "BudgetMonitor",
    "BudgetStatus",
    "Catalogue",
    "Cost",
    "CostAccountant",
    "CostEngine",
    "CostSettings",
    "GpuDevice",
    "GpuOffer",
    "GpuProcess",
    "IdleGpuAlert",
    "IdleGpuDetector",
    "InstanceOffer",
    "Ledger",
    "LiveCost",
    "Machine",
    "NvmlSource",
    "Peaks",
    "PricingModel",
    "ProcessMeter",
    "ProcessTreeSource",
    "ProcessUse",
    "Rates",
    "Reading",
    "Report",
    "ReportRow",
    "ResourceSource",
    "Sampler",
    "Snapshot",
    "Suggestion",
    "Target",
    "TargetGpu",
    "TargetSample",
    "Totals",
    "Usage",
    "build_pricing",
    "build_report",
    "default_ledger_url",
    "format_money",
    "history",
    "lifetime_cost",
    "machine_instance",
    "parse_budgets",
    "parse_time",
    "pricing_tags",
    "render_report",
    "right_size",
    "run_cost_metrics",
    "sample_once",
    "system_metrics",
]


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _HOME, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, __all__)
