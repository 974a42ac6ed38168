"""The read side of tracking: experiments, run search and paging, one run, metric history.

Every function takes an ``MlflowClient`` and returns plain, JSON-ready dicts in
the shapes of ``api/openapi.yaml`` (``Experiment``, ``RunSummary``,
``MetricHistory``), so the REST handlers, the CLI and plain Python share them.

* Paging happens in the store (``max_results`` + ``page_token``); nothing here
  ever loads every run of an experiment.
* User text never reaches MLflow's filter language raw (checked in
  :mod:`~jupyter_mlops.core.tracking.search_input`).
* Non-finite metric values (NaN, +-inf) become ``None`` so the JSON stays valid.
* MLflow errors become :class:`~jupyter_mlops.exceptions.MlopsError`:
  unknown run -> ``NotFoundError``, bad filter/order/page token -> ``UsageError``
  (with MLflow's message), anything else from the store -> ``StoreError``.

Tags in a ``RunSummary``: every tag except MLflow's internal ``mlflow.*`` ones,
of which only :data:`KEPT_MLFLOW_TAGS` stay (the run description, the parent
run and the git commit, branch and credential-free repository URL). The user, notebook and run name are fields of their own.

MLflow is imported lazily (only once a client exists, or inside functions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.redact import scrub_credentials
from jupyter_mlops.core.tracking.search_input import (
    DEFAULT_ORDER_BY,
    MAX_RESULTS_LIMIT,
    RUN_STATUSES,
    STORE_HINT,
    build_filter,
    check_max_results,
    mlflow_errors,
    parse_order_by,
    validate_experiment_ids,
    validate_run_id,
)
from jupyter_mlops.core.tracking.sql_order import page_of_runs
from jupyter_mlops.exceptions import NotFoundError, StoreError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Run

__all__ = [
    "DEFAULT_ORDER_BY",
    "KEPT_MLFLOW_TAGS",
    "MAX_RESULTS_LIMIT",
    "RUN_STATUSES",
    "build_filter",
    "connect",
    "experiment_summary",
    "find_experiment",
    "get_run",
    "list_experiments",
    "metric_history",
    "parse_order_by",
    "run_summary",
    "scrub_credentials",
    "search_runs",
    "validate_run_id",
]

_mlflow_errors = mlflow_errors  # the old name, still imported by the pipeline runner
TAG_NOTEBOOK = mlops_tags.NOTEBOOK
TAG_PROJECT = mlops_tags.PROJECT
KEPT_MLFLOW_TAGS = frozenset(
    {
        "mlflow.note.content",
        "mlflow.parentRunId",
        "mlflow.source.git.branch",
        "mlflow.source.git.commit",
        "mlflow.source.git.repoURL",
    }
)


def connect(tracking_uri: str) -> MlflowClient:
    """The process-wide client for ``tracking_uri``; a store that cannot be opened is a ``StoreError``.

    The first call imports MLflow and may create the SQLite schema (seconds):
    call it off any event loop.
    """
    from jupyter_mlops.core.tracking.store import get_client, redact_uri

    try:
        return get_client(tracking_uri)
    except Exception as exc:
        raise StoreError(
            f"Cannot open the MLflow tracking store {redact_uri(tracking_uri)}: "
            f"{scrub_credentials(str(exc)) or type(exc).__name__}",
            hint=STORE_HINT,
        ) from exc


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _token(token: str | bytes | None) -> str | None:
    """A page token as text (the SQL store hands out base64 ``bytes``)."""
    if not token:
        return None
    return token.decode("ascii") if isinstance(token, bytes) else str(token)


def experiment_summary(experiment: Experiment) -> dict[str, Any]:
    """An ``Experiment`` of the REST contract."""
    return {
        "experiment_id": str(experiment.experiment_id),
        "name": experiment.name,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
    }


def _duration_ms(start: int | None, end: int | None, status: str, now_ms: int) -> int | None:
    if start is None:
        return None
    if end is not None:
        return max(0, end - start)
    if status == "RUNNING":
        return max(0, now_ms - start)
    return None


def run_summary(run: Run, *, now_ms: int | None = None) -> dict[str, Any]:
    """A ``RunSummary`` of the REST contract (latest metric values, filtered tags)."""
    info, data = run.info, run.data
    tags: dict[str, str] = dict(data.tags)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return {
        "run_id": info.run_id,
        "run_name": info.run_name or tags.get("mlflow.runName") or "",
        "experiment_id": str(info.experiment_id),
        "status": info.status,
        "lifecycle_stage": info.lifecycle_stage,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "duration_ms": _duration_ms(info.start_time, info.end_time, info.status, now),
        "notebook": tags.get(TAG_NOTEBOOK) or tags.get("mlflow.source.name") or None,
        "project": tags.get(TAG_PROJECT) or None,
        "user": tags.get("mlflow.user") or info.user_id or None,
        "params": dict(data.params),
        "metrics": {key: _finite(value) for key, value in data.metrics.items()},
        "tags": {
            key: value
            for key, value in tags.items()
            if not key.startswith("mlflow.") or key in KEPT_MLFLOW_TAGS
        },
    }


def list_experiments(client: MlflowClient) -> dict[str, Any]:
    """``{"experiments": [...]}``: active experiments, newest first."""
    from mlflow.entities import ViewType

    experiments: list[dict[str, Any]] = []
    page_token: str | None = None
    while True:
        with mlflow_errors():
            page = client.search_experiments(
                view_type=ViewType.ACTIVE_ONLY,
                max_results=MAX_RESULTS_LIMIT,
                order_by=["creation_time DESC", "experiment_id DESC"],
                page_token=page_token,
            )
        experiments.extend(experiment_summary(exp) for exp in page)
        page_token = page.token
        if not page_token:
            return {"experiments": experiments}


def find_experiment(client: MlflowClient, name: str) -> dict[str, Any]:
    """The active experiment called ``name``, or ``NotFoundError``."""
    with mlflow_errors():
        experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise NotFoundError(
            f"No experiment named {name!r}.",
            hint="`jupyter mlops experiments` lists the experiments.",
        )
    return experiment_summary(experiment)


def experiment_ids_or_all(client: MlflowClient, experiment_ids: Sequence[str] | None) -> list[str]:
    """``experiment_ids`` checked, or every active experiment's id when none is given."""
    if experiment_ids:
        return validate_experiment_ids(experiment_ids)
    return [exp["experiment_id"] for exp in list_experiments(client)["experiments"]]


