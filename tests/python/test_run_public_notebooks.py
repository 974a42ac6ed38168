"""Papermill parity: public notebooks we did not write, run by ``jupyter mlops run`` and by papermill.

Each case runs the same notebook with the same ``-p`` values through both CLIs
(real kernels, a real SQLite MLflow store for ours) and checks the same
outcome: both succeed, the same injected ``parameters`` cell, the same printed
output. The fixtures and their sources are in ``fixtures/public_notebooks/``.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from child_python import project_env, python

from jupyter_mlops.core.pipeline import plan_run
from jupyter_mlops.core.pipeline.launches import LaunchRegistry
from jupyter_mlops.core.pipeline.model import LaunchRequest
from jupyter_mlops.exceptions import MlopsError, ParameterError
from jupyter_mlops.server.errors import http_status

FIXTURES = Path(__file__).parent / "fixtures" / "public_notebooks"
UNTAGGED = "notebook no_parameters.ipynb has no cell tagged 'parameters'"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project folder holding a copy of the public notebooks."""
    folder = tmp_path / "project"
    shutil.copytree(FIXTURES, folder)
    return folder


def _run(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    # built here, not from the autouse fixture's environment: a module fixture runs before it
    return python("-m", *argv, cwd=root, env=project_env(root), timeout=400)


def mlops_run(root: Path, notebook: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(root, "jupyter_mlops.cli.main", "run", notebook, *args, "--format", "json")


def papermill_run(
    root: Path, notebook: str, *args: str, output: str = "papermill-out.ipynb"
) -> subprocess.CompletedProcess[str]:
    return _run(root, "papermill", notebook, output, "--no-progress-bar", *args)


def _injected_and_printed(path: Path) -> tuple[list[str], list[str]]:
    """The injected parameters cell's source (none: ``[]``) and each code cell's stdout."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    injected = [
        "".join(c["source"])
        for c in cells
        if "injected-parameters" in c.get("metadata", {}).get("tags", [])
    ]
    printed = [
        "".join(o.get("text", ""))
        for c in cells
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    ]
    return injected, printed


# (notebook, our arguments, papermill's -p values per trial, what the notebook prints per trial)
CASES: dict[str, tuple[str, list[str], list[list[str]], list[str]]] = {
    "no-values": ("simple_execute.ipynb", [], [[]], ["None\n"]),
    "untyped-values": (
        "simple_execute.ipynb",
        ["--grid", "msg=5,True,1.5,None,hello"],  # one run, a trial per value
        [["-p", "msg", v] for v in ("5", "True", "1.5", "None", "hello")],
        ["5\n", "True\n", "1.5\n", "None\n", "hello\n"],
    ),
    "typed-values": (
        "report_mode_test.ipynb",
        ["-p", "a", "5", "-p", "b", "3"],
        [["-p", "a", "5", "-p", "b", "3"]],
        ["8\n"],
    ),
    "no-parameters-cell": ("no_parameters.ipynb", [], [[]], ["None\n"]),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case run by both CLIs (a few processes at once: fewer minutes, same outcomes)."""
    jobs: dict[tuple[str, int], Callable[[], subprocess.CompletedProcess[str]]] = {}
    roots: dict[str, Path] = {}
    for name, (notebook, ours, theirs, _) in CASES.items():
        root = roots[name] = tmp_path_factory.mktemp(name)
        shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
        jobs[name, -1] = functools.partial(mlops_run, root, notebook, *ours)
        for trial, args in enumerate(theirs):
            output = f"papermill-t{trial}.ipynb"
            jobs[name, trial] = functools.partial(
                papermill_run, root, notebook, *args, output=output
            )
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        done = {key: future.result() for key, future in futures.items()}
    return {"done": done, "roots": roots}


@pytest.mark.slow
@pytest.mark.xdist_group("public-notebooks")  # one worker computes `outcomes`, not each
@pytest.mark.parametrize("case", list(CASES))
def test_same_outcome_as_papermill(outcomes: dict[str, Any], case: str) -> None:
    _, _, theirs, printed = CASES[case]
    root, ours = outcomes["roots"][case], outcomes["done"][case, -1]
    assert ours.returncode == 0, ours.stderr
    body = json.loads(ours.stdout)
    assert [r["status"] for r in body["results"]] == ["FINISHED"] * len(theirs)
    for trial, result in enumerate(body["results"]):
        papermill = outcomes["done"][case, trial]
        assert papermill.returncode == 0, papermill.stderr
        our_injected, our_printed = _injected_and_printed(Path(result["output"]))
        their_injected, their_printed = _injected_and_printed(root / f"papermill-t{trial}.ipynb")
        assert our_injected == their_injected
        assert bool(our_injected) == bool(theirs[trial])  # nothing injected without values
        assert our_printed == their_printed
        assert printed[trial] in our_printed
    if case == "untyped-values":
        values = [5, True, 1.5, None, "hello"]
        assert body["trials"] == [{"simple_execute": {"msg": v}} for v in values]


@pytest.mark.parametrize(
    "args",
    [
        ["-p", "msg", "5"],
        ["--grid", "msg=1,2"],
        ["-p", "no_parameters.msg", "5", "-p", "other", "1"],
    ],
)
def test_values_for_a_notebook_without_parameters_cell_exit_2(root: Path, args: list[str]) -> None:
    done = mlops_run(root, "no_parameters.ipynb", *args)
    assert done.returncode == 2, done.stderr
    assert UNTAGGED in done.stderr
    assert done.stderr.count(UNTAGGED) == 1
    assert "Add Tag 'parameters'" in done.stderr
    assert "or run it without parameters" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "outputs").exists()  # nothing written
    assert not (root / "mlflow.db").exists()


def test_values_file_for_a_notebook_without_parameters_cell_exits_2(root: Path) -> None:
    (root / "values.yaml").write_text("msg: 5\n", encoding="utf-8")
    done = mlops_run(root, "no_parameters.ipynb", "-f", "values.yaml")
    assert done.returncode == 2, done.stderr
    assert UNTAGGED in done.stderr
    assert not (root / "outputs").exists()


@pytest.mark.slow
def test_a_broken_parameters_cell_fails_both_and_we_refuse_before_running(root: Path) -> None:
    theirs = papermill_run(root, "complex_parameters.ipynb")
    assert theirs.returncode != 0
    assert "SyntaxError" in theirs.stderr
    ours = mlops_run(root, "complex_parameters.ipynb")
    assert ours.returncode == 2, ours.stderr
    assert "the parameters cell (cell 0) is not valid Python" in ours.stderr
    assert not (root / "outputs").exists()


def _panel_plan(root: Path, body: dict[str, Any]) -> Any:
    registry = LaunchRegistry(root, tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    return registry.plan(LaunchRequest.from_json(body))


def test_panel_launch_takes_json_values_as_they_are(root: Path) -> None:
    """The panel sends JSON values (typed already): the plan keeps them, no text reading."""
    for value in (5, True, None, 1.5, "5", "hello"):
        plan = _panel_plan(root, {"path": "simple_execute.ipynb", "parameters": {"msg": value}})
        assert plan.executions[0].parameters == {"msg": value}
    plan = _panel_plan(root, {"path": "simple_execute.ipynb", "grid": {"msg": [5, "x"]}})
    assert [e.parameters for e in plan.executions] == [{"msg": 5}, {"msg": "x"}]
    # the CLI's text, read as papermill reads it, gives the panel's JSON values
    cli = plan_run(
        root / "simple_execute.ipynb", root=root, grid={"msg": ["5", "x"]}, from_text=True
    )
    assert [e.parameters for e in cli.executions] == [{"msg": 5}, {"msg": "x"}]


def test_panel_launch_of_a_notebook_without_parameters_cell(root: Path) -> None:
    plan = _panel_plan(root, {"path": "no_parameters.ipynb"})
    assert [e.parameters for e in plan.executions] == [{}]
    with pytest.raises(ParameterError) as info:
        _panel_plan(root, {"path": "no_parameters.ipynb", "parameters": {"msg": 5}})
    assert isinstance(info.value, MlopsError)
    assert http_status(info.value) == 400
    (error,) = info.value.errors
    assert error.startswith(UNTAGGED)
    assert str(root) not in error
