"""Attach a :class:`~jupyter_mlops.core.tracking.tracker.Tracker` to a pipeline execution's run.

Under ``jupyter mlops run`` the runner creates each execution's MLflow run and
starts the kernel with ``$JUPYTER_MLOPS_RUN_ID`` (and ``$MLFLOW_TRACKING_URI``).
In such a kernel ``start_run`` / ``%mlops start`` *attach* to that run instead
of creating one, and ``log_metric`` & co. attach by themselves without a start:

* the spool is the run's own (``<run id>.jsonl``): what the notebook logs goes
  into that run, durably; a second start after an end attaches again;
* ``end_run`` flushes and detaches but never sets the run's status: the
  executor decides it from papermill's outcome;
* the executor records the environment and the kernel's cost itself, so an
  attached tracker does neither;
* params the run already has (the execution's parameters) are not logged
  again: the notebook's own parameter values would be the same.

Outside a pipeline execution nothing changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from jupyter_mlops.core import tags
from jupyter_mlops.core.models import TERMINAL_STATUSES, RunInfo
from jupyter_mlops.core.tracking.owner import owner_alive
from jupyter_mlops.core.tracking.store import redact_uri
from jupyter_mlops.exceptions import MlopsError, StoreError, UsageError

__all__ = [
    "ENV_RUN_ID",
    "attached_run",
    "executor_process",
    "pipeline_run_id",
    "pipeline_tracking_uri",
]

ENV_RUN_ID = "JUPYTER_MLOPS_RUN_ID"
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def pipeline_run_id() -> str | None:
    """The run of the pipeline execution this process is the kernel of, or None."""
    run_id = os.environ.get(ENV_RUN_ID, "").strip()
    if not run_id:
        return None
    if not _RUN_ID.fullmatch(run_id):
        raise UsageError(
            f"${ENV_RUN_ID} is not an MLflow run id.",
            hint=f"unset {ENV_RUN_ID}; it is set by jupyter mlops run for its kernels",
        )
    return run_id


def executor_process() -> tuple[int, float] | None:
    """``(pid, create_time)`` of the executor that started this kernel (its parent).

    The attached spool names it as the owner of the run's status: recovery
    leaves the run alone while the executor lives (it sets the status from
    papermill's outcome) and ends it KILLED once both are gone.
    """
    import psutil

    try:
        parent = psutil.Process().parent()
        return None if parent is None else (parent.pid, parent.create_time())
    except psutil.Error:
        return None


def _executor_alive() -> bool:
    """Whether the process that started this kernel (the executor) still runs."""
    owner = executor_process()
    if owner is None:
        return False
    return owner_alive(*owner)


def pipeline_tracking_uri(default: str) -> str:
    """The execution run's store: ``$MLFLOW_TRACKING_URI`` (the runner sets it) or ``default``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default


def attached_run(
    client: Any, run_id: str, tracking_uri: str, user_tags: Mapping[str, str]
) -> tuple[RunInfo, dict[str, str]]:
    """The existing run ``run_id`` as a :class:`RunInfo`, and its params (already logged).

    ``user_tags`` are set on the run right away. :class:`StoreError` when the
    run cannot be read, :class:`UsageError` when it has ended already.
    """
    try:
        run = client.get_run(run_id)
        experiment = client.get_experiment(run.info.experiment_id)
        if user_tags:
            from mlflow.entities import RunTag

            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in user_tags.items()])
    except MlopsError:
        raise
    except Exception as exc:
        raise StoreError(
            f"Could not attach to the pipeline run {run_id} in {redact_uri(tracking_uri)}: {exc}",
            hint="check that the tracking store is reachable (MLFLOW_TRACKING_URI)",
            run_id=run_id,
        ) from exc
    # SCHEDULED or RUNNING: ok. FINISHED while its executor lives: the notebook's own
    # `with mlflow.start_run():` ended it (MLflow resumes $MLFLOW_RUN_ID); the executor
    # sets the final status when the notebook is done.
    ended = run.info.status in TERMINAL_STATUSES
    step = run.data.tags.get(tags.RUN_TYPE) == tags.RUN_TYPE_PIPELINE_STEP
    if ended and not (run.info.status == "FINISHED" and step and _executor_alive()):
        raise UsageError(
            f"The pipeline run {run_id} is already over ({run.info.status}).",
            hint=f"this kernel belongs to a pipeline execution that is over; unset {ENV_RUN_ID}",
            run_id=run_id,
        )
    info = RunInfo.of(run, experiment, tracking_uri)
    return info, {str(k): str(v) for k, v in run.data.params.items()}