def search_runs(
    client: MlflowClient,
    experiment_ids: Sequence[str] | None = None,
    status: str | None = None,
    search: str | None = None,
    filter: str | None = None,
    order_by: str | None = DEFAULT_ORDER_BY,
    max_results: int = 100,
    page_token: str | None = None,
) -> dict[str, Any]:
    """``{"runs": [RunSummary...], "next_page_token": str | None}``: one page of runs.

    ``experiment_ids`` defaults to every active experiment. Pass the returned
    ``next_page_token`` back (with the same other arguments) for the next page.
    """
    filter_string = build_filter(status=status, search=search, filter=filter)
    order = parse_order_by(order_by)
    check_max_results(max_results)
    ids = experiment_ids_or_all(client, experiment_ids)
    if not ids:
        return {"runs": [], "next_page_token": None}
    with mlflow_errors():
        # MLflow's SQL store, sorted without its quadratic plan; any other store: MLflow's search
        fast = page_of_runs(client, ids, filter_string, order, max_results, page_token or None)
        if fast is not None:
            runs, token = fast
        else:
            page = client.search_runs(
                ids,
                filter_string=filter_string,
                max_results=max_results,
                order_by=[order],
                page_token=page_token or None,
            )
            runs, token = list(page), page.token
    now_ms = int(time.time() * 1000)
    return {
        "runs": [run_summary(run, now_ms=now_ms) for run in runs],
        "next_page_token": _token(token),
    }


def get_run(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The ``RunSummary`` of one run, or ``NotFoundError``."""
    validate_run_id(run_id)
    with mlflow_errors(run_id=run_id):
        run = client.get_run(run_id)
    return run_summary(run)


def metric_history(client: MlflowClient, run_id: str, key: str) -> dict[str, Any]:
    """``{"run_id", "key", "points": [{step, timestamp, value}]}`` ordered by step, then timestamp."""
    validate_run_id(run_id)
    with mlflow_errors(run_id=run_id):
        run = client.get_run(run_id)
    if key not in run.data.metrics:
        known = sorted(run.data.metrics)
        raise NotFoundError(
            f"Run {run_id} has no metric {key[:200]!r}.",
            hint=f"Its metrics: {', '.join(known[:20]) or 'none'}"
            + (", ..." if len(known) > 20 else ""),
            run_id=run_id,
        )
    with mlflow_errors(run_id=run_id):
        history = client.get_metric_history(run_id, key)
    points = sorted(history, key=lambda m: (m.step, m.timestamp))
    return {
        "run_id": run_id,
        "key": key,
        "points": [
            {"step": m.step, "timestamp": m.timestamp, "value": _finite(m.value)} for m in points
        ],
    }
