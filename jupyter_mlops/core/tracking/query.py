"""The read side of tracking: experiments, run search and paging, one run, metric history.

Every function takes an ``MlflowClient`` and returns plain, JSON-ready dicts in
the shapes of ``api/openapi.yaml`` (``Experiment``, ``RunSummary``,
``MetricHistory``), so the REST handlers, the CLI and plain Python share them.

* Paging happens in the store (``max_results`` + ``page_token``); nothing here
  ever loads every run of an experiment.
* User text never reaches MLflow's filter language raw: ``status`` is checked
  against the run statuses, ``search`` becomes a quoted ``ILIKE`` pattern (see
  :func:`build_filter`), ``order_by`` must match an allow-list pattern and is
  rebuilt from its parts, and a raw ``filter`` is parsed on its own first.
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
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from jupyter_mlops.exceptions import MlopsError, NotFoundError, StoreError, UsageError

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

RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED")
DEFAULT_ORDER_BY = "start_time DESC"
MAX_RESULTS_LIMIT = 1000
SEARCH_MAX_LENGTH = 200
FILTER_MAX_LENGTH = 1000
TAG_NOTEBOOK = "mlops.notebook"
TAG_PROJECT = "mlops.project"
KEPT_MLFLOW_TAGS = frozenset(
    {
        "mlflow.note.content",
        "mlflow.parentRunId",
        "mlflow.source.git.branch",
        "mlflow.source.git.commit",
        "mlflow.source.git.repoURL",
    }
)

_ID_RE = re.compile(r"[0-9a-zA-Z_-]{1,64}")
_ORDER_BY_RE = re.compile(
    r"""\s*(?:
        (?P<attr>start_time|end_time|run_name|status)
      | (?P<kind>metrics|params|tags)\.(?:`(?P<quoted>[\w.:/ -]+)`|(?P<plain>[\w.:/-]+))
    )(?:\s+(?P<direction>asc|desc))?\s*""",
    re.IGNORECASE | re.VERBOSE,
)
# Characters that cannot appear inside a quoted MLflow filter literal (it has no
# escape syntax) or that are LIKE wildcards / escapes on some databases.
_UNSAFE_LITERAL_RE = re.compile(r"""['"\\%\x00-\x1f\x7f]""")
_CREDENTIALS_RE = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_STORE_HINT = (
    "Check that the tracking store is reachable and that MLFLOW_TRACKING_URI "
    "(or c.MlopsConfig.tracking_uri) points at it."
)


def scrub_credentials(message: str) -> str:
    """``message`` with any ``user:password@`` removed from URLs in it."""
    return _CREDENTIALS_RE.sub(r"\1", message)


@contextmanager
def _mlflow_errors(*, run_id: str | None = None) -> Iterator[None]:
    """Translate what an MLflow call raises into the ``MlopsError`` tree."""
    try:
        yield
    except MlopsError:
        raise
    except Exception as exc:
        from mlflow.exceptions import MlflowException

        if not isinstance(exc, MlflowException):
            # sqlalchemy, requests, OSError ... from inside the store
            raise StoreError(
                f"The tracking store failed: {scrub_credentials(str(exc)) or type(exc).__name__}",
                hint=_STORE_HINT,
                run_id=run_id,
            ) from exc
        message = scrub_credentials(exc.message)
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(message, run_id=run_id) from exc
        if exc.error_code in {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"}:
            raise UsageError(message, run_id=run_id) from exc
        raise StoreError(message, hint=_STORE_HINT, run_id=run_id) from exc


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
            hint=_STORE_HINT,
        ) from exc


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it looks like a run id (``^[0-9a-zA-Z_-]{1,64}$``), else ``UsageError``."""
    if not isinstance(run_id, str) or not _ID_RE.fullmatch(run_id):
        raise UsageError(
            f"Invalid run id {str(run_id)[:80]!r}.",
            hint="A run id is 1 to 64 letters, digits, '-' or '_'.",
        )
    return run_id


def _validate_experiment_ids(experiment_ids: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in experiment_ids:
        value = str(raw).strip()
        if not _ID_RE.fullmatch(value):
            raise UsageError(
                f"Invalid experiment id {value[:80]!r}.",
                hint="An experiment id is 1 to 64 letters, digits, '-' or '_'.",
            )
        if value not in out:
            out.append(value)
    return out


def _like_literal(text: str) -> str:
    """``text`` as the inside of a single-quoted ILIKE pattern.

    MLflow's filter language has no escape for quotes inside a literal, and
    ``%``/``\\`` are wildcards or escapes in LIKE on some databases, so each of
    these (and control characters) becomes ``_``, LIKE's one-character wildcard:
    the pattern still matches the name the user typed and can never end the literal.
    """
    return _UNSAFE_LITERAL_RE.sub("_", text)


def build_filter(
    *, status: str | None = None, search: str | None = None, filter: str | None = None
) -> str:
    """The MLflow filter string for a status, a run-name substring and a raw MLflow filter."""
    clauses: list[str] = []
    if status:
        normalized = status.strip().upper()
        if normalized not in RUN_STATUSES:
            raise UsageError(
                f"Invalid status {status[:40]!r}.",
                hint=f"Use one of {', '.join(RUN_STATUSES)}.",
            )
        clauses.append(f"attributes.status = '{normalized}'")
    search = (search or "").strip()
    if search:
        if len(search) > SEARCH_MAX_LENGTH:
            raise UsageError(f"search is longer than {SEARCH_MAX_LENGTH} characters.")
        clauses.append(f"attributes.run_name ILIKE '%{_like_literal(search)}%'")
    if filter and filter.strip():
        if len(filter) > FILTER_MAX_LENGTH:
            raise UsageError(f"filter is longer than {FILTER_MAX_LENGTH} characters.")
        from mlflow.utils.search_utils import SearchUtils

        # Parse the user's filter on its own, so a quote in it cannot reach into
        # our clauses (MLflow's grammar only joins comparisons with AND).
        with _mlflow_errors():
            SearchUtils.parse_search_filter(filter)  # type: ignore[no-untyped-call]
        clauses.append(filter.strip())
    return " and ".join(clauses)


def parse_order_by(order_by: str | None) -> str:
    """``order_by`` checked against the allow-list and rewritten in MLflow syntax.

    Accepted: ``start_time``, ``end_time``, ``run_name``, ``status``,
    ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` (a key with spaces in
    backticks), then optionally ``ASC`` or ``DESC`` (default ``ASC``).
    """
    text = (order_by or DEFAULT_ORDER_BY).strip()
    match = _ORDER_BY_RE.fullmatch(text)
    if match is None:
        raise UsageError(
            f"Invalid order_by {text[:80]!r}.",
            hint="Use start_time, end_time, run_name, status, metrics.<key>, params.<key> "
            "or tags.<key>, then ASC or DESC, e.g. 'metrics.accuracy DESC'.",
        )
    direction = (match["direction"] or "ASC").upper()
    if match["attr"]:
        return f"attributes.{match['attr'].lower()} {direction}"
    key = match["quoted"] or match["plain"]
    return f"{match['kind'].lower()}.`{key}` {direction}"


def _check_max_results(max_results: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise UsageError(f"max_results must be an integer, got {max_results!r}.")
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise UsageError(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}."
        )
    return max_results


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
        with _mlflow_errors():
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
    with _mlflow_errors():
        experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage != "active":
        raise NotFoundError(
            f"No experiment named {name!r}.",
            hint="`jupyter mlops experiments` lists the experiments.",
        )
    return experiment_summary(experiment)


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
    _check_max_results(max_results)
    if experiment_ids:
        ids = _validate_experiment_ids(experiment_ids)
    else:
        ids = [exp["experiment_id"] for exp in list_experiments(client)["experiments"]]
    if not ids:
        return {"runs": [], "next_page_token": None}
    with _mlflow_errors():
        page = client.search_runs(
            ids,
            filter_string=filter_string,
            max_results=max_results,
            order_by=[order],
            page_token=page_token or None,
        )
    now_ms = int(time.time() * 1000)
    return {
        "runs": [run_summary(run, now_ms=now_ms) for run in page],
        "next_page_token": _token(page.token),
    }


def get_run(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The ``RunSummary`` of one run, or ``NotFoundError``."""
    validate_run_id(run_id)
    with _mlflow_errors(run_id=run_id):
        run = client.get_run(run_id)
    return run_summary(run)


def metric_history(client: MlflowClient, run_id: str, key: str) -> dict[str, Any]:
    """``{"run_id", "key", "points": [{step, timestamp, value}]}`` ordered by step, then timestamp."""
    validate_run_id(run_id)
    with _mlflow_errors(run_id=run_id):
        run = client.get_run(run_id)
    if key not in run.data.metrics:
        known = sorted(run.data.metrics)
        raise NotFoundError(
            f"Run {run_id} has no metric {key[:200]!r}.",
            hint=f"Its metrics: {', '.join(known[:20]) or 'none'}"
            + (", ..." if len(known) > 20 else ""),
            run_id=run_id,
        )
    with _mlflow_errors(run_id=run_id):
        history = client.get_metric_history(run_id, key)
    points = sorted(history, key=lambda m: (m.step, m.timestamp))
    return {
        "run_id": run_id,
        "key": key,
        "points": [
            {"step": m.step, "timestamp": m.timestamp, "value": _finite(m.value)} for m in points
        ],
    }
