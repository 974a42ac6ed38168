"""The Prometheus collector: counters that match ``cost report``, kernel gauges, budgets, runs.

A real engine (process source + the scripted NVML stand-in) books a real SQLite
ledger that already holds two days of history; the counters are loaded once and
advanced by the accountant's flushes, then parsed with prometheus_client's parser.
"""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cost_helpers import FakeClock
from fake_pynvml import GIB, FakeNvml
from prometheus_client.parser import text_string_to_metric_families

from jupyter_mlops.cli.main import main
from jupyter_mlops.core.cost import CostEngine, CostSettings, Ledger, NvmlSource, Target, Totals
from jupyter_mlops.core.cost.carbon import intensity_for
from jupyter_mlops.core.cost.prom import CostCollector, CostCounters, render
from jupyter_mlops.core.cost.report import build_report
from jupyter_mlops.core.cost.sources import ProcessTreeSource

HOUR = 3600.0
KWH = 3.6e6


def parse(text: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Metric name -> [(labels, value)], via prometheus_client's own parser."""
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text.decode("utf-8")):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def summed(samples: list[tuple[dict[str, str], float]], label: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, value in samples:
        out[labels[label]] += value
    return dict(out)


def _history(url: str, now: float) -> None:
    """Two days ago: churn work on two notebooks by ana, vision work by bo."""
    minute = int(now - 2 * 86400) // 60 * 60
    with Ledger(url) as ledger:
        ledger.write(
            {
                (minute, ("old1", "", "a.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60, cpu_core_seconds=120, energy_j=0.5 * KWH, cost_allocated=3.0
                ),
                (minute + 60, ("old2", "r1", "b.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60, gpu_seconds=60, energy_j=1.5 * KWH, cost_allocated=4.0
                ),
                (minute, ("old3", "", "", "vision", "bo")): Totals(
                    wall_seconds=60, cpu_core_seconds=30, cost_allocated=0.25
                ),
            }
        )


@pytest.fixture
def engine(tmp_path: Path, sleeper: Callable[[], subprocess.Popen[bytes]], clock: FakeClock) -> Any:
    """An engine booking ``cost.db`` over history; k1 holds an idle H100 in project churn."""
    url = f"sqlite:///{tmp_path / 'cost.db'}"
    _history(url, clock())
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", util=0)
    proc = sleeper()
    gpu.held_by(proc.pid, 20 * GIB, 0)
    settings = CostSettings(
        ledger_url=url,
        idle_minutes=2,
        flush_interval=30,
        budgets=[{"project": "churn", "amount": 20, "period": "week"}],
    )
    engine = CostEngine(
        settings, sources=[ProcessTreeSource(), NvmlSource(nvml, clock=clock)], clock=clock
    )
    engine.track("k1", Target(proc.pid, kernel_id="k1", notebook="a.ipynb", project="churn"))
    yield engine
    engine.stop()


def _follow(engine: Any) -> CostCounters:
    counters = CostCounters()
    engine.accountant.quiet(lambda: counters.load(engine.ledger))
    engine.accountant.flushed.append(counters.add)
    return counters


def _run(engine: Any, clock: FakeClock, minutes: int) -> None:
    engine.sampler.tick()
    for _ in range(minutes * 4):
        clock.advance(15)
        engine.sampler.tick()


def test_counters_match_cost_report_and_the_cli(
    engine: Any, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    counters = _follow(engine)
    _run(engine, clock, minutes=4)
    engine.accountant.flush()
    germany = intensity_for("DEU")
    metrics = parse(render(CostCollector(counters, germany)))

    report = build_report(engine.ledger, by="project", since=None, carbon=germany)
    expected = {r.keys[0]: r.values() for r in report.rows}
    assert set(expected) == {"churn", "vision"}
    for metric, column, scale in [
        ("jupyter_mlops_cost_total", "cost", 1.0),
        ("jupyter_mlops_used_cost_total", "used_cost", 1.0),
        ("jupyter_mlops_cpu_core_seconds_total", "cpu_core_hours", HOUR),
        ("jupyter_mlops_gpu_seconds_total", "gpu_hours", HOUR),
        ("jupyter_mlops_energy_kwh_total", "energy_kwh", 1.0),
        ("jupyter_mlops_co2e_grams_total", "co2e_g", 1.0),
    ]:
        got = summed(metrics[metric], "project")
        want = {p: v[column] * scale for p, v in expected.items()}
        assert got == pytest.approx(want, rel=1e-9), metric
    # the live minutes are in: k1 held an H100 (about $5/h) for 4 minutes on top of $7 of history
    assert expected["churn"]["cost"] > 7.0 + 5.0 * 3 / 60
    assert {labels["currency"] for labels, _ in metrics["jupyter_mlops_cost_total"]} == {"USD"}

    by_notebook = build_report(engine.ledger, by="notebook", since=None)
    got = summed(metrics["jupyter_mlops_cost_total"], "notebook")
    assert got == pytest.approx({r.keys[0]: r.totals.cost_allocated for r in by_notebook.rows})
    assert "(none)" in got  # vision's row without a notebook, named as the report names it

    url = str(engine.ledger.url)
    assert main(["cost", "report", "--ledger", url, "--by", "user", "--since", "1970-01-01",
                 "--format", "json", "--carbon-region", "DEU"]) == 0  # fmt: skip
    cli = {row["user"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    got = summed(metrics["jupyter_mlops_co2e_grams_total"], "user")
    assert got == pytest.approx({u: row["co2e_g"] for u, row in cli.items()}, rel=1e-9)


def test_kernel_gauges_budgets_runs_and_intensity(engine: Any, clock: FakeClock) -> None:
    counters = _follow(engine)
    _run(engine, clock, minutes=4)
    budgets = engine.budget_status()
    collector = CostCollector(
        counters,
        intensity_for("gcp:europe-west1"),
        status=engine.status,
        budgets=lambda: budgets,
        runs=lambda: {"FINISHED": 3, "RUNNING": 1},
    )
    metrics = parse(render(collector))

    def one(name: str) -> tuple[dict[str, str], float]:
        (sample,) = metrics[name]
        return sample

    labels, rate = one("jupyter_mlops_kernel_cost_per_hour")
    assert labels == {
        "kernel_id": "k1",
        "notebook": "a.ipynb",
        "project": "churn",
        "user": "",
        "currency": "USD",
    }
    assert rate == pytest.approx(5.0, rel=0.01)  # an H100 held
    assert one("jupyter_mlops_kernel_idle")[1] == 1.0
    assert one("jupyter_mlops_kernel_idle_seconds")[1] >= 120.0  # idle since the first tick
    assert one("jupyter_mlops_kernel_gpu_memory_bytes")[1] == 20 * GIB
    live = engine.status()["targets"]["k1"]["cost"]["so_far"]
    assert one("jupyter_mlops_kernel_co2e_grams")[1] == pytest.approx(live["energy_j"] / KWH * 122)
    labels, ratio = one("jupyter_mlops_budget_usage_ratio")
    assert (labels["project"], labels["period"]) == ("churn", "week")
    assert ratio == pytest.approx(budgets[0]["spent"] / 20.0)
    assert ratio > 7.0 / 20  # the history of this week counts
    assert {lab["status"]: v for lab, v in metrics["jupyter_mlops_runs"]} == {
        "FINISHED": 3.0,
        "RUNNING": 1.0,
        "SCHEDULED": 0.0,
        "FAILED": 0.0,
        "KILLED": 0.0,
    }
    labels, g = one("jupyter_mlops_carbon_intensity_grams_per_kwh")
    assert (labels["region"], g) == ("gcp:europe-west1", 122.0)


def test_counters_are_left_out_until_loaded_and_never_count_twice(
    engine: Any, clock: FakeClock
) -> None:
    counters = CostCounters()
    world = intensity_for("")
    assert "jupyter_mlops_cost_total" not in parse(render(CostCollector(counters, world)))
    counters.load(engine.ledger)
    first = summed(
        parse(render(CostCollector(counters, world)))["jupyter_mlops_cost_total"], "project"
    )
    assert first == pytest.approx({"churn": 7.0, "vision": 0.25})
    counters.load(engine.ledger)  # a reload keeps the figures, it does not add them again
    again = summed(
        parse(render(CostCollector(counters, world)))["jupyter_mlops_cost_total"], "project"
    )
    assert again == pytest.approx(first)
