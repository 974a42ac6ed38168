"""The example notebook runs top to bottom in a real kernel and is tracked.

Also the "we are MLflow underneath" promise: plain MLflow started in the same
folder (what ``mlflow ui`` does: its default store is ``sqlite:///mlflow.db``
in the working directory) sees the same runs.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from child_python import clean_env, last_line

from jupyter_mlops.core import tags

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "train_classifier.ipynb"

pytestmark = pytest.mark.slow


@pytest.fixture
def executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The example run by papermill (as a CI job would) with one injected parameter."""
    papermill = pytest.importorskip("papermill")
    work = tmp_path / "examples"
    work.mkdir()
    shutil.copy(EXAMPLE, work / EXAMPLE.name)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(work))
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = work / "out.ipynb"
    papermill.execute_notebook(
        str(work / EXAMPLE.name),
        str(out),
        parameters={"n_estimators": 25, "learning_rate": 0.2},
        cwd=str(work),
        kernel_name="python3",
        progress_bar=False,
    )
    return {"folder": work, "output": json.loads(out.read_text())}


def _runs_seen_by_plain_mlflow(folder: Path) -> list[dict[str, Any]]:
    """Ask a fresh interpreter, started in ``folder`` with no tracking URI set, for its runs."""
    code = (
        "import json, mlflow\n"
        "runs = mlflow.search_runs(search_all_experiments=True, output_format='list')\n"
        "print(json.dumps([{'id': r.info.run_id, 'status': r.info.status,\n"
        "  'params': r.data.params, 'metrics': r.data.metrics, 'tags': r.data.tags}\n"
        "  for r in runs]))\n"
    )
    result: list[dict[str, Any]] = json.loads(last_line(code, env=clean_env(), cwd=folder))
    return result


def test_example_notebook_is_tracked_with_injected_parameters(executed: dict[str, Any]) -> None:
    runs = _runs_seen_by_plain_mlflow(executed["folder"])
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "FINISHED"
    # papermill's injected values, not the notebook's defaults; the others from the cell
    assert run["params"]["n_estimators"] == "25"
    assert run["params"]["learning_rate"] == "0.2"
    assert run["params"]["max_depth"] == "3"
    assert run["params"]["seed"] == "42"
    assert 0.8 < run["metrics"]["accuracy"] <= 1.0
    assert "valid_loss" in run["metrics"]
    assert run["tags"]["dataset"] == "sklearn-breast-cancer"
    assert run["tags"][tags.PROJECT]
    errors = [
        out
        for cell in executed["output"]["cells"]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert errors == []
