"""``execute(execution)``: one notebook of a pipeline run, with real kernels and papermill.

Each test runs real kernels against a real MLflow SQLite store in ``tmp_path``;
the child run is created here the way the runner creates it (status RUNNING,
``JUPYTER_MLOPS_RUN_ID`` etc. in ``execution.env``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.pipeline.execute import execute
from jupyter_mlops.core.pipeline.model import Execution
from jupyter_mlops.core.tracking.tracker import Tracker

pytestmark = pytest.mark.slow

Make = Callable[..., Execution]


@pytest.fixture
def pipeline_env(spool_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Worker and kernels share this test's spool folder."""
    monkeypatch.setenv("JUPYTER_MLOPS_SPOOL_DIR", str(spool_dir))
    return spool_dir


@pytest.fixture
def make_execution(tmp_path: Path, mlflow_store: Any, pipeline_env: Path) -> Make:
    """``make_execution(params, *cells, tracked=True, **fields)``: a notebook and its Execution."""
    client = mlflow_store.client
    experiment_id = client.create_experiment("pipe")
    counter = iter(range(1000))

    def make(params: str | None, *cells: str, tracked: bool = True, **fields: Any) -> Execution:
        index = next(counter)
        source = write_notebook(tmp_path / f"nb{index}.ipynb", notebook(params, *cells))
        values: dict[str, Any] = fields.pop("parameters", {})
        run_id = None
        env: dict[str, str] = fields.pop("env", {})
        if tracked:
            run_id = client.create_run(experiment_id, run_name=f"step{index}").info.run_id
            env = {
                **env,
                "JUPYTER_MLOPS_RUN_ID": run_id,
                "MLFLOW_TRACKING_URI": mlflow_store.uri,
                "MLFLOW_EXPERIMENT_ID": experiment_id,
                "JUPYTER_MLOPS_NOTEBOOK": source.name,
            }
        return Execution(
            index=index,
            trial=fields.pop("trial", 0),
            step=fields.pop("step", "train"),
            notebook=str(source),
            output=str(tmp_path / "out" / "deep" / f"nb{index}.ipynb"),
            cwd=str(tmp_path),
            parameters=values,
            run_id=run_id,
            tracking_uri=mlflow_store.uri if tracked else None,
            env=env,
            **fields,
        )

    return make


TRACKED_CELLS = (
    "%load_ext jupyter_mlops\n%mlops log acc=0.9",
    "import jupyter_mlops as mlops\nmlops.log_metric('loss', lr * 2, step=1)",
    "with mlops.start_run():\n    mlops.log_metric('inner', 1.0)",
    "%mlops start\n%mlops log after=2\n%mlops param extra=yes\n%mlops end",
    "mlops.log_metric('last', 3.0)  # attaches again; never flushed by the kernel",
)


