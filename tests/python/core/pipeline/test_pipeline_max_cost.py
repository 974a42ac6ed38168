"""Spend caps (``max_cost``): real kernels, papermill, a SQLite store and a priced CPU.

A catalogue of our own makes a CPU second cost exactly $1 (and memory nothing), so
a notebook that burns CPU spends a known amount quickly: the cap is reached for
real, by the executions' own meters, not by a number the test writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline import plan_run, run_plan
from jupyter_mlops.core.pipeline.launches import LaunchRegistry
from jupyter_mlops.core.pipeline.model import LaunchRequest
from jupyter_mlops.exceptions import UsageError

BURN = (
    "import pathlib, time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < seconds:\n"
    "    pass\n"
    "pathlib.Path(f'done-{n}.txt').write_text('done')\n"
)


@pytest.fixture
def dollar_per_cpu_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Price a CPU second at $1 and memory at nothing (the workers inherit the setting)."""
    catalogue = tmp_path / "prices.yaml"
    catalogue.write_text("rates: {cpu_core_hour: 3600.0, ram_gb_hour: 0.0}\n", encoding="utf-8")
    monkeypatch.setenv("JUPYTER_MLOPS_COST_CATALOGUE", str(catalogue))


def _history(client: Any, notebook_tag: str, cost: float, runs: int) -> None:
    """``runs`` earlier FINISHED runs of the notebook that cost ``cost`` each."""
    experiment = client.create_experiment("earlier")
    for i in range(runs):
        run = client.create_run(experiment, start_time=1_000_000 + i)
        client.set_tag(run.info.run_id, tags.NOTEBOOK, notebook_tag)
        client.log_metric(run.info.run_id, "cost_usd", cost)
        client.set_terminated(run.info.run_id, "FINISHED")


@pytest.mark.slow
@pytest.mark.usefixtures("dollar_per_cpu_second")
def test_a_sweep_capped_below_its_estimate_stops_with_killed_budget(
    tmp_path: Path, mlflow_store: Any
) -> None:
    root = tmp_path / "work"
    write_notebook(root / "burn.ipynb", notebook("seconds = 60.0\nn = 0", BURN))
    _history(mlflow_store.client, "burn.ipynb", 1.0, 3)
    plan = plan_run(root / "burn.ipynb", root=root, grid={"n": [1, 2, 3]}, timeout=300)
    registry = LaunchRegistry(root, tracking_uri=mlflow_store.uri)
    estimate = registry.estimate(plan)
    assert estimate.message() == (
        "about $3.00: 3 executions x median $1.00 of the last 3 runs of burn.ipynb"
    )

    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=1, max_cost=0.5)

    assert result.status == "KILLED"
    assert [(r.status, r.reason) for r in result.results] == [("KILLED", "budget")] * 3
    first, *never_started = result.results
    assert "spend cap was reached" in (first.error or "")
    assert first.cost["cost_usd"] >= 0.5  # what its meter had counted when it was stopped
    assert all(not r.cost for r in never_started)
    assert not list(root.glob("done-*.txt"))  # the running one was stopped mid-burn
    client = mlflow_store.client
    for execution in result.executions:
        run = client.get_run(execution.run_id)
        assert run.info.status == "KILLED"
        assert run.data.tags[tags.KILLED_REASON] == "budget"
        assert run.data.tags[tags.STATUS_REASON] == "budget"
    assert client.get_run(result.run_id).info.status == "KILLED"


@pytest.mark.slow
@pytest.mark.usefixtures("dollar_per_cpu_second")
def test_a_cap_that_is_not_reached_changes_nothing(tmp_path: Path, mlflow_store: Any) -> None:
    root = tmp_path / "work"
    write_notebook(root / "burn.ipynb", notebook("seconds = 0.0\nn = 0", BURN))
    plan = plan_run(root / "burn.ipynb", root=root, grid={"n": [1, 2]})
    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=2, max_cost=1000.0)
    assert [r.status for r in result.results] == ["FINISHED", "FINISHED"]
    assert sorted(p.name for p in root.glob("done-*.txt")) == ["done-1.txt", "done-2.txt"]


def test_a_bad_cap_is_refused_before_anything_runs(tmp_path: Path, mlflow_store: Any) -> None:
    for bad in (0, -1, float("nan"), float("inf"), True, "5"):
        with pytest.raises(UsageError, match="max_cost must be a positive amount"):
            LaunchRequest.from_json({"path": "x.ipynb", "max_cost": bad})
    assert LaunchRequest.from_json({"path": "x.ipynb", "max_cost": 5}).max_cost == 5.0
    write_notebook(tmp_path / "a.ipynb", notebook("n = 0", "x = n"))
    plan = plan_run(tmp_path / "a.ipynb", root=tmp_path)
    with pytest.raises(UsageError, match="max_cost"):
        run_plan(plan, tracking_uri=mlflow_store.uri, max_cost=-2.0)
    assert mlflow_store.client.search_experiments(filter_string="name != 'Default'") == []


@pytest.mark.slow
@pytest.mark.usefixtures("dollar_per_cpu_second")
def test_a_capped_launch_records_reason_budget(tmp_path: Path, mlflow_store: Any) -> None:
    import time

    root = tmp_path / "work"
    write_notebook(root / "burn.ipynb", notebook("seconds = 60.0\nn = 0", BURN))
    registry = LaunchRegistry(root, tracking_uri=mlflow_store.uri)
    request = LaunchRequest.from_json({"path": "burn.ipynb", "max_cost": 0.3, "timeout": 300})
    plan = registry.plan(request)
    launch = registry.start(plan, request, estimate=registry.estimate(plan))
    assert launch["max_cost"] == 0.3
    assert launch["estimate"]["message"] == "no history for burn.ipynb: no estimate"
    deadline = time.monotonic() + 240  # a safety net, not a timing assertion
    while launch["status"] not in ("FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, launch
        time.sleep(0.5)
        launch = registry.get(launch["id"])
    assert launch["status"] == "KILLED"
    (entry,) = launch["executions"]
    assert (entry["status"], entry["reason"]) == ("KILLED", "budget")
    assert "spend cap was reached" in entry["error"]
    assert not (root / "done-0.txt").exists()
