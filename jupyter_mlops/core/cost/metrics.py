"""What a tracked run gets: cost metrics at its end, ``system/...`` series while it runs, tags.

::

    tracker.log_metrics(system_metrics(sample, cost_per_hour=live.rate.allocated))
    tracker.log_metrics(run_cost_metrics(accountant.totals(run_id=rid), pricing.currency))
    tracker.set_tags(pricing_tags(pricing))

End-of-run metrics (currency ``USD`` gives the names of the issue; another
currency ``c`` gives ``cost_<c>`` / ``idle_cost_<c>``, lower case):

========================  =============================================================
``cost_usd``              allocated cost of the run (what holding the resources cost)
``idle_cost_usd``         allocated minus used cost (GPU held idle, reserved cores unused)
``cpu_core_hours``        CPU time used
``gpu_hours``             GPU time held (x MIG fraction)
``gpu_mem_gb_hours``      GPU memory held, GiB-hours
``energy_kwh``            measured GPU energy share + estimated CPU energy
``co2e_g``                ``energy_kwh`` x the grid's gCO2e/kWh (:mod:`.carbon`)
========================  =============================================================

The intensity is the one given, else the kernel's (``$JUPYTER_MLOPS_CARBON_REGION``
from the server, else the world average); :func:`pricing_tags` records it
(``mlops.cost.carbon_intensity`` in g/kWh, ``mlops.cost.carbon_source``).

Series (``system/`` prefix, so MLflow shows them with its system metrics):
``system/cpu_percent``, ``system/rss_gb``, ``system/gpu_util_percent``,
``system/gpu_mem_gb``, ``system/gpu_power_watts`` (GPU keys only while a GPU is held),
``system/cost_per_hour`` and ``system/cost_so_far``.
"""

from __future__ import annotations

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.cost.carbon import CarbonIntensity, intensity_from_env
from jupyter_mlops.core.cost.catalogue import GIB
from jupyter_mlops.core.cost.pricing import HOUR, J_PER_KWH, PricingModel
from jupyter_mlops.core.cost.records import TargetSample
from jupyter_mlops.core.cost.totals import Totals

__all__ = ["pricing_tags", "run_cost_metrics", "system_metrics"]


def run_cost_metrics(
    totals: Totals, currency: str = "USD", carbon: CarbonIntensity | None = None
) -> dict[str, float]:
    """The end-of-run cost metrics of ``totals`` (a run's ledger totals), gCO2e at ``carbon``."""
    c = currency.lower()
    carbon = carbon or intensity_from_env()
    return {
        f"cost_{c}": totals.cost_allocated,
        f"idle_cost_{c}": totals.cost_waste,
        "cpu_core_hours": totals.cpu_core_seconds / HOUR,
        "gpu_hours": totals.gpu_seconds / HOUR,
        "gpu_mem_gb_hours": totals.gpu_mem_gb_seconds / HOUR,
        "energy_kwh": totals.energy_j / J_PER_KWH,
        "co2e_g": carbon.grams(totals.energy_j / J_PER_KWH),
    }


def system_metrics(
    sample: TargetSample,
    *,
    cost_per_hour: float | None = None,
    cost_so_far: float | None = None,
) -> dict[str, float]:
    """One point of the run's utilisation and cost series: a sample, the live $/h and the run's cost so far.

    ``cost_per_hour`` is ``LiveCost.rate.allocated``; ``cost_so_far`` the run's
    allocated cost (``accountant.totals(run_id=...)``, or a running sum kept by the caller).
    """
    out = {
        "system/cpu_percent": sample.cpu_percent,
        "system/rss_gb": sample.rss_bytes / GIB,
    }
    if sample.gpus:
        utils = [g.util_pct for g in sample.gpus if g.util_pct is not None]
        if utils:
            out["system/gpu_util_percent"] = sum(utils) / len(utils)
        out["system/gpu_mem_gb"] = sample.gpu_mem_bytes / GIB
        powers = [g.power_w for g in sample.gpus if g.power_w is not None]
        if powers:
            out["system/gpu_power_watts"] = sum(powers)
    if cost_per_hour is not None:
        out["system/cost_per_hour"] = cost_per_hour
    if cost_so_far is not None:
        out["system/cost_so_far"] = cost_so_far
    return out


def pricing_tags(pricing: PricingModel, carbon: CarbonIntensity | None = None) -> dict[str, str]:
    """Tags naming the pricing a run's cost was computed with, and its carbon intensity."""
    carbon = carbon or intensity_from_env()
    tags = {
        mlops_tags.COST_PRICING: pricing.pricing_id(),
        mlops_tags.COST_CURRENCY: pricing.currency,
        mlops_tags.COST_MODE: pricing.mode,
        mlops_tags.COST_CATALOGUE_AS_OF: pricing.catalogue.as_of or "unknown",
        mlops_tags.COST_CARBON_INTENSITY: f"{carbon.g_per_kwh:g}",
        mlops_tags.COST_CARBON_SOURCE: carbon.label(),
    }
    if pricing.instance is not None:
        tags[mlops_tags.COST_INSTANCE] = pricing.instance.key
    return tags
