"""The public Python API (``jupyter_mlops.start_run`` ...) over the process-wide tracker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import RunStateError
from jupyter_mlops.kernel import api


@pytest.fixture
def api_store(
    mlflow_store: Any, spool_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The process-wide tracker pointed (through the environment) at the test store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_store.uri)
    monkeypatch.setenv("JUPYTER_MLOPS_SPOOL_DIR", str(spool_dir))
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_MLOPS_PROJECT", "api-tests")
    for name in ("JPY_SESSION_NAME", "JUPYTER_MLOPS_NOTEBOOK", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    api._reset_for_tests()
    yield mlflow_store
    api._reset_for_tests()


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    """The (session-wide) IPython shell, its ``In`` history and test names restored afterwards."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    ip = InteractiveShell.instance(config=config)
    saved_in = ip.user_ns.get("In")
    before = set(ip.user_ns)
    yield ip
    for name in set(ip.user_ns) - before:
        del ip.user_ns[name]
    ip.user_ns["In"] = saved_in


def test_context_manager_finishes_the_run(api_store: Any) -> None:
    with mlops.start_run(experiment="api", run_name="cm", params={"lr": 0.1}) as run:
        assert api.active_run() == run.info
        assert run.run_id == run.info.run_id
        mlops.log_metric("acc", 0.5, step=1)
        mlops.log_metrics({"acc": 0.75, "loss": 0.1}, step=2)
        mlops.log_param("epochs", 3)
        mlops.log_params({"batch": 32})
        mlops.set_tag("k", "v")
        mlops.set_tags({"k2": "v2"})
        mlops.flush()
    assert api.active_run() is None
    stored = api_store.client.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.data.metrics == {"acc": 0.75, "loss": 0.1}
    assert stored.data.params == {"lr": "0.1", "epochs": "3", "batch": "32"}
    assert stored.data.tags["mlops.project"] == "api-tests"
    assert stored.data.tags["k2"] == "v2"
    assert api.get_tracker().tracking_uri == api_store.uri


def _raise_inside_a_run(error: BaseException, started: list[str]) -> None:
    with mlops.start_run(experiment="api") as run:
        started.append(run.run_id)
        mlops.log_metric("acc", 0.5)
        raise error


@pytest.mark.parametrize(
    ("error", "status"), [(ValueError("boom"), "FAILED"), (KeyboardInterrupt(), "KILLED")]
)
def test_context_manager_fails_the_run_and_reraises(
    api_store: Any, error: BaseException, status: str
) -> None:
    started: list[str] = []
    with pytest.raises(type(error)):
        _raise_inside_a_run(error, started)
    stored = api_store.client.get_run(started[0])
    assert stored.info.status == status
    assert stored.data.metrics == {"acc": 0.5}  # flushed before ending
    assert api.active_run() is None


def test_ending_inside_the_block_is_fine(api_store: Any) -> None:
    with mlops.start_run(experiment="api") as run:
        assert mlops.end_run("KILLED").run_id == run.run_id
    assert api_store.client.get_run(run.run_id).info.status == "KILLED"


def test_without_a_run(api_store: Any) -> None:
    assert mlops.active_run() is None
    mlops.flush()  # nothing to flush
    with pytest.raises(RunStateError, match="No active run"):
        mlops.log_metric("acc", 1.0)
    with pytest.raises(RunStateError):
        mlops.end_run()
    run = mlops.start_run(experiment="api")  # not as a context manager: stays active
    with pytest.raises(RunStateError, match="already active"):
        mlops.start_run()
    mlops.end_run()
    assert api_store.client.get_run(run.run_id).info.status == "FINISHED"


def _notebook(path: Path, parameters: str) -> None:
    cell: dict[str, object] = {
        "cell_type": "code",
        "metadata": {"tags": ["parameters"]},
        "source": parameters,
        "outputs": [],
        "execution_count": None,
    }
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    )


def test_start_run_logs_notebook_and_papermill_parameters(
    api_store: Any,
    shell: InteractiveShell,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nb = tmp_path / "train.ipynb"
    _notebook(nb, "alpha = 0.5\nname = 'base'\nlayers = [64, 32]\nfn = len\nconfig = {'a': 1}\n")
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK", str(nb))
    shell.user_ns.update(alpha=0.7, name="base", layers=[64, 32], fn=len, config={"a": 1}, epochs=3)
    shell.user_ns["In"] = ["", "# Parameters\nepochs = 3\nalpha = 0.7\n", "x = 1"]
    run = mlops.start_run(params={"name": "explicit"})
    mlops.end_run()
    stored = api_store.client.get_run(run.run_id)
    assert stored.data.params == {
        "alpha": "0.7",  # the value in the kernel, not the notebook's default
        "name": "explicit",  # explicit params win
        "layers": "[64, 32]",
        "config": "{'a': 1}",
        "epochs": "3",  # from papermill's injected cell
    }
    assert run.info.experiment_name == "train"  # the notebook's stem
    assert stored.data.tags["mlflow.source.name"] == "train.ipynb"


def test_importing_the_api_and_core_is_cheap(run_python: Callable[..., Any]) -> None:
    out = run_python(
        """
        import sys
        import jupyter_mlops
        import jupyter_mlops.kernel.api
        import jupyter_mlops.core.tracking.context, jupyter_mlops.core.tracking.delivery, jupyter_mlops.core.tracking.recovery
        import jupyter_mlops.core.tracking.spool, jupyter_mlops.core.tracking.tracker, jupyter_mlops.core.tracking.validation
        heavy = ("mlflow", "IPython", "tornado", "jupyter_server", "ipywidgets", "sqlalchemy")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    ).stdout
    assert out.strip() == "[]"
