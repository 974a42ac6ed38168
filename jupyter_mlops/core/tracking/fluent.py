"""Our run *is* MLflow's active run: the bridge to MLflow's fluent API.

MLflow keeps the active run of each thread on a stack (``mlflow.start_run`` /
``mlflow.active_run`` / ``mlflow.end_run``). A :class:`~.tracking.Tracker` run
is pushed onto that stack with MLflow's public ``mlflow.start_run(run_id=...)``,
so every MLflow call in the notebook (``mlflow.log_*``, ``set_tag``,
``autolog`` of any flavour, ``<flavor>.log_model``, ``log_input``,
``log_figure``, ``log_table``) lands in it, and it is ended with
``mlflow.end_run`` so that MLflow's stack and the store agree.

Only public MLflow functions and MLflow's documented environment variables
(``MLFLOW_RUN_ID``, ``MLFLOW_EXPERIMENT_ID``, ``MLFLOW_TRACKING_URI``, which
``mlflow.set_experiment`` and ``mlflow.set_tracking_uri`` set) are used.
MLflow is never imported here just to look: when the user has not imported
it, no MLflow run can be active in this process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# the experiment push() made MLflow's active one (not the user's choice)
_experiment_set: str | None = None

__all__ = [
    "active_run_id",
    "end",
    "env_experiment_id",
    "env_run_id",
    "is_active",
    "push",
]


def _mlflow() -> Any | None:
    """The ``mlflow`` module if this process imported it, else None (never imports it)."""
    module = sys.modules.get("mlflow")
    return module if module is not None and hasattr(module, "active_run") else None


def active_run_id() -> str | None:
    """The id of MLflow's active run in this thread, or None."""
    mlflow = _mlflow()
    if mlflow is None:
        return None
    try:
        run = mlflow.active_run()
    except Exception:  # a half-imported or broken mlflow: nothing is active for us
        return None
    return None if run is None else str(run.info.run_id)


def is_active(run_id: str) -> bool:
    """Whether ``run_id`` is MLflow's active run in this thread."""
    return active_run_id() == run_id


def env_run_id() -> str | None:
    """``$MLFLOW_RUN_ID`` (the run MLflow's next ``start_run`` resumes), or None."""
    value = os.environ.get("MLFLOW_RUN_ID", "").strip()
    return value or None


def env_experiment_id() -> str | None:
    """``$MLFLOW_EXPERIMENT_ID`` as the user set it (``mlflow.set_experiment``), or None.

    The value :func:`push` itself had to set is not the user's choice.
    """
    value = os.environ.get("MLFLOW_EXPERIMENT_ID", "").strip()
    return value if value and value != _experiment_set else None


def push(run_id: str, experiment_id: str, tracking_uri: str, *, nested: bool = False) -> None:
    """Make ``run_id`` MLflow's active run in this thread (``mlflow.start_run(run_id=...)``).

    MLflow's tracking URI is set to ``tracking_uri`` first, so that the run is
    found and every later fluent call goes to the same store. When MLflow's
    active experiment (``mlflow.set_experiment``) is another one, MLflow refuses
    to resume the run: then the active experiment becomes the run's, and
    :func:`env_experiment_id` no longer counts it as the user's choice.
    """
    from jupyter_mlops.core.tracking.store import import_mlflow

    import_mlflow()
    import mlflow

    if active_run_id() == run_id:
        return
    if mlflow.get_tracking_uri() != tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.start_run(run_id=run_id, nested=nested, log_system_metrics=False)
    except mlflow.exceptions.MlflowException as exc:
        if "does not match" not in str(exc):
            raise
        # MLflow's active experiment (set_experiment) is another one: follow the run's
        global _experiment_set
        mlflow.set_experiment(experiment_id=experiment_id)
        _experiment_set = experiment_id
        mlflow.start_run(run_id=run_id, nested=nested, log_system_metrics=False)


def _descends_from(mlflow: Any, run_id: str, ancestor: str) -> bool:
    """Whether run ``run_id`` is a (grand)child of ``ancestor``, following ``mlflow.parentRunId``."""
    client = mlflow.MlflowClient()
    seen: set[str] = set()
    while run_id not in seen and len(seen) < 64:
        seen.add(run_id)
        parent = client.get_run(run_id).data.tags.get("mlflow.parentRunId")
        if not parent:
            return False
        if parent == ancestor:
            return True
        run_id = parent
    return False


def end(run_id: str, status: str) -> bool:
    """End ``run_id`` through MLflow if it is on MLflow's run stack here; whether it was.

    Runs nested inside it that are still active are ended first, with the same
    status (as leaving a ``with mlflow.start_run()`` block would). A run that
    MLflow has ended already (``mlflow.end_run()`` by the user) is left alone,
    and so is any active run that is not nested in ``run_id``.
    """
    mlflow = _mlflow()
    if mlflow is None:
        return False
    for _ in range(64):
        current = active_run_id()
        if current is None:
            return False
        if current == run_id:
            mlflow.end_run(status=status)
            return True
        if not _descends_from(mlflow, current, run_id):
            return False
        mlflow.end_run(status=status)  # a run nested in ours: it ends with it
    return False
