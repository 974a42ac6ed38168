"""Right-sizing advice, and the engine that wires sampler, accountant, ledger and alerts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cost_helpers import FakeClock
from fake_pynvml import GIB, FakeNvml

from jupyter_mlops.core.cost import (
    CostEngine,
    CostSettings,
    Machine,
    NvmlSource,
    Peaks,
    PricingModel,
    ProcessTreeSource,
    Target,
    Totals,
    build_pricing,
    right_size,
)
from jupyter_mlops.exceptions import ConfigError

H100_BOX = Machine(
    cpu_cores=16, memory_bytes=128 * GIB, gpus=(("NVIDIA H100 80GB HBM3", 80 * GIB),)
)


def test_a_small_gpu_job_on_an_h100_is_told_the_cheaper_fit() -> None:
    pricing = PricingModel.per_resource()
    peaks = Peaks(cpu_cores=2.5, rss_bytes=10 * GIB, gpu_mem_bytes=14 * GIB, gpus=1)
    advice = right_size(peaks, pricing, H100_BOX)
    assert advice.gpu is not None
    assert advice.gpu.name == "L4-24GB"  # cheapest with >= 14 x 1.2 GiB
    assert advice.gpu.current_hourly == pytest.approx(5.0)
    assert advice.gpu.saving_per_hour == pytest.approx(5.0 - 0.56)
    assert advice.instance is not None
    assert advice.instance.name == "gcp/g2-standard-4"  # 4 cores, 16 GiB, one L4: cheapest fit
    expected_now = 16 * pricing.cpu_core_hour + 128 * pricing.ram_gb_hour + 5.0
    assert advice.current_hourly == pytest.approx(expected_now)
    lines = advice.lines()
    assert lines[0].startswith("peak use: 2.5 cores, 10.0 GiB RAM, 14.0 GiB GPU memory")
    assert any(
        line.startswith("GPU: L4-24GB would do") and "saving $4.44/h" in line for line in lines
    )
    assert advice.to_dict()["instance"]["name"] == "gcp/g2-standard-4"


def test_no_gpu_used_on_a_gpu_machine() -> None:
    advice = right_size(
        Peaks(cpu_cores=1, rss_bytes=2 * GIB), PricingModel.per_resource(), H100_BOX
    )
    assert advice.gpu is not None
    assert advice.gpu.name == "no GPU"
    assert advice.gpu.saving_per_hour == pytest.approx(5.0)
    assert advice.instance is not None
    assert advice.instance.hourly < 0.5


def test_nothing_fits_and_peaks_from_totals() -> None:
    peaks = Peaks.from_totals(
        Totals(
            wall_seconds=100,
            gpu_seconds=200,
            peak_cpu_percent=350,
            peak_rss_bytes=3 * GIB,
            peak_gpu_mem_bytes=400 * GIB,
        )
    )
    assert peaks == Peaks(
        cpu_cores=3.5, rss_bytes=3 * GIB, gpu_mem_bytes=400 * GIB, gpus=2, cpu_average=0.0
    )
    advice = right_size(peaks, PricingModel.per_resource(), H100_BOX)
    assert advice.gpu is None
    assert advice.instance is None
    assert any("no catalogued GPU" in line for line in advice.lines())
    assert any("no catalogued instance" in line for line in advice.lines())


def test_instance_pricing_compares_with_the_instance_price() -> None:
    pricing = PricingModel.for_instance("aws/p5.48xlarge")
    advice = right_size(
        Peaks(cpu_cores=1, rss_bytes=GIB, gpu_mem_bytes=10 * GIB, gpus=1), pricing, H100_BOX
    )
    assert advice.current_hourly == pytest.approx(55.04)
    assert advice.instance is not None
    assert advice.instance.saving_per_hour > 50


def test_machine_detect() -> None:
    machine = Machine.detect()
    assert machine.cpu_cores >= 1
    assert machine.memory_bytes > GIB
    assert machine.gpus == ()


def test_build_pricing_from_settings(tmp_path: Path) -> None:
    assert build_pricing(CostSettings()).pricing_id() == "catalogue-2026-11:per-resource:USD"
    inst = build_pricing(CostSettings(pricing_mode="instance", instance="aws/g5.xlarge"))
    assert inst.instance is not None
    assert inst.instance.hourly == pytest.approx(1.006)
    mine = build_pricing(CostSettings(pricing_mode="instance", instance_hourly=3.0))
    assert mine.instance is not None
    assert mine.instance.key == "this-machine"
    eur = build_pricing(CostSettings(currency="EUR", currency_factor=0.9))
    assert eur.currency == "EUR"
    with pytest.raises(ConfigError):
        build_pricing(CostSettings(pricing_mode="instance"))
    with pytest.raises(ConfigError):
        build_pricing(CostSettings(pricing_mode="spot"))


def test_engine_end_to_end(
    tmp_path: Path, sleeper: Callable[[], subprocess.Popen[bytes]], clock: FakeClock
) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", util=0)
    proc = sleeper()
    gpu.held_by(proc.pid, 20 * GIB, 0)
    settings = CostSettings(
        ledger_url=f"sqlite:///{tmp_path / 'cost.db'}",
        idle_minutes=2,
        flush_interval=0,
        budgets=[{"project": "p", "amount": 0.1, "period": "day"}],
        budget_check_interval=0,
    )
    engine = CostEngine(
        settings, sources=[ProcessTreeSource(), NvmlSource(nvml, clock=clock)], clock=clock
    )
    engine.track("k1", Target(proc.pid, kernel_id="k1", notebook="nb.ipynb", project="p"))
    engine.track("self", Target(os.getpid(), kernel_id="self", project="q"))
    engine.sampler.tick()
    engine.relabel("k1", run_id="run-1")
    for _ in range(3):
        clock.advance(60)
        engine.sampler.tick()

    status = engine.status()
    assert status["gpu_available"]
    assert status["currency"] == "USD"
    k1 = status["targets"]["k1"]
    assert k1["run_id"] == "run-1"
    assert k1["gpus"][0]["mem_bytes"] == 20 * GIB
    assert k1["cost"]["rate_per_hour"] == pytest.approx(5.0, rel=0.01)  # an H100 held
    (alert,) = status["alerts"]
    assert alert["message"].startswith("idle GPU: $0.25 burned since ")
    last, events = engine.events_since(0)
    kinds = [(e["kind"], e["state"]) for e in events]
    assert ("idle-gpu", "fired") in kinds
    assert ("budget", "fired") in kinds  # 0.25 spent of 0.10: 80% and 100%
    assert engine.events_since(last) == (last, [])
    assert [b["project"] for b in engine.budget_status()] == ["p"]

    metrics, tags = engine.run_end_metrics("run-1")
    assert metrics["gpu_hours"] == pytest.approx(3 / 60)
    assert metrics["cost_usd"] == pytest.approx(5.0 * 3 / 60, rel=0.01)
    assert metrics["idle_cost_usd"] == pytest.approx(metrics["cost_usd"], rel=0.01)
    assert tags["mlops.cost.pricing"] == "catalogue-2026-11:per-resource:USD"

    advice = engine.advice("k1")  # 20 GiB on the H100: a smaller GPU fits
    assert advice is not None
    assert advice["target_id"] == "k1"
    assert advice["peaks"]["gpus"] == 1
    assert advice["peaks"]["gpu_mem_bytes"] == 20 * GIB
    assert advice["machine"]["gpus"] == [
        {"model": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * GIB}
    ]
    assert advice["gpu"]["saving_per_hour"] > 0
    assert engine.advice("nobody") is None
    engine.stop()


def test_advice_sentence() -> None:
    from jupyter_mlops.core.cost.advice import Advice, Suggestion

    advice = Advice(
        peaks=Peaks(cpu_cores=1.0, rss_bytes=int(1.2 * GIB)),
        machine=Machine(cpu_cores=2, memory_bytes=23 * GIB),
        currency="USD",
        current_hourly=0.5,
        headroom=1.2,
        instance=Suggestion("instance", "small", 0.1, 0.5, "2 cores, 4 GiB"),
    )
    assert advice.sentence() == (
        "peak RAM 1.2 GiB of 23 GiB, CPU peak 1.0 cores of 2, no GPU used → cheapest "
        "fitting: small at $0.10/h, saving $0.40/h vs current pricing"
    )
    gpu = Advice(
        peaks=Peaks(cpu_cores=0.5, rss_bytes=GIB, gpu_mem_bytes=8 * GIB, gpus=1),
        machine=Machine(cpu_cores=8, memory_bytes=64 * GIB, gpus=(("H100", 80 * GIB),)),
        currency="USD",
        current_hourly=4.0,
        headroom=1.2,
        gpu=Suggestion("GPU", "l4", 0.8, 3.0),
    )
    assert gpu.sentence(cpu="CPU average") == (
        "peak RAM 1.0 GiB of 64 GiB, CPU average 0.5 cores of 8, GPU memory peak 8.0 GiB "
        "of 80 GiB on 1 GPU(s) → no catalogued instance fits; GPU: l4 would save $2.20/h"
    )
