"""A run's compute cost: measured in its own process from start_run to end_run, logged at the end."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlops.core.cost import PricingModel, ProcessMeter, lifetime_cost
from jupyter_mlops.core.cost.run_cost import RunCost
from jupyter_mlops.core.cost.sources import ProcessTreeSource
from jupyter_mlops.core.tags import COST_PRICING
from jupyter_mlops.core.tracking.tracker import Tracker

COST_METRICS = {
    "cost_usd",
    "idle_cost_usd",
    "cpu_core_hours",
    "gpu_hours",
    "gpu_mem_gb_hours",
    "energy_kwh",
}


def burn(seconds: float) -> float:
    """Use ``seconds`` of CPU in this thread; the CPU time it took."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return time.process_time() - start


def cpu_only() -> PricingModel:
    return PricingModel.per_resource(
        rates={"cpu_core_hour": 0.9, "ram_gb_hour": 0.0, "cpu_watts_per_core": 0.0}
    )


def test_run_ends_with_its_cost(mlflow_store: Any, make_tracker: Callable[..., Tracker]) -> None:
    tracker = make_tracker()
    tracker.record_cost = True
    started = time.perf_counter()
    info = tracker.start_run(experiment="cost")
    assert time.perf_counter() - started < 5  # the meter starts on its own thread
    burn(0.5)
    tracker.end_run()
    run = mlflow_store.client.get_run(info.run_id)
    metrics, tags = run.data.metrics, run.data.tags
    assert set(metrics) >= COST_METRICS
    assert metrics["cpu_core_hours"] * 3600 >= 0.4
    assert metrics["cost_usd"] > 0
    assert metrics["idle_cost_usd"] >= 0
    assert tags[COST_PRICING].endswith(":per-resource:USD")
    assert tags["mlops.cost.currency"] == "USD"
    assert "system/cpu_percent" in metrics  # the first point of the series
    assert tags["mlops.advice.instance"]  # the run's peaks fit a small catalogued instance
    assert float(tags["mlops.advice.saving_per_hour"]) >= 0


def test_record_cost_off_logs_nothing(
    mlflow_store: Any, make_tracker: Callable[..., Tracker]
) -> None:
    tracker = make_tracker()
    assert tracker.record_cost is False  # tests/python/conftest.py: off unless asked for
    info = tracker.start_run(experiment="no-cost")
    tracker.end_run()
    assert mlflow_store.client.get_run(info.run_id).data.metrics == {}


def test_series_points_are_spaced() -> None:
    points: list[dict[str, float]] = []
    run_cost = RunCost(points.append, cpu_only, interval=0.05)
    run_cost.series_interval = 3600.0
    time.sleep(0.3)
    result = run_cost.finish()
    assert result is not None
    metrics, tags = result
    assert len(points) == 1
    assert {"system/cpu_percent", "system/rss_gb", "system/cost_per_hour"} <= set(points[0])
    assert tags[COST_PRICING].endswith(":per-resource+custom:USD")  # rates overridden
    assert metrics["cost_usd"] >= 0


def test_meter_prices_the_cpu_it_saw() -> None:
    meter = ProcessMeter(cpu_only(), sources=[ProcessTreeSource()])
    meter.start(thread=False)
    used = burn(0.3)
    totals = meter.stop()
    assert totals.cpu_core_seconds == pytest.approx(used, rel=0.3)
    assert totals.cost_allocated == pytest.approx(0.9 * totals.cpu_core_seconds / 3600)
    assert totals.peak_rss_bytes > 10 << 20
    assert meter.stop() == totals  # idempotent


def test_lifetime_cost_prices_all_the_cpu_so_far() -> None:
    burn(0.1)
    usage, cost = lifetime_cost(cpu_only())
    assert usage.cpu_core_seconds >= 0.1
    assert usage.wall_seconds > 0
    assert cost.allocated == pytest.approx(0.9 * usage.cpu_core_seconds / 3600)
