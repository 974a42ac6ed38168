"""An export rebuilds: its ``requirements.txt`` alone, installed into a fresh venv, runs it.

What a production engineer does with the folder: ``python -m venv``, ``pip
install -r requirements.txt`` (everything from the package index except
jupyter-mlops, which is not on PyPI yet: its wheel, built from this checkout,
comes through ``--find-links``), then ``jupyter mlops run .``. If the export
missed a distribution the notebook imports (scikit-learn here) or wrote a local
path, the install or the run fails. Skipped, with the reason, only when the
package index cannot be reached.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from wheel_build import (
    REPO,
    built_wheel,  # noqa: F401 (the session fixture: one build per session)
    make_venv,
    run,
    skip_without_index,
)

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline import export_pipeline

EXAMPLE = REPO / "examples" / "train_classifier.ipynb"

# the wheel build is shared with test_wheel_install (one xdist worker builds it once)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel"), pytest.mark.timeout(900)]


def test_export_rebuilds_in_a_fresh_venv_and_runs(
    tmp_path: Path,
    built_wheel: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    skip_without_index()
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(EXAMPLE, project / EXAMPLE.name)
    result = export_pipeline([EXAMPLE.name], "pipe", project)
    assert result.warnings == []
    pipe = result.out_dir
    requirements = (pipe / "requirements.txt").read_text(encoding="utf-8")
    assert str(REPO) not in requirements
    assert "-e" not in requirements.split()

    bin_dir, env = make_venv(tmp_path / "venv")
    env["JUPYTER_DATA_DIR"] = str(tmp_path / "jupyter-data")  # no kernelspec of this machine's
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
    installed = run(
        [*pip, "--find-links", str(built_wheel.parent), "-r", str(pipe / "requirements.txt")],
        env=env,
        timeout=900,
    )
    if installed.returncode != 0 and "NewConnectionError" in installed.stderr:
        pytest.skip(f"the package index cannot be reached: {installed.stderr[-500:]}")
    assert installed.returncode == 0, installed.stderr[-3000:]
    # the kernel papermill starts is this venv's, not one this machine has registered
    specs = run([str(bin_dir / "jupyter"), "kernelspec", "list", "--json"], env=env)
    python3 = json.loads(specs.stdout)["kernelspecs"]["python3"]["resource_dir"]
    assert Path(python3).is_relative_to(tmp_path / "venv"), python3

    store = tmp_path / "mlflow.db"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{store}"
    env["JUPYTER_MLOPS_SPOOL_DIR"] = str(tmp_path / "spool")
    done = run(
        [str(bin_dir / "jupyter"), "mlops", "run", str(pipe), "--format", "json"],
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["status"] == "FINISHED", summary

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    pipeline_run = client.get_run(summary["run_id"])
    assert pipeline_run.info.status == "FINISHED"
    experiment = pipeline_run.info.experiment_id
    (step,) = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{summary['run_id']}'")
    assert step.info.status == "FINISHED"
    assert step.data.tags[tags.PIPELINE_STEP] == "train_classifier"
    assert 0.8 < step.data.metrics["accuracy"] <= 1.0
