"""Retries: each attempt its own child run; real kernels, papermill and a SQLite MLflow store.

The notebooks count their attempts in a file, so "fails the first time" is real.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline import plan_run, run_plan
from jupyter_mlops.core.pipeline.model import LaunchRequest, ProgressEvent
from jupyter_mlops.exceptions import UsageError

COUNT = (
    "import pathlib, time\n"
    "p = pathlib.Path('attempts')\n"
    "p.write_text(str(int(p.read_text() if p.exists() else 0) + 1))\n"
    "attempt = int(p.read_text())\n"
)


def counted(root: Path, name: str, then: str) -> Path:
    """``root/NAME.ipynb``: counts its attempts in ``root/attempts``, then runs ``then``."""
    return write_notebook(root / f"{name}.ipynb", notebook("until = 2", COUNT + then))


def attempts(client: Any, parent: str) -> list[tuple[str, str, str]]:
    """(run name, status, attempt tag) of the parent's children, in attempt order."""
    experiment = client.get_run(parent).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'")
    rows = [(r.info.run_name, r.info.status, r.data.tags[tags.PIPELINE_ATTEMPT]) for r in runs]
    return sorted(rows, key=lambda row: row[2])


@pytest.mark.slow
def test_fails_once_then_passes_with_retry_on_error(tmp_path: Path, mlflow_store: Any) -> None:
    counted(tmp_path, "flaky", "if attempt < until:\n    raise RuntimeError(f'attempt {attempt}')")
    events: list[ProgressEvent] = []
    result = run_plan(
        plan_run("flaky.ipynb", root=tmp_path),
        tracking_uri=mlflow_store.uri,
        retries=1,
        retry_on_error=True,
        backoff=0.1,
        on_event=events.append,
    )
    assert result.status == "FINISHED", [r.error for r in result.results]
    assert (tmp_path / "attempts").read_text() == "2"
    (final,) = result.results
    assert (final.status, final.attempt) == ("FINISHED", 2)
    assert result.executions[0].attempt == 2
    kinds = [e.kind for e in events if e.kind != "progress"]
    assert kinds == ["planned", "started", "retrying", "started", "finished", "done"]
    retrying = next(e for e in events if e.kind == "retrying")
    assert retrying.result is not None
    assert (retrying.result.status, retrying.result.reason) == ("FAILED", "cell_error")
    assert "attempt 1" in (retrying.result.error or "")
    assert retrying.execution is not None
    assert retrying.execution.run_id == result.executions[0].run_id
    assert attempts(mlflow_store.client, result.run_id) == [
        ("flaky", "FAILED", "1"),
        ("flaky (attempt 2)", "FINISHED", "2"),
    ]
    assert mlflow_store.client.get_run(result.run_id).info.status == "FINISHED"


@pytest.mark.slow
def test_failures_are_not_retried_without_retry_on_error_and_retries_run_out(
    tmp_path: Path, mlflow_store: Any
) -> None:
    counted(tmp_path, "bad", "raise RuntimeError('always')")
    plan = plan_run("bad.ipynb", root=tmp_path)
    once = run_plan(plan, tracking_uri=mlflow_store.uri, retries=2)
    assert once.status == "FAILED"
    assert (tmp_path / "attempts").read_text() == "1"
    assert [name for name, *_ in attempts(mlflow_store.client, once.run_id)] == ["bad"]
    twice = run_plan(
        plan_run("bad.ipynb", root=tmp_path),
        tracking_uri=mlflow_store.uri,
        retries=1,
        retry_on_error=True,
        backoff=0,
    )
    assert twice.status == "FAILED"
    assert twice.results[0].attempt == 2
    assert attempts(mlflow_store.client, twice.run_id) == [
        ("bad", "FAILED", "1"),
        ("bad (attempt 2)", "FAILED", "2"),
    ]


@pytest.mark.slow
def test_a_timeout_is_retried(tmp_path: Path, mlflow_store: Any) -> None:
    counted(tmp_path, "slow", "if attempt < until:\n    time.sleep(120)")
    result = run_plan(
        plan_run("slow.ipynb", root=tmp_path, timeout=10),
        tracking_uri=mlflow_store.uri,
        retries=1,
        backoff=0,
    )
    assert result.status == "FINISHED", [r.error for r in result.results]
    assert attempts(mlflow_store.client, result.run_id) == [
        ("slow", "KILLED", "1"),
        ("slow (attempt 2)", "FINISHED", "2"),
    ]
    first = mlflow_store.client.search_runs(
        [result.experiment_id], f"tags.`{tags.PIPELINE_ATTEMPT}` = '1'"
    )[0]
    assert first.data.tags[tags.STATUS_REASON] == "timeout"


def test_bad_retry_input_stores_nothing(tmp_path: Path, mlflow_store: Any) -> None:
    write_notebook(tmp_path / "nb.ipynb", notebook("x = 1", "y = x"))
    plan = plan_run("nb.ipynb", root=tmp_path)
    with pytest.raises(UsageError, match="retries must be a whole number") as info:
        run_plan(plan, tracking_uri=mlflow_store.uri, retries=-1)
    assert "--retries" in (info.value.hint or "")
    with pytest.raises(UsageError, match="backoff"):
        run_plan(plan, tracking_uri=mlflow_store.uri, backoff=-1.0)
    assert mlflow_store.client.search_experiments(filter_string="name = 'nb'") == []
    assert not (tmp_path / "outputs").exists()
    for body, message in (
        ({"retries": -1}, "retries must be an integer from 0 to 10"),
        ({"retries": 11}, "retries must be an integer from 0 to 10"),
        ({"retries": True}, "retries must be an integer"),
        ({"force": "yes"}, "force must be true or false"),
        ({"retry_on_error": 1}, "retry_on_error must be true or false"),
    ):
        with pytest.raises(UsageError, match=message):
            LaunchRequest.from_json({"path": "nb.ipynb", **body})
    request = LaunchRequest.from_json(
        {"path": "nb.ipynb", "force": True, "retries": 3, "retry_on_error": True}
    )
    assert (request.force, request.retries, request.retry_on_error) == (True, 3, True)
