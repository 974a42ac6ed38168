"""plan_run / run_plan: validation before anything runs, sweeps, ordering, MLflow runs.

Plans are checked without kernels; the runs use real kernels, real papermill
and a real SQLite MLflow store.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.environment import EnvironmentSnapshot, take_snapshot
from jupyter_mlops.core.pipeline import export_pipeline, plan_run, run_plan
from jupyter_mlops.core.pipeline.model import ProgressEvent
from jupyter_mlops.exceptions import InvalidValueError, MlopsError, PathError, UsageError

PREP = "rows: int = 3\nseed = 1\n"
TRAIN = "lr: float = 0.1\nseed = 1\nfail = False\n"
PREP_BODY = (
    "import os\nos.makedirs('data', exist_ok=True)\nopen('data/rows.txt', 'w').write(str(rows))"
)
TRAIN_BODY = (
    "import json, os\n"
    "if fail:\n    raise ValueError('training failed')\n"
    "n = int(open('data/rows.txt').read())\n"
    "keys = ['JUPYTER_MLOPS_RUN_ID', 'JUPYTER_MLOPS_NOTEBOOK', 'MLFLOW_EXPERIMENT_ID']\n"
    "json.dump({k: os.environ.get(k) for k in keys}, open('env.json', 'w'))"
)


@functools.cache
def _snapshot() -> EnvironmentSnapshot:
    return take_snapshot(requested_only=True)


def make_pipeline(root: Path, *, extra: str = "") -> Path:
    """``root/pipe``: prep (writes data/rows.txt) -> train (reads it), exported."""
    write_notebook(
        root / "prep.ipynb", notebook(PREP, PREP_BODY, mlops={"outputs": ["data/rows.txt"]})
    )
    write_notebook(
        root / "train.ipynb",
        notebook(TRAIN, TRAIN_BODY + extra, mlops={"inputs": ["data/rows.txt"]}),
    )
    export_pipeline(["train.ipynb", "prep.ipynb"], "pipe", root=root, snapshot=_snapshot())
    return root / "pipe"


@pytest.fixture
def pipe(tmp_path: Path) -> Path:
    return make_pipeline(tmp_path)


# ------------------------------------------------------------------ validation


def test_unknown_name_lists_the_valid_ones(pipe: Path) -> None:
    with pytest.raises(UsageError) as info:
        plan_run(pipe, root=pipe.parent, overrides={"sed": "1"}, from_text=True)
    assert "unknown parameter 'sed'" in info.value.message
    for name in ("prep.rows", "prep.seed", "train.lr", "train.seed", "train.fail"):
        assert name in (info.value.hint or "")


def test_every_error_is_reported_at_once(pipe: Path) -> None:
    with pytest.raises(UsageError) as info:
        plan_run(
            pipe,
            root=pipe.parent,
            overrides={"1x": "1", "class": "2", "train.lr": "fast", "nope.lr": "1"},
            grid={"rows": ["a", "4"]},
            from_text=True,
        )
    text = info.value.message
    assert "'1x' is not a Python identifier" in text
    assert "'class' is a Python keyword" in text
    assert "train.lr: expected a finite float, got 'fast'" in text
    assert "unknown step 'nope'" in text
    assert "grid prep.rows: expected int" in text


def test_a_bad_value_alone_is_an_invalid_value(pipe: Path) -> None:
    with pytest.raises(InvalidValueError, match="expected bool"):
        plan_run(pipe, root=pipe.parent, overrides={"fail": "maybe"}, from_text=True)
    with pytest.raises(InvalidValueError, match="expected int"):
        plan_run(pipe, root=pipe.parent, overrides={"rows": "3"})  # typed: a str is not an int


def test_text_values_are_read_by_type(pipe: Path) -> None:
    plan = plan_run(pipe, root=pipe.parent, overrides={"seed": "7", "fail": "true"}, from_text=True)
    prep, train = plan.executions
    assert prep.parameters == {"rows": 3, "seed": 7}
    assert train.parameters == {"lr": 0.1, "seed": 7, "fail": True}
    assert plan.trials == [{"prep": {"seed": 7}, "train": {"seed": 7, "fail": True}}]


def test_outside_the_root_via_symlink(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    write_notebook(outside / "nb.ipynb", notebook("a = 1"))
    (root / "link.ipynb").symlink_to(outside / "nb.ipynb")
    with pytest.raises(PathError, match="outside the root"):
        plan_run("link.ipynb", root=root)
    with pytest.raises(PathError, match="outside the root"):
        plan_run("../outside/nb.ipynb", root=root)


def test_pipeline_notebook_symlinked_out_of_the_pipeline(pipe: Path, tmp_path: Path) -> None:
    elsewhere = write_notebook(tmp_path / "elsewhere.ipynb", notebook("a = 1"))
    target = pipe / "notebooks" / "prep.ipynb"
    target.unlink()
    target.symlink_to(elsewhere)
    with pytest.raises(UsageError, match="outside the root"):
        plan_run(pipe, root=pipe.parent)


def test_malformed_notebook(tmp_path: Path) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(InvalidValueError, match="not valid JSON"):
        plan_run("bad.ipynb", root=tmp_path)


def test_no_parameters_cell_runs_as_it_is_and_takes_no_values(tmp_path: Path) -> None:
    write_notebook(tmp_path / "sub" / "plain.ipynb", notebook(None, "x = 1"))
    plan = plan_run("sub/plain.ipynb", root=tmp_path)  # as papermill: nothing to inject
    assert [e.parameters for e in plan.executions] == [{}]
    message = "notebook sub/plain.ipynb has no cell tagged 'parameters'"
    for kwargs in (
        {"overrides": {"x": "2"}, "from_text": True},
        {"overrides": {"plain.x": 2}},
        {"grid": {"x": [1, 2]}},
        {"param_sets": [{"x": 1}, {"y": 2}], "overrides": {"x": 1}},
    ):
        with pytest.raises(UsageError) as info:
            plan_run("sub/plain.ipynb", root=tmp_path, **kwargs)  # type: ignore[arg-type]
        assert info.value.message.count(message) == 1, info.value.message
        assert "Add Tag 'parameters'" in info.value.message
        assert "unknown parameter" not in info.value.message
    assert not (tmp_path / "sub" / "outputs").exists()  # nothing written


def test_not_a_pipeline_or_notebook(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match=r"without pipeline\.yaml"):
        plan_run("folder", root=tmp_path)
    with pytest.raises(UsageError, match="not a notebook"):
        plan_run("notes.txt", root=tmp_path)
    write_notebook(tmp_path / "nb.ipynb", notebook("a = 1"))
    with pytest.raises(UsageError, match="positive"):
        plan_run("nb.ipynb", root=tmp_path, timeout=0)


def test_planning_writes_nothing(pipe: Path) -> None:
    before = sorted(p.relative_to(pipe) for p in pipe.rglob("*"))
    plan_run(pipe, root=pipe.parent, grid={"lr": [0.1, 0.2]})
    assert sorted(p.relative_to(pipe) for p in pipe.rglob("*")) == before


# ------------------------------------------------------------------ sweeps and layout


def test_grid_is_a_cartesian_product(pipe: Path) -> None:
    plan = plan_run(
        pipe,
        root=pipe.parent,
        overrides={"prep.seed": "5"},
        grid={"train.lr": ["0.1", "0.3"], "rows": ["1", "2", "3"]},
        from_text=True,
    )
    assert len(plan.trials) == 6
    combos = {(t["train"]["lr"], t["prep"]["rows"]) for t in plan.trials}
    assert combos == {(lr, rows) for lr in (0.1, 0.3) for rows in (1, 2, 3)}
    assert all(t["prep"]["seed"] == 5 for t in plan.trials)
    assert len(plan.executions) == 12
    assert [e.index for e in plan.executions] == list(range(12))
    # each trial: prep then train, train waits for its own trial's prep
    for execution in plan.executions:
        deps = plan.depends[execution.index]
        if execution.step == "train":
            (dep,) = deps
            assert plan.executions[dep].step == "prep"
            assert plan.executions[dep].trial == execution.trial
        else:
            assert deps == []
    # sweep layout: each trial in its own workspace
    cwds = {e.cwd for e in plan.executions}
    assert len(cwds) == 6
    first = plan.executions[0]
    assert Path(first.cwd).parent.parent == pipe / "runs"
    assert Path(first.cwd).name == "t0"
    assert first.output == str(Path(first.cwd) / "outputs" / "prep.ipynb")


def test_param_sets_times_grid_and_nested_names(pipe: Path) -> None:
    plan = plan_run(
        pipe,
        root=pipe.parent,
        param_sets=[{"train": {"lr": 0.5}}, {"seed": 9}],
        grid={"rows": [1, 2]},
    )
    assert len(plan.trials) == 4
    assert plan.trials[0] == {"train": {"lr": 0.5}, "prep": {"rows": 1}}
    assert plan.trials[3] == {"prep": {"seed": 9, "rows": 2}, "train": {"seed": 9}}
    with pytest.raises(UsageError, match="parameter set 0: unknown parameter 'nope'"):
        plan_run(pipe, root=pipe.parent, param_sets=[{"nope": 1}])


def test_too_many_trials(pipe: Path) -> None:
    with pytest.raises(UsageError, match="at most"):
        plan_run(pipe, root=pipe.parent, grid={"rows": list(range(40)), "lr": [0.1] * 40})


def test_single_trial_runs_in_place(pipe: Path) -> None:
    plan = plan_run(pipe, root=pipe.parent)
    assert [e.step for e in plan.executions] == ["prep", "train"]
    assert plan.depends == {0: [], 1: [0]}
    assert all(e.cwd == str(pipe) for e in plan.executions)
    assert plan.executions[1].output == str(pipe / "outputs" / "train.ipynb")
    assert plan.executions[1].env == {"JUPYTER_MLOPS_NOTEBOOK": "pipe/notebooks/train.ipynb"}
    data = plan.to_dict()
    assert data["target"] == "pipe"
    assert data["executions"][1]["output"] == "pipe/outputs/train.ipynb"


def test_notebook_layout(tmp_path: Path) -> None:
    write_notebook(tmp_path / "nbs" / "My Notebook.ipynb", notebook("a = 1"))
    plan = plan_run("nbs/My Notebook.ipynb", root=tmp_path, grid={"a": [1, 2]})
    assert plan.name == "My Notebook"
    first, second = plan.executions
    assert first.step == "my_notebook"
    assert first.cwd == str(tmp_path / "nbs")
    out = Path(second.output)
    assert out.name == "My Notebook.ipynb"
    assert out.parent.name == "t1"
    assert out.parents[2] == tmp_path / "nbs" / "outputs" / "My Notebook"


def test_dependency_order_follows_pipeline_yaml(tmp_path: Path) -> None:
    for name, mlops in (
        ("c.ipynb", {"inputs": ["b.txt"]}),
        ("b.ipynb", {"inputs": ["a.txt"], "outputs": ["b.txt"]}),
        ("a.ipynb", {"outputs": ["a.txt"]}),
        ("d.ipynb", {}),
    ):
        write_notebook(tmp_path / name, notebook("x = 1", mlops=mlops))
    names = ["c.ipynb", "b.ipynb", "a.ipynb", "d.ipynb"]
    export_pipeline(names, "p", root=tmp_path, snapshot=_snapshot())
    plan = plan_run("p", root=tmp_path)
    steps = [e.step for e in plan.executions]
    assert steps.index("a") < steps.index("b") < steps.index("c")
    index = {e.step: e.index for e in plan.executions}
    assert plan.depends[index["c"]] == [index["b"]]
    assert plan.depends[index["d"]] == []


# ------------------------------------------------------------------ running (real kernels)


def _runs(client: Any, experiment: str) -> dict[str, Any]:
    found = client.get_experiment_by_name(experiment)
    return {r.info.run_name: r for r in client.search_runs([found.experiment_id])}


@pytest.mark.slow
def test_run_plan_parent_and_children(pipe: Path, mlflow_store: Any) -> None:
    events: list[ProgressEvent] = []
    plan = plan_run(pipe, root=pipe.parent, overrides={"seed": 4})
    result = run_plan(plan, tracking_uri=mlflow_store.uri, on_event=events.append)
    assert result.status == "FINISHED", [r.error for r in result.results]
    kinds = [(e.kind, e.execution.step if e.execution else None) for e in events]
    kinds = [kind for kind in kinds if kind[0] != "progress"]  # see test_pipeline_progress
    assert kinds == [
        ("planned", None),
        ("started", "prep"),
        ("finished", "prep"),
        ("started", "train"),
        ("finished", "train"),
        ("done", None),
    ]
    assert all(e.run_id for e in events[0].executions)
    runs = _runs(mlflow_store.client, "pipe")
    parent = runs["pipe"]
    assert parent.info.run_id == result.run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mlops.runType"] == "pipeline"
    assert parent.data.tags["mlops.pipeline.path"] == "pipe"
    assert parent.data.params["override.seed"] == "4"
    for step in ("prep", "train"):
        child = runs[step]
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlflow.parentRunId"] == result.run_id
        assert (pipe / "outputs" / f"{step}.ipynb").is_file()
    env = json.loads((pipe / "env.json").read_text())
    assert env["JUPYTER_MLOPS_RUN_ID"] == runs["train"].info.run_id
    assert env["JUPYTER_MLOPS_NOTEBOOK"] == "pipe/notebooks/train.ipynb"
    assert env["MLFLOW_EXPERIMENT_ID"] == result.experiment_id


@pytest.mark.slow
def test_failed_step_skips_its_dependents(pipe: Path, mlflow_store: Any) -> None:
    plan = plan_run(pipe, root=pipe.parent, grid={"fail": [True, False]})
    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=2)
    assert result.status == "FAILED"
    by_name = {
        f"{e.step}-t{e.trial}": r for e, r in zip(result.executions, result.results, strict=True)
    }
    assert by_name["train-t0"].status == "FAILED"
    assert by_name["train-t0"].reason == "cell_error"
    assert "training failed" in (by_name["train-t0"].error or "")
    assert Path(by_name["train-t0"].output or "").is_file()  # kept on failure
    assert by_name["train-t1"].status == "FINISHED"
    runs = _runs(mlflow_store.client, "pipe")
    assert runs["pipe"].info.status == "FAILED"
    assert runs["train-t0"].info.status == "FAILED"
    assert {r.info.status for r in runs.values()} <= {"FINISHED", "FAILED"}
    # each trial had its own workspace: the data file is not shared
    t0, t1 = (Path(result.executions[i].cwd) for i in (0, 2))
    assert (t0 / "data" / "rows.txt").is_file()
    assert not (t0 / "data" / "rows.txt").is_symlink()
    assert not (pipe / "data").exists()
    assert t1 != t0


@pytest.mark.slow
def test_dependency_failure_skips(tmp_path: Path, mlflow_store: Any) -> None:
    pipe = make_pipeline(tmp_path)
    bad = notebook(PREP, "raise RuntimeError('no data')", mlops={"outputs": ["data/rows.txt"]})
    write_notebook(pipe / "notebooks" / "prep.ipynb", bad)
    result = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=mlflow_store.uri)
    prep, train = result.results
    assert prep.status == "FAILED"
    assert train.status == "KILLED"
    assert train.reason == "cancelled"
    assert "skipped" in (train.error or "")
    runs = _runs(mlflow_store.client, "pipe")
    assert runs["train"].info.status == "KILLED"
    assert runs["pipe"].info.status == "FAILED"


@pytest.mark.slow
def test_cancel_kills_the_kernels(tmp_path: Path, mlflow_store: Any) -> None:
    import psutil

    body = "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(300)"
    write_notebook(tmp_path / "sleep.ipynb", notebook("n = 1", body))
    cancel = threading.Event()
    pid_file = tmp_path / "pid"

    def cancel_when_running(event: ProgressEvent) -> None:
        if event.kind != "started":
            return

        def wait() -> None:
            while not pid_file.exists():
                time.sleep(0.1)
            time.sleep(0.2)
            cancel.set()

        threading.Thread(target=wait, daemon=True).start()

    plan = plan_run("sleep.ipynb", root=tmp_path, grid={"n": [1, 2]})
    result = run_plan(
        plan,
        tracking_uri=mlflow_store.uri,
        workers=1,
        on_event=cancel_when_running,
        cancel=cancel,
    )
    assert result.status == "KILLED"
    assert [r.status for r in result.results] == ["KILLED", "KILLED"]
    assert {r.reason for r in result.results} == {"cancelled"}
    kernel = int(pid_file.read_text())
    _, alive = psutil.wait_procs([psutil.Process(kernel)] if psutil.pid_exists(kernel) else [], 10)
    assert not alive
    runs = _runs(mlflow_store.client, "sleep")
    assert {r.info.status for r in runs.values()} == {"KILLED"}
    assert len(runs) == 3


def test_bad_executor_creates_no_runs(pipe: Path, mlflow_store: Any) -> None:
    plan = plan_run(pipe, root=pipe.parent)
    with pytest.raises(UsageError, match="--executor dask"):
        run_plan(plan, tracking_uri=mlflow_store.uri, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(MlopsError, match="unknown executor"):
        run_plan(plan, tracking_uri=mlflow_store.uri, executor="spark")
    assert mlflow_store.client.get_experiment_by_name("pipe") is None
    assert not (pipe / "outputs").exists()


@pytest.mark.slow
def test_lost_worker_is_killed_and_the_pool_recovers(tmp_path: Path, mlflow_store: Any) -> None:
    # the kernel kills its parent: the pool worker running the execution
    body = "import os, signal\nif lose:\n    os.kill(os.getppid(), signal.SIGKILL)"
    write_notebook(tmp_path / "lose.ipynb", notebook("lose = False", body))
    plan = plan_run("lose.ipynb", root=tmp_path, grid={"lose": [True, False]})
    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=1)
    lost, fine = result.results
    assert (lost.status, lost.reason) == ("KILLED", "worker_lost")
    assert fine.status == "FINISHED"
    assert result.status == "KILLED"
    runs = _runs(mlflow_store.client, "lose")
    assert runs["lose-t0"].info.status == "KILLED"
    assert runs["lose-t1"].info.status == "FINISHED"
