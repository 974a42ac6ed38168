"""``%mlops`` / ``%%mlops`` against a real SQLite MLflow store."""

from __future__ import annotations

import asyncio

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

from jupyter_mlops.exceptions import InvalidValueError, RunStateError
from jupyter_mlops.kernel import api
from jupyter_mlops.kernel.magics import MlopsMagicError


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def test_start_log_param_tag_end_round_trip(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic(
        "mlops", 'start --experiment churn --run-name "base line" --tag epic=MLOPS-12 team=ml'
    )
    info = api.active_run()
    assert info is not None
    out = capsys.readouterr().out
    assert info.run_id in out
    assert "'churn'" in out
    assert "MLOps panel" in out
    assert "mlflow ui --backend-store-uri" in out

    ip.run_line_magic("mlops", "log acc=0.5 loss=1.5 --step 1")
    ip.user_ns.update(epoch=2, loss=0.75)
    ip.run_cell("%mlops log acc=0.75 loss={loss} --step {epoch}")
    ip.run_line_magic("mlops", "param lr=0.01 layers=[64,32] optimizer=adam")
    ip.run_line_magic("mlops", "tag dataset=v3")
    ip.run_line_magic("mlops", "end")
    assert api.active_run() is None
    assert f"Ended run {info.run_id}: FINISHED" in capsys.readouterr().out

    client = MlflowClient(store)
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "base line"
    assert client.get_experiment(run.info.experiment_id).name == "churn"
    assert _history(client, info.run_id, "acc") == [(1, 0.5), (2, 0.75)]
    assert _history(client, info.run_id, "loss") == [(1, 1.5), (2, 0.75)]
    assert run.data.params["lr"] == "0.01"
    assert run.data.params["layers"] == "[64, 32]"
    assert run.data.params["optimizer"] == "adam"
    assert run.data.tags["epic"] == "MLOPS-12"
    assert run.data.tags["team"] == "ml"
    assert run.data.tags["dataset"] == "v3"


def test_bad_metric_value_logs_nothing(ip: InteractiveShell, store: str) -> None:
    ip.run_line_magic("mlops", "start --experiment bad-values")
    info = api.active_run()
    assert info is not None
    with pytest.raises(MlopsMagicError) as raised:
        ip.run_line_magic("mlops", "log acc=abc loss=0.2")
    assert isinstance(raised.value.error, InvalidValueError)
    ip.run_line_magic("mlops", "end")
    run = MlflowClient(store).get_run(info.run_id)
    assert run.data.metrics == {}


def test_end_without_a_run_is_a_friendly_error(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell("%mlops end")
    assert isinstance(result.error_in_exec, MlopsMagicError)
    assert isinstance(result.error_in_exec.error, RunStateError)
    text = "".join(capsys.readouterr())
    assert "No active run to end." in text
    assert "Hint: start one with %mlops start" in text
    assert "Traceback" not in text


def test_end_with_status(ip: InteractiveShell, store: str) -> None:
    ip.run_line_magic("mlops", "start --experiment statuses")
    info = api.active_run()
    assert info is not None
    ip.run_line_magic("mlops", "end --status killed")
    assert MlflowClient(store).get_run(info.run_id).info.status == "KILLED"


def test_changing_a_param_is_refused(ip: InteractiveShell, store: str) -> None:
    ip.run_line_magic("mlops", "start --experiment params")
    ip.run_line_magic("mlops", "param lr=0.01")
    with pytest.raises(MlopsMagicError) as raised:
        ip.run_line_magic("mlops", "param lr=0.02")
    assert isinstance(raised.value.error, InvalidValueError)
    ip.run_line_magic("mlops", "end")


def test_cell_run_finishes(ip: InteractiveShell, store: str) -> None:
    result = ip.run_cell(
        "%%mlops run --experiment cells --run-name ok --tag epic=MLOPS-12\n"
        "import jupyter_mlops as mlops\n"
        "for step in range(3):\n"
        "    mlops.log_metric('x', step * 2.0, step=step)\n"
        "cell_value = 42\n"
    )
    assert result.success, result.error_in_exec
    assert ip.user_ns["cell_value"] == 42
    assert api.active_run() is None
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("cells").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["epic"] == "MLOPS-12"
    assert _history(client, run.info.run_id, "x") == [(0, 0.0), (1, 2.0), (2, 4.0)]


def test_cell_run_that_raises_is_failed_and_the_error_shows(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = ip.run_cell(
        "%%mlops run --experiment cells-failing\n"
        "import jupyter_mlops as mlops\n"
        "mlops.log_metric('before', 1.0)\n"
        "1 / 0\n"
    )
    assert not result.success
    assert isinstance(result.error_in_exec, MlopsMagicError)
    text = "".join(capsys.readouterr())
    assert "ZeroDivisionError" in text
    assert "ended FAILED" in text
    assert api.active_run() is None
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("cells-failing").experiment_id])
    assert run.info.status == "FAILED"
    assert _history(client, run.info.run_id, "before") == [(0, 1.0)]


def test_cell_run_with_a_syntax_error_is_failed(ip: InteractiveShell, store: str) -> None:
    result = ip.run_cell("%%mlops run --experiment cells-syntax\nthis is not python\n")
    assert not result.success
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("cells-syntax").experiment_id])
    assert run.info.status == "FAILED"


