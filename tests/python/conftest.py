"""Shared fixtures: a real MLflow SQLite store in ``tmp_path`` and a real Jupyter server.

* ``mlflow_store``: a fresh, migrated SQLite store of its own (copied from a
  session template, so the schema migrations run once per session).
* ``make_run``: creates runs in that store with real ``MlflowClient`` calls.
* ``jp_server_config``: a pytest-jupyter server with the extension enabled,
  ``allow_unauthenticated_access=False`` and ``c.MlopsConfig.tracking_uri``
  pointing at ``mlops_tracking_uri`` (the ``mlflow_store`` unless a module overrides it).
* An autouse fixture restores ``MLFLOW_TRACKING_URI``, ``JUPYTER_MLOPS_ROOT_DIR``
  and ``JUPYTER_MLOPS_PROJECT`` after each test (the server exports them into
  ``os.environ``) and starts every test without them, so no test touches a real store;
  ``JUPYTER_MLOPS_SPOOL_DIR`` and ``JUPYTER_MLOPS_COST_LEDGER`` point into the test's ``tmp_path``.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

MLOPS_ENV = (
    "MLFLOW_TRACKING_URI",
    # MLflow's fluent API sets these in os.environ (set_experiment, start_run)
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_RUN_ID",
    "JUPYTER_MLOPS_ROOT_DIR",
    "JUPYTER_MLOPS_PROJECT",
    "JUPYTER_MLOPS_COST_BUDGETS",
    "JUPYTER_MLOPS_COST_CATALOGUE",
    # a server started in this process books its kernels' cost and says so to its children
    "JUPYTER_MLOPS_COST_BOOKER_PID",
    "JUPYTER_MLOPS_COST_COVERED",
)
TEST_PROJECT = "test-project"

SERIAL_FOLDERS = ("load", "faults")
"""Test folders whose tests measure the machine under a load they make themselves (many
processes, kills, culling): marked ``serial``, so ``make test`` runs them after the parallel
part, alone on the machine."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test in :data:`SERIAL_FOLDERS` ``serial`` (see the Makefile's test-python)."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            folder = item.path.resolve().relative_to(here).parts[0]
        except (ValueError, IndexError):
            continue
        if folder in SERIAL_FOLDERS:
            item.add_marker(pytest.mark.serial)


@pytest.fixture(autouse=True)
def _isolated_mlops_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in MLOPS_ENV:
        # setenv first so monkeypatch records the original value (or its absence)
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    # never the user's real spool folder: servers started by tests sweep it for orphans
    monkeypatch.setenv("JUPYTER_MLOPS_SPOOL_DIR", str(tmp_path / "default-spool"))
    # nor the user's real cost ledger: servers started by tests book their kernels' cost
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", f"sqlite:///{tmp_path / 'cost.db'}")
    # notebook reports (a process rendering with nbconvert per ended run) only where a test
    # asks for them: servers and kernels started by tests inherit this
    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK_REPORT", "0")
    # runs measure their compute cost only where a test asks for it (exact metric sets elsewhere)
    from jupyter_mlops.core.tracking.tracker import Tracker

    monkeypatch.setattr(Tracker, "record_cost", False)


@pytest.fixture(autouse=True)
def _no_mlflow_run_left_active() -> Iterator[None]:
    """End the MLflow runs a test left active in this process (our runs are MLflow's too)."""
    yield
    import sys

    mlflow = sys.modules.get("mlflow")
    if mlflow is None or not hasattr(mlflow, "active_run"):
        return
    for _ in range(16):
        if mlflow.active_run() is None:
            return
        with contextlib.suppress(Exception):  # its store may be gone: MLflow pops it first
            mlflow.end_run()


@dataclass
class MlflowStore:
    """A real MLflow SQLite store in a temporary folder."""

    path: Path
    uri: str
    client: Any  # mlflow.MlflowClient


def open_store(path: Path) -> MlflowStore:
    """An ``MlflowClient`` on the SQLite file at ``path`` (created and migrated if needed)."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{path}"
    return MlflowStore(path=path, uri=uri, client=MlflowClient(tracking_uri=uri))


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    open_store(path).client.search_experiments()
    return path


@pytest.fixture(scope="session")
def new_store(_store_template: Path) -> Callable[[Path], MlflowStore]:
    """``new_store(folder)``: a fresh, empty, migrated store at ``folder/mlflow.db``."""

    def _new(folder: Path) -> MlflowStore:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "mlflow.db"
        shutil.copyfile(_store_template, path)
        return open_store(path)

    return _new


@pytest.fixture
def mlflow_store(tmp_path: Path, new_store: Callable[[Path], MlflowStore]) -> MlflowStore:
    """A fresh, empty MLflow store of this test's own."""
    return new_store(tmp_path / "store")


def create_run(
    client: Any,
    experiment: str = "default-exp",
    *,
    name: str | None = None,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    metrics: Mapping[str, Sequence[float]] | None = None,
    status: str = "FINISHED",
    start_time: int | None = None,
    end_time: int | None = None,
) -> str:
    """Create one run with real MLflow calls; each metric gets one point per value (step = index)."""
    from mlflow.entities import Metric, Param, RunTag

    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(experiment_id, run_name=name, start_time=start_time)
    run_id: str = run.info.run_id
    base = run.info.start_time
    points = [
        Metric(key, float(value), base + step, step)
        for key, values in (metrics or {}).items()
        for step, value in enumerate(values)
    ]
    client.log_batch(
        run_id,
        metrics=points,
        params=[Param(k, v) for k, v in (params or {}).items()],
        tags=[RunTag(k, v) for k, v in (tags or {}).items()],
    )
    if status != "RUNNING":
        client.set_terminated(run_id, status=status, end_time=end_time)
    return run_id


@pytest.fixture(scope="session")
def add_run() -> Callable[..., str]:
    """``add_run(client, experiment, **kwargs)``: :func:`create_run` for any store."""
    return create_run


@pytest.fixture
def make_run(mlflow_store: MlflowStore) -> Callable[..., str]:
    """``make_run(experiment, name=..., params=..., tags=..., metrics=..., status=...) -> run_id``."""

    def _make(experiment: str = "default-exp", **kwargs: Any) -> str:
        return create_run(mlflow_store.client, experiment, **kwargs)

    return _make


@pytest.fixture
def mlops_tracking_uri(mlflow_store: MlflowStore) -> str:
    """The store the test server uses; override in a module to share a bigger store."""
    return mlflow_store.uri


@pytest.fixture
def jp_server_config(mlops_tracking_uri: str) -> Any:
    """A server with jupyter_mlops enabled, authentication required, pointed at the test store."""
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {
                # terminals off: pytest-jupyter would add them, and they are not ours to test
                "jpserver_extensions": {"jupyter_mlops": True, "jupyter_server_terminals": False},
                "allow_unauthenticated_access": False,
            },
            "MlopsConfig": {"tracking_uri": mlops_tracking_uri, "project": TEST_PROJECT},
        }
    )
