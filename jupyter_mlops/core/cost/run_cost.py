"""A tracked run's compute cost: measured from ``start_run`` to ``end_run`` in the run's process.

The :class:`~jupyter_mlops.core.tracking.tracker.Tracker` makes one :class:`RunCost`
per run. It builds the pricing and a
:class:`~jupyter_mlops.core.cost.meter.ProcessMeter` on a background thread
(``start_run`` stays fast: psutil, NVML and the price catalogue load there),
logs the ``system/...`` series every :attr:`RunCost.series_interval` seconds
while the run is active, and at the end returns the run's cost metrics
(``cost_usd``, ``cpu_core_hours``, ``gpu_hours``, ``gpu_mem_gb_hours``,
``energy_kwh``, ``idle_cost_usd``), the tags naming the pricing, and the
right-sizing advice from the run's peaks (``mlops.advice.instance``,
``mlops.advice.saving_per_hour`` in the pricing's currency per hour).

When no Jupyter server or pipeline executor books this process tree
(:func:`~jupyter_mlops.core.cost.booking.booked_elsewhere`: plain IPython, a
papermill job, a script), the run books its own cost in the cost ledger under
the run's project, id, notebook, user and tags (:class:`RunCostBooking`), so that
``jupyter mlops cost report`` sees batch work too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_mlops.core import tags as mlops_tags

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.accounting import LiveCost
    from jupyter_mlops.core.cost.booking import RunBooking
    from jupyter_mlops.core.cost.meter import ProcessMeter
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.cost.records import TargetSample
    from jupyter_mlops.core.cost.totals import Totals

__all__ = ["RunCost", "RunCostBooking", "advice_tags", "default_pricing"]

_log = logging.getLogger("jupyter_mlops.cost")

PricingFactory = Callable[[], "PricingModel"]


def default_pricing() -> PricingModel:
    """The built-in catalogue's per-resource pricing, or ``$JUPYTER_MLOPS_COST_CATALOGUE``'s."""
    from jupyter_mlops.core.cost.engine import CostSettings, build_pricing

    catalogue = os.environ.get("JUPYTER_MLOPS_COST_CATALOGUE", "")
    return build_pricing(CostSettings(ledger_url="memory", catalogue_file=catalogue))


@dataclass(frozen=True)
class RunCostBooking:
    """Where and under which labels a run books its own cost (see the module doc).

    ``tags()``: the run's tags as known now. ``ledger_url``: ``""`` for the default
    ledger beside the run's store (:func:`~.ledger.default_ledger_url`), ``"memory"``
    for none.
    """

    run_id: str
    tags: Callable[[], Mapping[str, str]]
    ledger_url: str = ""
    tracking_uri: str = ""

    def open(self, currency: str) -> RunBooking | None:
        """The booking, or ``None`` when another process books this tree or there is no ledger."""
        from jupyter_mlops.core.cost.booking import open_booking

        return open_booking(
            self.run_id,
            self.tags,
            ledger_url=self.ledger_url,
            tracking_uri=self.tracking_uri or None,
            currency=currency,
            default_project=os.environ.get("JUPYTER_MLOPS_PROJECT", ""),
        )


class RunCost:
    """The cost meter of one run; ``log(metrics)`` receives the ``system/...`` series."""

    series_interval = 10.0
    """Seconds between two points of the ``system/...`` series."""

    def __init__(
        self,
        log: Callable[[dict[str, float]], None],
        pricing: PricingFactory | None = None,
        *,
        interval: float = 1.0,
        booking: RunCostBooking | None = None,
    ) -> None:
        self._log_series = log
        self._pricing = pricing or default_pricing
        self._interval = interval
        self._booking_spec = booking
        self._booking: RunBooking | None = None
        self._meter: ProcessMeter | None = None
        self._last_point: float | None = None
        self._since = time.time()  # the meter starts later, on its thread: book the gap too
        times = os.times()
        self._cpu_at_since = times.user + times.system + times.children_user + times.children_system
        self._thread = threading.Thread(
            target=self._begin, name="jupyter-mlops-run-cost", daemon=True
        )
        self._thread.start()

    def _begin(self) -> None:
        try:
            from jupyter_mlops.core.cost.meter import ProcessMeter

            meter = ProcessMeter(self._pricing(), interval=self._interval)
            meter.listeners.append(self._series)
            meter.start(since=self._since, cpu_at_since=self._cpu_at_since)
            self._meter = meter
        except Exception as exc:  # cost is a bonus: never fail a run over it
            _log.warning("jupyter-mlops: the run's compute cost is not measured: %s", exc)
            return
        if self._booking_spec is None:
            return
        try:
            self._booking = self._booking_spec.open(meter.pricing.currency)
        except Exception as exc:
            _log.warning("jupyter-mlops: the run's cost is not booked in the ledger: %s", exc)
        if self._booking is not None:
            meter.listeners.append(self._book)

    def _book(self, sample: TargetSample, live: LiveCost) -> None:
        booking = self._booking
        if booking is not None:
            booking.update(live.session, sample.time)

    def _series(self, sample: TargetSample, live: LiveCost) -> None:
        if self._last_point is not None and sample.time - self._last_point < self.series_interval:
            return
        self._last_point = sample.time
        from jupyter_mlops.core.cost.metrics import system_metrics

        points = system_metrics(
            sample, cost_per_hour=live.rate.allocated, cost_so_far=live.session.cost_allocated
        )
        self._log_series(points)

    def finish(self, timeout: float = 10.0) -> tuple[dict[str, float], dict[str, str]] | None:
        """Stop measuring; the run's cost metrics and pricing tags (``None`` if not measured)."""
        self._thread.join(timeout)
        meter = self._meter
        if meter is None:
            return None
        from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics

        totals = meter.stop()
        booking, self._booking = self._booking, None
        if booking is not None:
            booking.close(totals)
        tags = pricing_tags(meter.pricing)
        tags.update(advice_tags(meter, totals))
        return run_cost_metrics(totals, meter.pricing.currency), tags


def advice_tags(meter: ProcessMeter, totals: Totals) -> dict[str, str]:
    """``mlops.advice.instance`` / ``mlops.advice.saving_per_hour`` from the run's peaks.

    The cheapest catalogued instance that fits the run's peaks (with 20% headroom) and
    what it would save per hour against the current pricing; empty when none fits or
    when the advice fails (cost is a bonus: never fail a run over it).
    """
    try:
        from jupyter_mlops.core.cost.advice import Machine, Peaks, right_size

        machine = Machine.detect(meter.sampler.latest())
        advice = right_size(Peaks.from_totals(totals), meter.pricing, machine)
    except Exception as exc:
        _log.debug("jupyter-mlops: no right-sizing advice for the run: %s", exc)
        return {}
    if advice.instance is None:
        return {}
    return {
        mlops_tags.ADVICE_INSTANCE: advice.instance.name,
        mlops_tags.ADVICE_SAVING_PER_HOUR: f"{advice.instance.saving_per_hour:.4f}",
    }