def test_cell_that_ends_its_own_run_is_left_alone(ip: InteractiveShell, store: str) -> None:
    result = ip.run_cell("%%mlops run --experiment cells-self\n%mlops end --status KILLED\n")
    assert result.success, result.error_in_exec
    client = MlflowClient(store)
    (run,) = client.search_runs([client.get_experiment_by_name("cells-self").experiment_id])
    assert run.info.status == "KILLED"


def test_status_and_open_show_the_run_without_credentials(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("mlops", "status")
    assert "No active run" in capsys.readouterr().out
    ip.run_line_magic("mlops", "start --experiment links")
    info = api.active_run()
    assert info is not None
    ip.run_line_magic("mlops", "status")
    out = capsys.readouterr().out
    assert info.run_id in out
    assert store in out
    ip.run_line_magic("mlops", "end")
    ip.run_line_magic("mlops", "open")  # the last run of the session
    out = capsys.readouterr().out
    assert info.run_id in out
    assert f"/#/experiments/{info.experiment_id}/runs/{info.run_id}" in out


def test_open_without_any_run_is_a_friendly_error(ip: InteractiveShell, store: str) -> None:
    ip.magics_manager.registry["MlopsMagics"].last_run = None
    with pytest.raises(MlopsMagicError) as raised:
        ip.run_line_magic("mlops", "open")
    assert isinstance(raised.value.error, RunStateError)


def test_start_again_ends_the_active_run_and_starts_a_new_one(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running the start cell ("Run All" twice) must not fail the rest of the notebook."""
    ip.run_line_magic("mlops", "start --experiment twice")
    first = api.active_run()
    assert first is not None
    ip.run_line_magic("mlops", "start --experiment twice")
    second = api.active_run()
    try:
        assert second is not None
        assert second.run_id != first.run_id
        assert f"Ended the active run {first.run_id} (FINISHED)" in capsys.readouterr().out
        assert MlflowClient(store).get_run(first.run_id).info.status == "FINISHED"
    finally:
        ip.run_line_magic("mlops", "end")


def test_api_start_while_a_run_is_active_is_refused(ip: InteractiveShell, store: str) -> None:
    """The Python API behaves as mlflow.start_run: a second start without nested raises."""
    api.start_run(experiment="twice")
    try:
        with pytest.raises(RunStateError):
            api.start_run(experiment="twice")
    finally:
        api.end_run()


def test_log_without_a_run_is_a_friendly_error(ip: InteractiveShell, store: str) -> None:
    with pytest.raises(MlopsMagicError) as raised:
        ip.run_line_magic("mlops", "log acc=0.5")
    assert isinstance(raised.value.error, RunStateError)


def test_unload_flushes_and_removes_the_magics(ip: InteractiveShell, store: str) -> None:
    ip.run_line_magic("mlops", "start --experiment unload")
    info = api.active_run()
    assert info is not None
    ip.run_line_magic("mlops", "log m=1 --step 0")
    try:
        ip.run_line_magic("unload_ext", "jupyter_mlops")
        assert "mlops" not in ip.magics_manager.magics["line"]
        history = MlflowClient(store).get_metric_history(info.run_id, "m")
        assert [(m.step, m.value) for m in history] == [(0, 1.0)]
    finally:
        ip.run_line_magic("load_ext", "jupyter_mlops")
    ip.run_line_magic("mlops", "end")


def test_top_level_await_under_a_running_loop_is_refused_before_starting(
    ip: InteractiveShell, store: str
) -> None:
    async def in_kernel_like_loop() -> None:  # ipykernel runs cells inside its event loop
        ip.run_cell_magic("mlops", "run --experiment awaiting", "await asyncio.sleep(0)\n")

    with pytest.raises(MlopsMagicError, match="top-level await"):
        asyncio.run(in_kernel_like_loop())
    assert api.active_run() is None
    assert MlflowClient(store).get_experiment_by_name("awaiting") is None
