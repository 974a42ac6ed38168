"""We are MLflow: ``%mlops`` and plain ``mlflow.*`` calls in one real kernel make one run.

Each test drives a real ipykernel (``jupyter_client``) against a real SQLite
store and counts the runs in the store afterwards: an MLflow call that split
into another run, or a run left RUNNING, fails the test.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_exec import execute
from mlflow import MlflowClient

from jupyter_mlops.core import tags

pytestmark = pytest.mark.slow


@pytest.fixture
def kernel(
    tmp_path: Path, child_env: dict[str, str], new_store: Callable[[Path], Any]
) -> Iterator[tuple[Any, Any, str]]:
    """A real kernel on a fresh store: ``(manager, client, tracking uri)``."""
    uri = new_store(tmp_path).uri
    env = {
        **child_env,
        "MLFLOW_TRACKING_URI": uri,
        "JUPYTER_MLOPS_SPOOL_DIR": str(tmp_path / "spool"),
        "JUPYTER_MLOPS_ROOT_DIR": str(tmp_path),
        "JUPYTER_MLOPS_PROJECT": "fluent",
    }
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        yield manager, client, uri
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)


def _run(client: Any, code: str) -> str:
    """Run ``code``; fail the test on an error; the printed text."""
    status, outputs = execute(client, code)
    text = "".join(o.get("text", "") for o in outputs if o["type"] == "stream")
    errors = [o for o in outputs if o["type"] == "error"]
    assert status == "ok", (code, errors, text)
    assert not errors, (code, errors, text)
    return text


def _all_runs(uri: str) -> list[Any]:
    store = MlflowClient(uri)
    ids = [e.experiment_id for e in store.search_experiments()]
    return list(store.search_runs(ids))


def test_autolog_inside_mlops_start_is_one_run(kernel: tuple[Any, Any, str]) -> None:
    _, client, uri = kernel
    _run(client, "%load_ext jupyter_mlops")
    out = _run(client, "%mlops start --experiment churn --tag epic=MLOPS-7")
    assert "Started" in out
    _run(
        client,
        "import mlflow, mlflow.sklearn\n"
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "mlflow.sklearn.autolog(log_input_examples=False, silent=True)\n"
        "X, y = load_iris(return_X_y=True)\n"
        "model = LogisticRegression(max_iter=200).fit(X, y)\n"
        "active = mlflow.active_run()\n"
        "mlflow.log_metric('extra', 1.5)\n"
        "mlflow.set_tag('by', 'mlflow')\n"
        "mlflow.log_text('hello', 'notes/hello.txt')\n"
        "mlflow.log_table({'a': [1, 2], 'b': [3, 4]}, 'tables/t.json')\n"
        "import mlflow.data, pandas as pd\n"
        "mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame(X[:5]), name='iris5'))",
    )
    out = _run(
        client,
        "import jupyter_mlops as mlops\nprint(active.info.run_id == mlops.active_run().run_id)",
    )
    assert out.strip() == "True"
    _run(client, "%mlops log ours=2")
    _run(client, "%mlops end")
    assert _run(client, "print(mlflow.active_run())").strip() == "None"

    runs = _all_runs(uri)
    assert len(runs) == 1, [(r.info.run_id, r.data.tags.get("mlflow.runName")) for r in runs]
    run = runs[0]
    assert run.info.status == "FINISHED"
    data = run.data
    assert {"extra", "ours", "training_score"} <= set(data.metrics)  # autolog's and ours
    assert data.params.get("max_iter") == "200"  # autolog's params
    assert data.tags["epic"] == "MLOPS-7"
    assert data.tags["by"] == "mlflow"
    assert data.tags[tags.PROJECT] == "fluent"
    assert tags.ENV_HASH in data.tags  # our environment
    assert "cost_usd" in data.metrics  # our cost
    store = MlflowClient(uri)
    artifacts = {a.path for a in store.list_artifacts(run.info.run_id)}
    assert {"notes", "environment", "tables"} <= artifacts
    assert "iris5" in {d.dataset.name for d in run.inputs.dataset_inputs}  # log_input
    models = store.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert [m.source_run_id for m in models] == [run.info.run_id]  # autolog's model, MLflow 3
    assert store.get_experiment(run.info.experiment_id).name == "churn"


def test_mlflow_run_first_is_adopted(kernel: tuple[Any, Any, str]) -> None:
    _, client, uri = kernel
    _run(client, "%load_ext jupyter_mlops\nimport mlflow")
    _run(client, "mlflow.set_experiment('rev')\nrun = mlflow.start_run(run_name='theirs')")
    _run(client, "%mlops log x=1")  # no RunStateError: logs into MLflow's run
    out = _run(client, "%mlops start --tag who=us")
    assert "Adopted MLflow's active run" in out
    _run(client, "mlflow.log_metric('y', 2)\n%mlops log z=3 --step 1")
    _run(client, "%mlops end")
    assert _run(client, "print(mlflow.active_run())").strip() == "None"
    runs = _all_runs(uri)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.runName"] == "theirs"
    assert run.data.tags["who"] == "us"
    assert {"x", "y", "z"} <= set(run.data.metrics)
    assert tags.NOTEBOOK in run.data.tags or tags.HOST in run.data.tags
    assert MlflowClient(uri).get_experiment(run.info.experiment_id).name == "rev"


def test_set_experiment_then_start_and_nested_and_rerun(kernel: tuple[Any, Any, str]) -> None:
    _, client, uri = kernel
    _run(client, "%load_ext jupyter_mlops\nimport mlflow\nmlflow.set_experiment('rev')")
    _run(client, "%mlops start --run-name parent")
    _run(client, "%mlops start --nested --run-name child\nmlflow.log_metric('c', 1)")
    _run(client, "%mlops end")
    _run(client, "mlflow.log_metric('p', 1)")  # the parent is MLflow's active run again
    out = _run(client, "%mlops start --run-name again")  # re-running the start cell
    assert "to start a new one" in out
    _run(client, "%mlops end")
    runs = {r.data.tags["mlflow.runName"]: r for r in _all_runs(uri)}
    assert set(runs) == {"parent", "child", "again"}
    assert all(r.info.status == "FINISHED" for r in runs.values())
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id
    assert set(runs["child"].data.metrics) >= {"c"}
    assert "p" in runs["parent"].data.metrics
    names = {MlflowClient(uri).get_experiment(r.info.experiment_id).name for r in runs.values()}
    assert names == {"rev"}


def test_sigkill_after_fluent_calls_leaves_no_running_run(
    kernel: tuple[Any, Any, str], tmp_path: Path
) -> None:
    manager, client, uri = kernel
    _run(
        client,
        "import mlflow\nmlflow.start_run(run_name='outer')\n"
        "mlflow.log_metric('a', 1)\nmlflow.start_run(nested=True, run_name='inner')\n"
        "mlflow.log_param('b', 2)",
    )
    runs = _all_runs(uri)
    assert {r.info.status for r in runs} == {"RUNNING"}
    assert len(runs) == 2
    owner = runs[0].data.tags[tags.OWNER]
    assert owner.split(":")[1] == str(manager.provisioner.process.pid)
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
    manager.provisioner.process.wait()
    # the next tracker's start-up recovery (a new kernel, the server's sweep) ends them
    from jupyter_mlops.core.tracking.mlflow_context import end_orphaned_runs

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        end_orphaned_runs(MlflowClient(uri))
        if all(r.info.status == "KILLED" for r in _all_runs(uri)):
            break
        time.sleep(1)
    runs = _all_runs(uri)
    assert {r.info.status for r in runs} == {"KILLED"}
    assert all(r.data.tags[tags.KILLED_REASON] == "process_died" for r in runs)


def test_clean_shutdown_ends_every_mlflow_run(kernel: tuple[Any, Any, str]) -> None:
    manager, client, uri = kernel
    _run(
        client,
        "import mlflow\nmlflow.start_run(run_name='outer')\n"
        "mlflow.start_run(nested=True, run_name='inner')\nmlflow.log_metric('a', 1)",
    )
    client.stop_channels()
    manager.shutdown_kernel(now=False)
    runs = _all_runs(uri)
    assert len(runs) == 2
    assert {r.info.status for r in runs} == {"FINISHED"}


def test_artifacts_and_the_notebook_report(
    tmp_path: Path, child_env: dict[str, str], new_store: Callable[[Path], Any]
) -> None:
    """Our artifact API uploads in the background; the ended run gets the notebook + report."""
    import json

    uri = new_store(tmp_path).uri
    notebook = tmp_path / "analysis.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {},
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "execution_count": 1,
                        "source": "print('accuracy is high')",
                        "outputs": [
                            {"output_type": "stream", "name": "stdout", "text": "accuracy 0.97\n"}
                        ],
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    (tmp_path / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    env = {
        **child_env,
        "MLFLOW_TRACKING_URI": uri,
        "JUPYTER_MLOPS_SPOOL_DIR": str(tmp_path / "spool"),
        "JUPYTER_MLOPS_ROOT_DIR": str(tmp_path),
        "JPY_SESSION_NAME": str(notebook),
        "JUPYTER_MLOPS_NOTEBOOK_REPORT": "1",
    }
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        _run(client, "%load_ext jupyter_mlops\n%mlops start --experiment reports")
        _run(
            client,
            "import jupyter_mlops as mlops, matplotlib\nmatplotlib.use('Agg')\n"
            "import matplotlib.pyplot as plt\n"
            "fig, ax = plt.subplots(); ax.plot([1, 2, 3])\n"
            "mlops.log_figure(fig, 'plots/curve.png')\n"
            "mlops.log_text('hello', 'notes/hello.txt')\n"
            "mlops.log_dict({'k': [1, 2]}, 'conf/settings.yaml')\n"
            "mlops.log_artifact('data.csv', 'data')\n",
        )
        _run(client, "import os; os.remove('data.csv')")  # the staged copy is what uploads
        _run(client, "%mlops end")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    store = MlflowClient(uri)
    (run,) = _all_runs(uri)

    def paths(folder: str) -> set[str]:
        return {a.path for a in store.list_artifacts(run.info.run_id, folder)}

    assert paths("plots") == {"plots/curve.png"}
    assert paths("data") == {"data/data.csv"}
    assert store.download_artifacts(run.info.run_id, "conf/settings.yaml", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "settings.yaml").read_text().startswith("k:")
    deadline = time.monotonic() + 180  # a detached worker renders the report
    while time.monotonic() < deadline and len(paths("notebook")) < 2:
        time.sleep(1)
    assert paths("notebook") == {"notebook/analysis.ipynb", "notebook/analysis.html"}
    html = Path(store.download_artifacts(run.info.run_id, "notebook/analysis.html", str(tmp_path)))
    text = html.read_text(encoding="utf-8")
    assert "accuracy 0.97" in text
    assert "<script" not in text