def test_success_tracks_everything_in_the_child_run(
    make_execution: Make, mlflow_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK_REPORT", "1")  # with the execution's report
    execution = make_execution(
        "lr = 0.1\nname = 'a'",
        *TRACKED_CELLS,
        parameters={"lr": 0.25, "name": "b"},
        step="fit",
        trial=3,
    )
    result = execute(execution)

    assert (result.status, result.reason, result.error) == ("FINISHED", None, None)
    assert result.output == execution.output
    assert Path(execution.output).exists()
    assert result.started is not None and result.ended is not None  # noqa: PT018
    client = mlflow_store.client
    run = client.get_run(execution.run_id)
    assert run.info.status == "RUNNING"  # the runner, not the kernel or execute, ends it
    assert run.data.params == {"lr": "0.25", "name": "b", "extra": "yes"}
    tags = run.data.tags
    assert tags["mlops.pipeline.step"] == "fit"
    assert tags["mlops.pipeline.trial"] == "3"
    assert tags["mlops.notebook"] == Path(execution.notebook).name
    assert tags["mlops.env.hash"]
    metrics = run.data.metrics
    assert {
        "acc": 0.9,
        "loss": 0.5,
        "inner": 1.0,
        "after": 2.0,
        "last": 3.0,
    }.items() <= metrics.items()
    assert {"cost_usd", "cpu_core_hours", "energy_kwh"} <= set(metrics)
    assert result.metrics == metrics
    assert set(result.cost) >= {"cost_usd", "cpu_core_hours"}
    assert result.cost["cost_usd"] == metrics["cost_usd"]
    artifacts = {a.path for a in client.list_artifacts(execution.run_id, "notebook")}
    stem = Path(execution.output).stem
    assert artifacts == {f"notebook/{stem}.ipynb", f"notebook/{stem}.html"}  # + its report
    env_files = {a.path for a in client.list_artifacts(execution.run_id, "environment")}
    assert "environment/environment.yml" in env_files
    assert not list(Path(os.environ["JUPYTER_MLOPS_SPOOL_DIR"]).glob("*.jsonl"))


def test_cell_error_fails_with_the_cell_index_and_keeps_the_output(
    make_execution: Make, mlflow_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK_REPORT", "1")  # with the execution's report
    execution = make_execution("x = 1", "y = x + 1", "raise ValueError(f'bad {y}')", "z = 3")
    result = execute(execution)

    assert (result.status, result.reason) == ("FAILED", "cell_error")
    assert result.error == "ValueError: bad 2"
    assert result.cell_index == 2  # in the source notebook: parameters cell is 0
    saved = json.loads(Path(execution.output).read_text(encoding="utf-8"))
    assert any(o.get("ename") == "ValueError" for c in saved["cells"] for o in c.get("outputs", []))
    listed = mlflow_store.client.list_artifacts(execution.run_id, "notebook")
    stem = Path(execution.output).stem
    assert sorted(a.path for a in listed) == [f"notebook/{stem}.html", f"notebook/{stem}.ipynb"]
    report = mlflow_store.client.download_artifacts(
        execution.run_id, f"notebook/{stem}.html", str(Path(execution.output).parent)
    )
    assert "ValueError" in Path(report).read_text(encoding="utf-8")  # the failure is in it


def test_a_killed_kernel_is_killed_and_what_it_logged_is_kept(
    make_execution: Make, mlflow_store: Any
) -> None:
    execution = make_execution(
        "x = 1",
        "import jupyter_mlops as mlops\nmlops.log_metric('before', 7.0)",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "mlops.log_metric('after', 1.0)",
    )
    result = execute(execution)

    assert (result.status, result.reason) == ("KILLED", "kernel_died")
    assert Path(execution.output).exists()
    # the kernel never flushed: its spool is delivered by the executor
    assert result.metrics["before"] == 7.0
    assert "after" not in result.metrics
    assert mlflow_store.client.get_run(execution.run_id).info.status == "RUNNING"


def test_timeout_kills_the_kernel_and_keeps_the_output(
    make_execution: Make, tmp_path: Path
) -> None:
    import psutil

    pid_file = tmp_path / "kernel.pid"
    execution = make_execution(
        f"pid_file = {str(pid_file)!r}",
        "import os\nopen(pid_file, 'w').write(str(os.getpid()))",
        "import time\ntime.sleep(60)",
        tracked=False,
        timeout=3,
    )
    result = execute(execution)

    assert (result.status, result.reason) == ("KILLED", "timeout")
    assert result.output == execution.output
    saved = json.loads(Path(execution.output).read_text(encoding="utf-8"))
    assert "".join(saved["cells"][-1]["source"]) == "import time\ntime.sleep(60)"
    assert saved["cells"][-2]["execution_count"] is not None  # ran before the deadline
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_untracked_execution_is_a_proper_result(
    make_execution: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a worker inside a tracked kernel: its run id must not leak into this kernel
    monkeypatch.setenv("JUPYTER_MLOPS_RUN_ID", "0123456789abcdef")
    seen = tmp_path / "env.json"
    execution = make_execution(
        f"seen = {str(seen)!r}",
        "import json, os\nnames = ('JUPYTER_MLOPS_RUN_ID', 'MY_SETTING')\n"
        "open(seen, 'w').write(json.dumps({n: os.environ.get(n) for n in names}))",
        tracked=False,
        env={"MY_SETTING": "on"},
    )
    result = execute(execution)
    assert (result.status, result.metrics, result.cost) == ("FINISHED", {}, {})
    assert result.duration is not None and result.duration > 0  # noqa: PT018
    assert json.loads(seen.read_text()) == {"JUPYTER_MLOPS_RUN_ID": None, "MY_SETTING": "on"}
    assert "MY_SETTING" not in os.environ  # set for the kernel only


def test_bad_input_is_a_failed_result_not_an_exception(make_execution: Make) -> None:
    execution = make_execution("x = 1", tracked=False)
    missing = Execution(**{**execution.to_dict(), "notebook": execution.notebook + ".gone"})
    result = execute(missing)
    assert (result.status, result.reason) == ("FAILED", "error")
    assert result.error

    no_kernel = Execution(**{**execution.to_dict(), "kernel_name": "no-such-kernel"})
    result = execute(no_kernel)
    assert (result.status, result.reason) == ("FAILED", "error")
    assert "no-such-kernel" in (result.error or "")


def test_paths_with_braces_are_not_formatted(make_execution: Make, tmp_path: Path) -> None:
    execution = make_execution("x = 1", "y = x", tracked=False, parameters={"x": 2})
    odd = Execution(**{**execution.to_dict(), "output": str(tmp_path / "{x}" / "o{}.ipynb")})
    result = execute(odd)
    assert result.status == "FINISHED"
    assert (tmp_path / "{x}" / "o{}.ipynb").exists()


def test_parallel_executions_use_ipc_and_all_finish(make_execution: Make, tmp_path: Path) -> None:
    body = (
        "import json, ipykernel.connect\n"
        "info = ipykernel.connect.get_connection_info(unpack=True)\n"
        "open(out, 'w').write(json.dumps(info['transport']))"
    )
    executions = [
        make_execution("out = ''", body, tracked=False, parameters={"out": str(tmp_path / f"{i}")})
        for i in range(6)
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=6, mp_context=context) as pool:
        results = list(pool.map(execute, executions))

    assert [r.status for r in results] == ["FINISHED"] * 6, [r.error for r in results]
    assert all(json.loads((tmp_path / f"{i}").read_text()) == "ipc" for i in range(6))


ECHO = "import json\nwith open(out, 'w', encoding='utf-8') as f:\n    json.dump(value, f)"


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    value=st.text(
        # lone surrogates cannot be written to a UTF-8 notebook (papermill fails cleanly)
        alphabet=st.characters(blacklist_categories=["Cs"]),
        max_size=40,
    )
    | st.sampled_from(['"', "'''", '\\"', "\\", 'a\\\n"b', "\x00", "é€😀\u2028"])
)
def test_string_parameters_arrive_exactly(make_execution: Make, tmp_path: Path, value: str) -> None:
    out = tmp_path / "echo.json"
    out.unlink(missing_ok=True)
    execution = make_execution(
        "value = ''\nout = ''", ECHO, tracked=False, parameters={"value": value, "out": str(out)}
    )
    result = execute(execution)
    assert result.status == "FINISHED", result.error
    assert json.loads(out.read_text(encoding="utf-8")) == value


# -- the kernel side, in process: a Tracker under a pipeline execution ------------------


def test_tracker_attaches_to_the_execution_run(
    make_tracker: Callable[..., Tracker], mlflow_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = mlflow_store.client
    run_id = client.create_run(client.create_experiment("attach")).info.run_id
    client.log_param(run_id, "lr", "0.1")
    monkeypatch.setenv("JUPYTER_MLOPS_RUN_ID", run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.uri)
    tracker = make_tracker()

    tracker.log_metric("auto", 1.0)  # no start: attaches by itself
    assert tracker.active is not None
    assert tracker.active.run_id == run_id
    again = tracker.start_run(params={"lr": 0.1, "new": 1}, tags={"who": "nb"})
    assert again.run_id == run_id
    tracker.end_run("FAILED")  # flushes; the status is the executor's
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"
    assert run.data.metrics == {"auto": 1.0}
    assert run.data.params == {"lr": "0.1", "new": "1"}
    assert run.data.tags["who"] == "nb"

    info = tracker.start_run()  # a second start re-attaches
    assert info.run_id == run_id
    tracker.log_metric("second", 2.0)
    tracker.close()  # interpreter exit: flushed, not ended
    run = client.get_run(run_id)
    assert run.info.status == "RUNNING"
    assert run.data.metrics["second"] == 2.0
    assert tracker.record_environment  # unchanged: attached runs skip it, others do not


def test_tracker_refuses_a_finished_execution_run(
    make_tracker: Callable[..., Tracker], mlflow_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.exceptions import UsageError

    client = mlflow_store.client
    run_id = client.create_run(client.create_experiment("over")).info.run_id
    client.set_terminated(run_id, "FINISHED")
    monkeypatch.setenv("JUPYTER_MLOPS_RUN_ID", run_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.uri)
    with pytest.raises(UsageError, match="already over"):
        make_tracker().start_run()
