"""A notebook written for plain MLflow, run with ``jupyter mlops run``: one run, nothing left RUNNING.

The notebook is shaped like MLflow's own examples: ``mlflow.set_experiment``,
``with mlflow.start_run():``, ``log_param`` / ``log_metric`` /
``sklearn.log_model``, and a nested run it forgets to end. Its values must
land in the execution's run (MLflow resumes ``$MLFLOW_RUN_ID``), the
forgotten run must be ended by the executor, and no run may stay RUNNING.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from test_cli_run import run_cli

from jupyter_mlops.core import tags

pytestmark = pytest.mark.slow

CELLS = [
    ("alpha = 0.5\n", ["parameters"]),
    (
        "import mlflow, mlflow.sklearn\n"
        "from sklearn.datasets import load_diabetes\n"
        "from sklearn.linear_model import Ridge\n"
        "X, y = load_diabetes(return_X_y=True)\n"
        "mlflow.set_experiment('diabetes-ridge')\n",
        [],
    ),
    (
        "with mlflow.start_run():\n"
        "    model = Ridge(alpha=alpha).fit(X, y)\n"
        "    mlflow.log_param('solver', model.solver)\n"
        "    mlflow.log_metric('r2', model.score(X, y))\n"
        "    mlflow.sklearn.log_model(model, name='model')\n",
        [],
    ),
    ("mlflow.log_metric('after_block', 1.0)\n", []),
    (
        "import jupyter_mlops\njupyter_mlops.log_metric('ours', 2.0)\n"
        "mlflow.start_run(nested=True, run_name='forgotten')\nmlflow.log_metric('inner', 3.0)\n",
        [],
    ),
]


def _notebook(path: Path) -> Path:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": tags} if tags else {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for source, tags in CELLS
        ],
    }
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _runs(root: Path) -> list[Any]:
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids))


def test_mlflow_calls_land_in_the_execution_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK_REPORT", "1")  # the execution's report too
    root = tmp_path / "project"
    root.mkdir()
    _notebook(root / "ridge.ipynb")
    done = run_cli(root, "ridge.ipynb", "-p", "alpha", "0.25")
    assert done.returncode == 0, done.stdout + done.stderr

    runs = _runs(root)
    by_type = {r.data.tags.get(tags.RUN_TYPE, r.info.run_name): r for r in runs}
    assert set(by_type) == {"pipeline", "pipeline-step", "forgotten"}, by_type.keys()
    assert all(r.info.status == "FINISHED" for r in runs), [
        (r.info.run_name, r.info.status) for r in runs
    ]
    step = by_type["pipeline-step"]
    assert step.data.params["alpha"] == "0.25"
    assert step.data.params["solver"] == "auto"
    assert {"r2", "after_block", "ours"} <= set(step.data.metrics)
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    models = client.search_logged_models(experiment_ids=[step.info.experiment_id])
    assert [m.source_run_id for m in models] == [step.info.run_id]
    # mlflow.set_experiment('diabetes-ridge') is where the runs went, so MLflow could resume
    assert client.get_experiment(step.info.experiment_id).name == "diabetes-ridge"
    notebook = {a.path for a in client.list_artifacts(step.info.run_id, "notebook")}
    assert notebook == {"notebook/ridge.ipynb", "notebook/ridge.html"}  # executed + report
    forgotten = by_type["forgotten"]
    assert forgotten.data.tags["mlflow.parentRunId"] == step.info.run_id
    assert forgotten.data.metrics["inner"] == 3.0
