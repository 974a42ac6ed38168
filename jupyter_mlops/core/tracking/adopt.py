"""Adopt MLflow's run instead of starting another one, and pick a run's experiment as MLflow would.

When the user has started an MLflow run already (``mlflow.start_run()``, or
``$MLFLOW_RUN_ID`` set by ``mlflow run`` or a scheduler), a
:class:`~jupyter_mlops.core.tracking.tracker.Tracker` start *adopts* that run: it
records our context tags, environment and cost on it and logs into it; no
second run is created. See :mod:`jupyter_mlops.core.tracking.fluent` for the other
direction (our run becomes MLflow's active run).
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_mlops.core.models import RunInfo
from jupyter_mlops.core.tracking import fluent
from jupyter_mlops.core.tracking.store import redact_uri
from jupyter_mlops.exceptions import MlopsError, StoreError, UsageError

__all__ = ["adoptable_run", "adopted_run", "default_experiment", "mlflow_tracking_uri"]


def adoptable_run() -> str | None:
    """The MLflow run a start should adopt: MLflow's active run, else ``$MLFLOW_RUN_ID``."""
    return fluent.active_run_id() or fluent.env_run_id()


def mlflow_tracking_uri(default: str) -> str:
    """The store MLflow's fluent API uses in this process (``default`` if MLflow is not loaded)."""
    import sys

    mlflow = sys.modules.get("mlflow")
    if mlflow is None or not hasattr(mlflow, "get_tracking_uri"):
        return os.environ.get("MLFLOW_TRACKING_URI") or default
    try:
        return str(mlflow.get_tracking_uri())
    except Exception:
        return default


def adopted_run(client: Any, run_id: str, tracking_uri: str) -> tuple[RunInfo, dict[str, str]]:
    """The existing run ``run_id`` as a :class:`RunInfo`, and the params it has already.

    :class:`StoreError` when it cannot be read, :class:`UsageError` when it is deleted.
    """
    try:
        run = client.get_run(run_id)
        experiment = client.get_experiment(run.info.experiment_id)
    except MlopsError:
        raise
    except Exception as exc:
        raise StoreError(
            f"Could not adopt MLflow's active run {run_id} in {redact_uri(tracking_uri)}: {exc}",
            hint="check MLFLOW_RUN_ID and the tracking store (MLFLOW_TRACKING_URI), "
            "or end MLflow's run with mlflow.end_run() first",
            run_id=run_id,
        ) from exc
    if run.info.lifecycle_stage == "deleted":
        raise UsageError(
            f"MLflow's run {run_id} is deleted.",
            hint="restore it (mlflow runs restore) or unset MLFLOW_RUN_ID",
            run_id=run_id,
        )
    info = RunInfo.of(run, experiment, tracking_uri)
    return info, {str(k): str(v) for k, v in run.data.params.items()}


def default_experiment(client: Any, notebook: str | None) -> tuple[str | None, str]:
    """``(experiment id or None, name)`` when the user named none, in MLflow's order.

    The experiment chosen with ``mlflow.set_experiment`` (``$MLFLOW_EXPERIMENT_ID``)
    if it exists and is active in this store, else ``$MLFLOW_EXPERIMENT_NAME``,
    else the notebook's file stem, else ``Default``. The id is None when the
    experiment is to be got or created by name.
    """
    from pathlib import Path

    eid = fluent.env_experiment_id()
    if eid is not None:
        try:
            experiment = client.get_experiment(eid)
        except Exception:  # an id from another store: fall back to the names
            experiment = None
        if experiment is not None and experiment.lifecycle_stage == "active":
            return str(experiment.experiment_id), str(experiment.name)
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or (Path(notebook).stem if notebook else None)
    return None, name or "Default"
