"""``jupyter mlops run --max-cost`` and hard budgets, in a subprocess: real kernels and stores.

A catalogue of our own prices a CPU second at $1 (memory at nothing), so a notebook
that burns CPU reaches a small cap for real.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from child_python import python
from notebooks import write_notebook

from jupyter_mlops.core.cost import Ledger, Totals

BURN = (
    "import pathlib, time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < seconds:\n"
    "    pass\n"
    "pathlib.Path(f'done-{n}.txt').write_text('done')"
)


def run_cli(root: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", **env}
    module = ("-m", "jupyter_mlops.cli.main", "run")
    return python(*module, *argv, cwd=root, env=environ, timeout=240)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    write_notebook(folder / "burn.ipynb", "seconds = 60.0\nn = 0", [BURN])
    prices = tmp_path / "prices.yaml"
    prices.write_text("rates: {cpu_core_hour: 3600.0, ram_gb_hour: 0.0}\n", encoding="utf-8")
    monkeypatch.setenv("JUPYTER_MLOPS_COST_CATALOGUE", str(prices))
    return folder


@pytest.mark.slow
def test_max_cost_prints_the_estimate_then_stops_at_the_cap(root: Path) -> None:
    done = run_cli(root, "burn.ipynb", "--grid", "n=1,2", "--max-cost", "0.5", "--timeout", "200")
    assert done.returncode == 1, done.stderr
    assert "estimate: no history for burn.ipynb: no estimate (cap $0.50)" in done.stderr
    rows = [line for line in done.stdout.splitlines() if "burn" in line]
    assert len(rows) == 2, done.stdout
    assert all("KILLED (budget)" in row for row in rows), done.stdout
    assert not list(root.glob("done-*.txt"))
    assert "pipeline run" in done.stderr
    assert ": KILLED" in done.stderr


@pytest.mark.slow
def test_max_cost_json_and_an_estimate_from_history(root: Path) -> None:
    first = run_cli(root, "burn.ipynb", "-p", "seconds", "3.0", "--format", "json")
    assert first.returncode == 0, first.stderr
    cost = json.loads(first.stdout)["results"][0]["cost"]["cost_usd"]
    assert cost > 1.0  # the burn, priced at $1 a CPU second (the meter samples every second)
    done = run_cli(root, "burn.ipynb", "-p", "seconds", "0.0", "--max-cost", "1000")
    assert done.returncode == 0, done.stderr
    money = f"${cost:.2f}"
    assert f"estimate: about {money}: 1 execution x median {money} of the last run of " in (
        done.stderr
    )


def _spent(tmp_path: Path) -> dict[str, str]:
    """The environment of a project whose hard budget ($25 a month) is spent ($30)."""
    ledger_url = f"sqlite:///{tmp_path / 'spent.db'}"
    ledger = Ledger(ledger_url)
    minute = int(time.time() // 60 * 60) - 60
    ledger.write({(minute, ("k", "", "a.ipynb", "churn", "ana")): Totals(cost_allocated=30.0)})
    ledger.close()
    budgets = [{"project": "churn", "amount": 25, "period": "month", "hard": True}]
    return {
        "JUPYTER_MLOPS_COST_BUDGETS": json.dumps(budgets),
        "JUPYTER_MLOPS_COST_LEDGER": ledger_url,
        "JUPYTER_MLOPS_PROJECT": "churn",
    }


def test_a_spent_hard_budget_refuses_the_run(root: Path, tmp_path: Path) -> None:
    done = run_cli(root, "burn.ipynb", **_spent(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "Refused: the hard budget of project churn is spent: $30.00 of $25.00 this month" in (
        done.stderr
    )
    assert "c.MlopsConfig.cost_budgets" in done.stderr
    assert not (root / "mlflow.db").exists()  # refused before any run was created
    assert not (root / "outputs").exists()


def test_a_spent_hard_budget_refuses_a_headless_schedule_firing(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.core.pipeline.schedules import ScheduleStore, schedule_url

    env = _spent(tmp_path)
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", env["JUPYTER_MLOPS_COST_LEDGER"])
    store = ScheduleStore(schedule_url(root, f"sqlite:///{root / 'mlflow.db'}"))
    schedule = store.add(root, "burn.ipynb", "@daily")
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}", **env}
    module = ("-m", "jupyter_mlops.cli.main", "schedule", "run-now", schedule.id)
    done = python(*module, cwd=root, env=environ, timeout=240)
    assert done.returncode == 1, done.stderr
    assert "Refused: the hard budget of project churn is spent" in done.stderr
    (row,) = store.history(schedule.id, limit=5)
    assert row["status"] == "error"
    assert not (root / "mlflow.db").exists()
