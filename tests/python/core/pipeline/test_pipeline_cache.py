"""The pipeline cache and --resume: real kernels, real papermill, a real SQLite MLflow store.

Each notebook appends its step name to ``executed.log`` (outside the pipeline
folder), so "it did not run" is read from what a kernel would have written;
"no kernel, no worker" from the processes alive while the runner reported its
events.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core import tags
from jupyter_mlops.core.environment import EnvironmentSnapshot, take_snapshot
from jupyter_mlops.core.pipeline import export_pipeline, plan_run, run_plan
from jupyter_mlops.core.pipeline.model import ProgressEvent
from jupyter_mlops.exceptions import UsageError

pytestmark = pytest.mark.slow

PREP = "rows: int = 3\n"
PREP_BODY = (
    "import os\nos.makedirs('data', exist_ok=True)\nopen('data/rows.txt', 'w').write(str(rows))"
)
TRAIN = "learning_rate: float = 0.1\n"
TRAIN_BODY = (
    "import jupyter_mlops\n"
    "n = int(open('data/rows.txt').read())\n"
    "open('model.txt', 'w').write(f'{n} {learning_rate}')\n"
    "jupyter_mlops.log_metric('score', n * learning_rate)"
)


@functools.cache
def _snapshot() -> EnvironmentSnapshot:
    return take_snapshot(requested_only=True)


def _logged(step: str, log: Path) -> str:
    return f"open({str(log)!r}, 'a').write({step!r} + '\\n')"


def make_pipeline(root: Path, *, train_extra: str = "") -> Path:
    """``root/pipe``: prep (writes data/rows.txt) -> train (reads it, writes model.txt)."""
    log = root / "executed.log"
    prep = notebook(PREP, PREP_BODY, _logged("prep", log), mlops={"outputs": ["data/rows.txt"]})
    train = notebook(
        TRAIN,
        TRAIN_BODY,
        _logged("train", log),
        *([train_extra] if train_extra else []),
        mlops={"inputs": ["data/rows.txt"], "outputs": ["model.txt"]},
    )
    write_notebook(root / "prep.ipynb", prep)
    write_notebook(root / "train.ipynb", train)
    export_pipeline(["prep.ipynb", "train.ipynb"], "pipe", root=root, snapshot=_snapshot())
    return root / "pipe"


def executed(root: Path) -> list[str]:
    log = root / "executed.log"
    return log.read_text().split() if log.exists() else []


def workers_and_kernels() -> list[str]:
    """Command lines of this process's pool workers and kernels alive now."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in line or "ipykernel" in line:
            found.append(line)
    return found


def children(client: Any, parent: str) -> dict[str, Any]:
    experiment = client.get_run(parent).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
    return {run.info.run_name: run for run in runs}


def test_an_unchanged_pipeline_runs_no_kernel_the_second_time(
    tmp_path: Path, mlflow_store: Any
) -> None:
    pipe = make_pipeline(tmp_path)
    alive: list[list[str]] = []

    def watch(event: ProgressEvent) -> None:
        if event.kind in ("started", "finished"):
            alive.append(workers_and_kernels())

    first = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=mlflow_store.uri, on_event=watch)
    assert first.status == "FINISHED", [r.error for r in first.results]
    assert executed(tmp_path) == ["prep", "train"]
    assert any(alive)  # the check sees the workers of a run that executes
    sources = {e.step: e.run_id for e in first.executions}
    for run in children(mlflow_store.client, first.run_id).values():
        assert len(run.data.tags[tags.PIPELINE_CACHE_KEY]) == 64
        assert tags.PIPELINE_CACHE_HIT not in run.data.tags

    alive.clear()
    second = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=mlflow_store.uri, on_event=watch)
    assert second.status == "FINISHED"
    assert executed(tmp_path) == ["prep", "train"]  # no notebook ran again
    assert len(alive) == 2  # both "finished" events
    assert not any(alive), alive  # no worker, no kernel while it ran
    assert [(r.status, r.reason) for r in second.results] == [("FINISHED", "cached")] * 2
    assert [r.cache_hit for r in second.results] == [sources["prep"], sources["train"]]
    runs = children(mlflow_store.client, second.run_id)
    assert runs["prep"].data.tags[tags.PIPELINE_CACHE_HIT] == sources["prep"]
    assert runs["train"].data.tags[tags.PIPELINE_CACHE_HIT] == sources["train"]
    assert {run.info.status for run in runs.values()} == {"FINISHED"}
    assert runs["train"].data.metrics["score"] == pytest.approx(0.3)
    assert second.results[1].metrics["score"] == pytest.approx(0.3)
    assert "cost_usd" not in runs["train"].data.metrics  # a hit costs nothing
    assert runs["train"].data.params["learning_rate"] == "0.1"
    assert Path(second.results[1].output or "") == pipe / "outputs" / "train.ipynb"
    assert mlflow_store.client.get_run(second.run_id).info.status == "FINISHED"


