"""Kubeflow steps share files through the run's workspace (``step --workspace DIR``).

Each step runs in its own pod from the image's pipeline folder; with the
workspace every step works in one copy of that folder on the shared volume.
Here each "pod" is its own copy of the exported folder, one local folder
stands for the workspace, and the compiled argv runs as the launcher would
run it (see :mod:`kfp_helpers`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kfp_helpers import export_churn, launcher_argv, load, pod_env, run_in_pod
from pipeline_helpers import write_notebook

from jupyter_mlops.core.pipeline.kfp import compile_kfp
from jupyter_mlops.core.pipeline.step import main as step_main
from jupyter_mlops.core.pipeline.step import workspace_copy
from jupyter_mlops.exceptions import PathError, UsageError

RACER = (  # a step's start in its pod: ready, then copy the folder into the workspace on "go"
    "import sys, time\n"
    "from pathlib import Path\n"
    "from jupyter_mlops.core.pipeline.step import workspace_copy\n"
    "print('ready', flush=True)\n"
    "while not Path(sys.argv[1]).exists():\n"
    "    time.sleep(0.001)\n"
    "print(workspace_copy('.', sys.argv[2]))\n"
)


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    return export_churn(tmp_path)


@pytest.mark.slow
def test_dependent_steps_in_separate_pods_share_files_through_the_workspace(
    exported: Path, tmp_path: Path
) -> None:
    """prep and train run in two fresh copies of the image's folder: train reads what prep wrote."""
    spec = load(compile_kfp(exported))
    assert spec["root"]["dag"]["tasks"]["train"]["dependentTasks"] == ["prep"]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    pods = [shutil.copytree(exported, tmp_path / f"pod-{step}") for step in ("prep", "train")]
    arguments = {"prep__seed": 5, "train__epochs": 9}
    for step, pod in zip(("prep", "train"), pods, strict=True):
        run_in_pod(launcher_argv(spec, step, arguments, workspace), pod)
    shared = workspace / "churn-model"
    model = json.loads((shared / "data" / "model.json").read_text())
    assert model["seen"] == json.loads((shared / "data" / "clean.json").read_text())
    assert (model["seen"]["seed"], model["lr"], model["epochs"]) == (5, 0.1, 9)
    assert (shared / "outputs" / "prep.ipynb").is_file()
    assert (shared / "outputs" / "train.ipynb").is_file()
    assert [p.name for p in workspace.iterdir()] == ["churn-model"]  # no half copies left
    for pod in pods:  # the image's folder is never written
        assert not (pod / "data").exists()
        assert not (pod / "outputs").exists()


def test_steps_starting_together_end_up_in_one_workspace_copy(
    exported: Path, tmp_path: Path
) -> None:
    """Root steps in six pods race to copy the image's folder: one copy wins, every step uses it."""
    for i in range(300):  # copying takes a while: the racers overlap
        write_notebook(exported / "assets" / f"{i}.json", {"i": i})
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    go = tmp_path / "go"
    pods = [shutil.copytree(exported, tmp_path / f"pod-{i}") for i in range(6)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(go), str(workspace)],
            cwd=pod,
            env=pod_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for pod in pods
    ]
    for racer in racers:  # every racer has imported jupyter_mlops and waits
        assert racer.stdout is not None
        assert racer.stdout.readline() == "ready\n"
    go.touch()
    shared = workspace / "churn-model"
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err
        assert out == f"{shared}\n"
    assert [p.name for p in workspace.iterdir()] == ["churn-model"]  # no half copies left
    files = sorted(p.relative_to(exported) for p in exported.rglob("*"))
    assert sorted(p.relative_to(shared) for p in shared.rglob("*")) == files
    (shared / "data").mkdir()  # a later step reuses the copy with what earlier steps wrote
    assert workspace_copy(pods[0], workspace) == shared
    assert (shared / "data").is_dir()


def test_bad_workspace_is_refused_before_a_kernel(exported: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a folder"):
        workspace_copy(exported, tmp_path / "missing")
    with pytest.raises(UsageError, match="inside the pipeline folder"):
        workspace_copy(exported, exported)
    (exported / "inner").mkdir()
    with pytest.raises(UsageError, match="inside the pipeline folder"):
        workspace_copy(exported, exported / "inner")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "churn-model").symlink_to(outside)
    with pytest.raises(PathError, match="outside the root folder"):
        workspace_copy(exported, workspace)
    cwd = Path.cwd()
    os.chdir(exported)
    try:
        base = ["prep", "notebooks/prep.ipynb", "outputs/prep.ipynb"]
        assert step_main([*base, f"--workspace={tmp_path / 'missing'}"]) == 2
    finally:
        os.chdir(cwd)
    assert not list(outside.iterdir())
    assert not (exported / "outputs").exists()
