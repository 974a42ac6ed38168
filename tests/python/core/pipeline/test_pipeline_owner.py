"""Pipeline runs as any run: user and project recorded; a grid typed the same from CLI and panel.

The CLI (``jupyter mlops run`` in a child process) and a :class:`LaunchRegistry`
(what the server's panel calls) run the same sweep of a small notebook into
one real SQLite store; their executions, MLflow params, users and projects are
compared. Real kernels and papermill.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from child_python import PACKAGE_PARENT, project_env, python
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline import plan_run
from jupyter_mlops.core.pipeline.child_runs import owner_tags
from jupyter_mlops.core.pipeline.launches import LaunchRegistry
from jupyter_mlops.core.pipeline.model import LaunchRequest
from jupyter_mlops.core.tracking.context import current_user

PARAMS = "lr: float = 0.1\nepochs = 1\nname = 'a'\n"
BODY = "import jupyter_mlops\njupyter_mlops.log_metric('score', lr * epochs)"
PROJECT = "proj-sweep"


def test_grid_text_and_json_plan_the_same(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", notebook(PARAMS, BODY))
    from jupyter_mlops.cli.run import parse_grid

    cli = plan_run(
        tmp_path / "nb.ipynb",
        root=tmp_path,
        overrides={"epochs": "3"},
        grid=parse_grid(["lr=0.1,0.3", "name=x,y"]),
        from_text=True,
    )
    panel = plan_run(
        tmp_path / "nb.ipynb",
        root=tmp_path,
        overrides={"epochs": 3},
        grid={"lr": [0.1, 0.3], "name": ["x", "y"]},
    )
    assert [e.parameters for e in cli.executions] == [e.parameters for e in panel.executions]
    assert cli.executions[3].parameters == {"lr": 0.3, "name": "y", "epochs": 3}
    expected = {
        "trials": 4,
        "overrides": {"epochs": 3},
        "grid": {"lr": [0.1, 0.3], "name": ["x", "y"]},
    }
    assert cli.sweep == panel.sweep == expected


def test_owner_tags_read_the_project_like_a_notebook_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "my-project"
    folder.mkdir()
    assert owner_tags(folder) == {"mlflow.user": current_user(), tags.PROJECT: "my-project"}
    monkeypatch.setenv("JUPYTER_MLOPS_PROJECT", PROJECT)
    assert owner_tags(folder)[tags.PROJECT] == PROJECT


def _pipeline_runs(client: Any, parent_id: str) -> list[Any]:
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    return [parent, *sorted(children, key=lambda r: r.data.tags[tags.PIPELINE_TRIAL])]


def _wait(registry: LaunchRegistry, launch_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    launch = registry.get(launch_id)
    while launch["status"] not in ("FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, launch
        time.sleep(0.3)
        launch = registry.get(launch_id)
    return launch


@pytest.mark.slow
def test_cli_and_launch_record_user_project_and_equal_typed_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    root = tmp_path / "project"
    write_notebook(root / "sweep.ipynb", notebook(PARAMS, BODY))
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {**project_env(root), "PYTHONPATH": PACKAGE_PARENT, "JUPYTER_MLOPS_PROJECT": PROJECT}
    argv = ("sweep.ipynb", "--grid", "lr=0.1,0.3", "-p", "epochs", "3", "--format", "json")
    done = python("-m", "jupyter_mlops.cli.main", "run", *argv, cwd=root, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    cli = json.loads(done.stdout)

    monkeypatch.setenv("JUPYTER_MLOPS_PROJECT", PROJECT)  # as the server exports it
    registry = LaunchRegistry(root, tracking_uri=uri)
    request = LaunchRequest.from_json(
        {"path": "sweep.ipynb", "parameters": {"epochs": 3}, "grid": {"lr": [0.1, 0.3]}}
    )
    launch = _wait(registry, registry.start(registry.plan(request), request)["id"])
    assert launch["status"] == "FINISHED", launch

    typed = [{"lr": 0.1, "epochs": 3}, {"lr": 0.3, "epochs": 3}]
    assert [e["parameters"] for e in cli["executions"]] == typed
    assert [e["parameters"] for e in launch["executions"]] == typed
    scores = [e["metrics"] for e in launch["executions"]]
    assert scores == [{"score": pytest.approx(0.3)}, {"score": pytest.approx(0.9)}]
    json.dumps(launch)  # the REST body

    client = MlflowClient(tracking_uri=uri)
    from_cli = _pipeline_runs(client, cli["run_id"])
    from_panel = _pipeline_runs(client, launch["run_id"])
    assert [r.data.params for r in from_cli] == [r.data.params for r in from_panel]
    assert from_cli[0].data.params["grid.lr"] == "[0.1, 0.3]"
    assert from_cli[0].data.params["override.epochs"] == "3"
    assert [r.data.params["lr"] for r in from_cli[1:]] == ["0.1", "0.3"]
    for run in [*from_cli, *from_panel]:
        assert run.info.user_id == current_user()
        assert run.data.tags["mlflow.user"] == current_user()
        assert run.data.tags[tags.PROJECT] == PROJECT