def test_a_changed_parameter_reruns_that_step_and_what_depends_on_it(
    tmp_path: Path, mlflow_store: Any
) -> None:
    pipe = make_pipeline(tmp_path)

    def run(**overrides: object) -> list[str | None]:
        result = run_plan(plan_run(pipe, root=tmp_path, overrides=overrides), tracking_uri=uri)
        assert result.status == "FINISHED", [r.error for r in result.results]
        return [r.reason for r in result.results]

    uri = mlflow_store.uri
    assert run() == [None, None]
    assert run(**{"train.learning_rate": 0.3}) == ["cached", None]
    assert executed(tmp_path) == ["prep", "train", "train"]
    assert (pipe / "model.txt").read_text() == "3 0.3"
    # learning_rate 0.1 again: the first run has that key, but its outputs were overwritten
    assert run() == ["cached", None]
    assert (pipe / "model.txt").read_text() == "3 0.1"
    assert run(**{"prep.rows": 5}) == [None, None]  # upstream changed: both run
    assert (pipe / "model.txt").read_text() == "5 0.1"
    assert run(**{"prep.rows": 5}) == ["cached", "cached"]
    assert executed(tmp_path) == ["prep", "train", "train", "train", "prep", "train"]


def test_a_changed_input_or_notebook_misses_and_force_runs_all(
    tmp_path: Path, mlflow_store: Any
) -> None:
    pipe = make_pipeline(tmp_path)
    uri = mlflow_store.uri
    assert run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri).status == "FINISHED"
    forced = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri, force=True)
    assert [r.reason for r in forced.results] == [None, None]
    assert executed(tmp_path) == ["prep", "train"] * 2
    # prep's output changed behind the pipeline's back: prep is no hit; it writes "3" again,
    # so train's input is what it was and train is one
    (pipe / "data" / "rows.txt").write_text("7")
    result = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri)
    assert [r.reason for r in result.results] == [None, "cached"]
    assert (pipe / "data" / "rows.txt").read_text() == "3"
    # the notebook changed: its key changes
    train_nb = pipe / "notebooks" / "train.ipynb"
    train_nb.write_text(train_nb.read_text().replace("f'{n} ", "f'{n}  "))
    result = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri)
    assert [r.reason for r in result.results] == ["cached", None]
    assert (pipe / "model.txt").read_text() == "3  0.1"
    assert executed(tmp_path) == ["prep", "train"] * 2 + ["prep", "train"]


def test_sweep_trials_reuse_and_restore_into_their_workspaces(
    tmp_path: Path, mlflow_store: Any
) -> None:
    pipe = make_pipeline(tmp_path)
    grid = {"train.learning_rate": [0.1, 0.2]}
    first = run_plan(plan_run(pipe, root=tmp_path, grid=grid), tracking_uri=mlflow_store.uri)
    assert first.status == "FINISHED"
    assert executed(tmp_path) == ["prep", "train"] * 2
    second = run_plan(plan_run(pipe, root=tmp_path, grid=grid), tracking_uri=mlflow_store.uri)
    assert [r.reason for r in second.results] == ["cached"] * 4
    assert executed(tmp_path) == ["prep", "train"] * 2
    for execution in second.executions:
        workspace = Path(execution.cwd)
        assert workspace not in {Path(e.cwd) for e in first.executions}
        assert (workspace / "data" / "rows.txt").read_text() == "3"
        assert Path(execution.output).is_file()
    models = sorted((Path(e.cwd) / "model.txt").read_text() for e in second.executions[1::2])
    assert models == ["3 0.1", "3 0.2"]


