"""The cost estimate of a run: the median of a notebook's last 10 ended runs, times N.

A real SQLite MLflow store holds runs with known ``cost_usd``; the figure must be
exactly the median (not the mean) of that notebook's last 10 ended runs only.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import nbformat
import pytest
from mlflow.tracking import MlflowClient

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.pipeline import plan_run
from jupyter_mlops.core.pipeline.estimate import CostEstimate, estimate_plan, notebook_costs


def _notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lr = 0.1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("x = lr * 2")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _run(
    client: MlflowClient,
    experiment: str,
    notebook: str,
    cost: float | None,
    start: int,
    status: str = "FINISHED",
    **tags: str,
) -> None:
    run = client.create_run(
        experiment, start_time=start, tags={mlops_tags.NOTEBOOK: notebook, **tags}
    )
    if cost is not None:
        client.log_metric(run.info.run_id, "cost_usd", cost)
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status=status, end_time=start + 1000)


@pytest.fixture
def client(tmp_path: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def test_median_of_the_last_ten_ended_runs_of_that_notebook_only(
    tmp_path: Path, client: MlflowClient
) -> None:
    first = client.create_experiment("train")
    second = client.create_experiment("elsewhere")
    # 14 runs of train.ipynb: the 4 oldest are expensive and must not count
    costs = [9.0, 9.0, 9.0, 9.0, 0.10, 0.20, 0.15, 0.17, 0.90, 0.17, 0.12, 0.30, 0.17, 0.16]
    for i, cost in enumerate(costs):
        status = ("FINISHED", "FAILED", "KILLED")[i % 3]
        _run(client, first if i % 2 else second, "train.ipynb", cost, 1_000_000 + i * 10, status)
    newest = costs[-10:]
    # not counted: another notebook, a run still RUNNING, a cache hit, a run without cost
    _run(client, first, "other.ipynb", 50.0, 2_000_000)
    _run(client, first, "train.ipynb", 70.0, 2_000_001, "RUNNING")
    _run(client, first, "train.ipynb", 80.0, 2_000_002, **{mlops_tags.PIPELINE_CACHE_HIT: "x"})
    _run(client, first, "train.ipynb", None, 2_000_003)

    assert notebook_costs(client, "train.ipynb") == tuple(reversed(newest))
    _notebook(tmp_path / "train.ipynb")
    plan = plan_run(tmp_path / "train.ipynb", root=tmp_path, grid={"lr": list(range(20))})
    estimate = estimate_plan(client, plan)

    median = statistics.median(newest)
    assert median == pytest.approx(0.17)
    assert statistics.mean(newest) != pytest.approx(median)  # the mean would be another figure
    assert estimate.total == pytest.approx(20 * 0.17)
    assert estimate.message() == (
        "about $3.40: 20 executions x median $0.17 of the last 10 runs of train.ipynb"
    )
    assert estimate.to_dict()["parts"] == [
        {"notebook": "train.ipynb", "executions": 20, "median": median, "runs": 10}
    ]


def test_no_history_says_so(tmp_path: Path, client: MlflowClient) -> None:
    experiment = client.create_experiment("train")
    _run(client, experiment, "other.ipynb", 1.0, 1_000_000)
    _notebook(tmp_path / "nb" / "train.ipynb")
    plan = plan_run(tmp_path / "nb" / "train.ipynb", root=tmp_path)
    estimate = estimate_plan(client, plan)
    assert estimate.total is None
    assert estimate.message() == "no history for nb/train.ipynb: no estimate"


def test_a_pipeline_sums_its_notebooks_and_a_missing_one_gives_no_figure() -> None:
    from jupyter_mlops.core.pipeline.estimate import NotebookCost

    both = CostEstimate(
        (NotebookCost("prep.ipynb", 4, (0.5, 0.1, 0.2)), NotebookCost("train.ipynb", 4, (1.0,)))
    )
    assert both.total == pytest.approx(4 * 0.2 + 4 * 1.0)
    assert both.message() == (
        "about $4.80: 4 executions x median $0.20 of the last 3 runs of prep.ipynb"
        " + 4 executions x median $1.00 of the last run of train.ipynb"
    )
    one_missing = CostEstimate((both.parts[0], NotebookCost("train.ipynb", 4, ())))
    assert one_missing.total is None
    assert one_missing.message() == "no history for train.ipynb: no estimate"