def test_resume_runs_only_what_did_not_finish(tmp_path: Path, mlflow_store: Any) -> None:
    # train fails the first time only (a file counter beside the pipeline)
    counter = tmp_path / "train-attempts"
    flaky = (
        f"import pathlib\np = pathlib.Path({str(counter)!r})\n"
        "p.write_text(str(int(p.read_text() if p.exists() else 0) + 1))\n"
        "if p.read_text() == '1':\n    raise RuntimeError('flaky')"
    )
    pipe = make_pipeline(tmp_path, train_extra=flaky)
    uri = mlflow_store.uri
    first = run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri)
    assert [r.status for r in first.results] == ["FINISHED", "FAILED"]
    prep_run = first.executions[0].run_id
    before = len(mlflow_store.client.search_runs([first.experiment_id]))

    for bad, message in (
        (first.executions[1].run_id, "is not a pipeline run"),
        ("0" * 32, "no run"),
        ("'; drop", "no run"),
    ):
        with pytest.raises(UsageError, match=message) as info:
            run_plan(plan_run(pipe, root=tmp_path), tracking_uri=uri, resume=bad)
        assert "pipeline run" in (info.value.hint or "")
    assert len(mlflow_store.client.search_runs([first.experiment_id])) == before

    # force: nothing from the experiment's cache, only what the resumed run finished
    resumed = run_plan(
        plan_run(pipe, root=tmp_path), tracking_uri=uri, resume=first.run_id, force=True
    )
    assert resumed.status == "FINISHED", [r.error for r in resumed.results]
    assert [r.reason for r in resumed.results] == ["cached", None]
    assert resumed.results[0].cache_hit == prep_run
    assert executed(tmp_path) == ["prep", "train", "train"]  # prep did not run again
    assert counter.read_text() == "2"
    parent = mlflow_store.client.get_run(resumed.run_id)
    assert parent.data.tags[tags.PIPELINE_RESUMED_FROM] == first.run_id
    assert parent.info.status == "FINISHED"


def test_resume_of_another_pipeline_stores_nothing(tmp_path: Path, mlflow_store: Any) -> None:
    pipe = make_pipeline(tmp_path)
    write_notebook(tmp_path / "other.ipynb", notebook("x = 1", "y = x"))
    other = run_plan(plan_run("other.ipynb", root=tmp_path), tracking_uri=mlflow_store.uri)
    with pytest.raises(UsageError, match="not of 'pipe'"):
        run_plan(plan_run(pipe, root=tmp_path), tracking_uri=mlflow_store.uri, resume=other.run_id)
    assert mlflow_store.client.get_experiment_by_name("pipe") is None
    assert not (pipe / "outputs").exists()


def test_a_launch_reports_cache_hits_and_force_runs_again(
    tmp_path: Path, mlflow_store: Any
) -> None:
    from jupyter_mlops.core.pipeline.launches import LaunchRegistry
    from jupyter_mlops.core.pipeline.model import LaunchRequest

    make_pipeline(tmp_path)
    registry = LaunchRegistry(tmp_path, tracking_uri=mlflow_store.uri)

    def launch(body: dict[str, Any]) -> dict[str, Any]:
        request = LaunchRequest.from_json(body)
        started = registry.start(registry.plan(request), request)
        done = started
        deadline = time.monotonic() + 120
        while done["status"] not in ("FINISHED", "FAILED", "KILLED"):
            assert time.monotonic() < deadline, done
            time.sleep(0.1)
            done = registry.get(started["id"])
        assert done["status"] == "FINISHED", done
        return done

    first = launch({"path": "pipe"})
    second = launch({"path": "pipe"})
    assert [e["cache_hit"] for e in second["executions"]] == [
        e["run_id"] for e in first["executions"]
    ]
    assert [e["reason"] for e in second["executions"]] == ["cached", "cached"]
    assert [e["attempt"] for e in second["executions"]] == [1, 1]
    forced = launch({"path": "pipe", "force": True})
    assert [e["cache_hit"] for e in forced["executions"]] == [None, None]
    assert executed(tmp_path) == ["prep", "train"] * 2


def test_no_run_end_cost_metric_passes_for_the_notebooks_own() -> None:
    """Every metric ``run_cost_metrics`` logs (in any currency, with carbon) is ours, not the
    notebook's: a cache hit does not copy it and a launch does not list it as a result."""
    from jupyter_mlops.core.cost.carbon import world_average
    from jupyter_mlops.core.cost.metrics import run_cost_metrics
    from jupyter_mlops.core.cost.totals import Totals
    from jupyter_mlops.core.pipeline.cache import reusable_metrics

    carbon = world_average()
    for currency in ("USD", "EUR"):
        logged = run_cost_metrics(Totals(), currency, carbon)
        assert "co2e_g" in logged
        assert reusable_metrics({**logged, "score": 0.9}) == {"score": 0.9}
