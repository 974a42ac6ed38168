"""The runs list of the panel: search box text, nesting and children summaries over one page.

:func:`list_runs` is :func:`~jupyter_mlops.core.tracking.query.search_runs` plus

* ``q``: the search box (MLflow's filter syntax or the shorthand of
  :mod:`~jupyter_mlops.core.tracking.search_filter`); shorthand keys are resolved
  with :func:`known_keys`, the keys of the experiments' runs (cached for
  :data:`KEYS_TTL_S` seconds per store and experiment set);
* ``top_level``: only runs without a parent (tag ``mlflow.parentRunId``), each page
  with ``children``: for each parent on the page that has child runs, their
  number, status counts and the best value of one metric (:func:`children_summaries`);
* ``parent``: only the children of one run.

Children are found in one query per page: on MLflow's SQL store by their parent
tag (:func:`~jupyter_mlops.core.tracking.sql_order.children_rows`); elsewhere by
``tags.mlflow.parentRunId IS NOT NULL``, started no earlier than the page's earliest
parent (a child starts after its parent), at most :data:`CHILDREN_SCAN_LIMIT` of
them (``children_truncated`` says so).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tracking.query import experiment_ids_or_all, search_runs
from jupyter_mlops.core.tracking.search_filter import (
    KnownKeys,
    needs_known_keys,
    translate_search,
)
from jupyter_mlops.core.tracking.search_input import (
    DEFAULT_ORDER_BY,
    MAX_RESULTS_LIMIT,
    mlflow_errors,
    parse_order_by,
    validate_run_id,
)
from jupyter_mlops.core.tracking.sql_order import children_rows, entity_keys
from jupyter_mlops.exceptions import UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "CHILDREN_SCAN_LIMIT",
    "KEYS_SAMPLE",
    "KEYS_TTL_S",
    "PARENT_TAG",
    "children_summaries",
    "known_keys",
    "list_runs",
]

PARENT_TAG = "mlflow.parentRunId"
KEYS_SAMPLE = 200
KEYS_TTL_S = 30.0
CHILDREN_SCAN_LIMIT = 2000

_keys_lock = threading.Lock()
_keys_cache: dict[tuple[str, tuple[str, ...]], tuple[float, KnownKeys]] = {}


def known_keys(
    client: MlflowClient, experiment_ids: Sequence[str], max_age: float = KEYS_TTL_S
) -> KnownKeys:
    """The param, metric and tag keys of the runs: all of them on MLflow's SQL store, else
    those of the newest :data:`KEYS_SAMPLE` runs.

    Kept per store and experiment set; an answer younger than ``max_age`` seconds is reused.
    """
    ids = tuple(sorted(experiment_ids))
    slot = (str(client.tracking_uri), ids)
    now = time.monotonic()
    with _keys_lock:
        hit = _keys_cache.get(slot)
    if hit is not None and now - hit[0] < max_age:
        return hit[1]
    params: set[str] = set()
    metrics: set[str] = set()
    tags: set[str] = set()
    with mlflow_errors():
        every = entity_keys(client, ids) if ids else None
    if every is not None:
        params, metrics, tags = every
    elif ids:
        with mlflow_errors():
            runs = client.search_runs(list(ids), max_results=KEYS_SAMPLE)
        for run in runs:
            params.update(run.data.params)
            metrics.update(run.data.metrics)
            tags.update(run.data.tags)
    keys = KnownKeys.of(params, metrics, tags)
    with _keys_lock:
        if len(_keys_cache) > 64:
            _keys_cache.clear()
        _keys_cache[slot] = (now, keys)
    return keys


def _best_key(best: str | None, order_by: str | None) -> tuple[str, bool] | None:
    """``(metric key, higher is better)`` from ``best`` or else a metric ``order_by``."""
    for text in (best, order_by):
        if text:
            clause = parse_order_by(text)
            column, _, direction = clause.rpartition(" ")
            if column.startswith("metrics."):
                return column[len("metrics.") :].strip("`"), direction != "ASC"
            if text is best:
                raise UsageError(
                    f"best must name a metric, got {best[:80]!r}.",
                    hint="e.g. best=metrics.accuracy DESC (or ASC when lower is better).",
                )
    return None


def children_summaries(
    children: Sequence[dict[str, Any]], best: tuple[str, bool] | None
) -> dict[str, dict[str, Any]]:
    """Per parent run id: ``{"count", "statuses": {status: n}, "best": {key, value, run_id} | None}``."""
    out: dict[str, dict[str, Any]] = {}
    for child in children:
        parent = child["tags"].get(PARENT_TAG)
        if not parent:
            continue
        entry = out.setdefault(parent, {"count": 0, "statuses": {}, "best": None})
        entry["count"] += 1
        entry["statuses"][child["status"]] = entry["statuses"].get(child["status"], 0) + 1
        if best is None:
            continue
        key, higher = best
        value = child["metrics"].get(key)
        if value is None:
            continue
        current = entry["best"]
        if current is None or (value > current["value"] if higher else value < current["value"]):
            entry["best"] = {"key": key, "value": value, "run_id": child["run_id"]}
    return out


def _children_of_page(
    client: MlflowClient, ids: list[str], runs: Sequence[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    starts = [run["start_time"] for run in runs if run["start_time"] is not None]
    where = f"tags.`{PARENT_TAG}` IS NOT NULL"
    if starts and len(starts) == len(runs):
        where += f" and attributes.start_time >= {min(starts)}"
    on_page = {run["run_id"] for run in runs}
    found: list[dict[str, Any]] = []
    token: str | None = None
    scanned = 0
    while True:
        page = search_runs(
            client,
            ids,
            filter=where,
            order_by="start_time DESC",
            max_results=MAX_RESULTS_LIMIT,
            page_token=token,
        )
        scanned += len(page["runs"])
        found.extend(run for run in page["runs"] if run["tags"].get(PARENT_TAG) in on_page)
        token = page["next_page_token"]
        if not token:
            return found, False
        if scanned >= CHILDREN_SCAN_LIMIT:
            return found, True


def _translate(client: MlflowClient, ids: list[str], q: str) -> str:
    """``q`` as an MLflow filter; a key unknown to the cached keys is looked up once more, fresh."""
    if not needs_known_keys(q):
        return translate_search(q)
    try:
        return translate_search(q, known_keys(client, ids))
    except UsageError:
        return translate_search(q, known_keys(client, ids, max_age=0.0))


def list_runs(
    client: MlflowClient,
    experiment_ids: Sequence[str] | None = None,
    *,
    q: str | None = None,
    status: str | None = None,
    search: str | None = None,
    filter: str | None = None,
    top_level: bool = False,
    parent: str | None = None,
    best: str | None = None,
    order_by: str | None = DEFAULT_ORDER_BY,
    max_results: int = 100,
    page_token: str | None = None,
) -> dict[str, Any]:
    """One page of runs for the panel: ``search_runs``'s page, plus ``children`` with ``top_level``."""
    best_key = _best_key(best, order_by)
    ids = experiment_ids_or_all(client, experiment_ids)
    if not ids:
        return {"runs": [], "next_page_token": None}
    clauses = [_translate(client, ids, q)] if q and q.strip() else []
    if filter and filter.strip():
        clauses.append(filter.strip())
    if parent:
        clauses.append(f"tags.`{PARENT_TAG}` = '{validate_run_id(parent)}'")
    elif top_level:
        clauses.append(f"tags.`{PARENT_TAG}` IS NULL")
    page = search_runs(
        client,
        ids,
        status=status,
        search=search,
        filter=" and ".join(clauses) or None,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
    )
    if top_level and not parent and page["runs"]:
        with mlflow_errors():
            rows = children_rows(
                client, [run["run_id"] for run in page["runs"]], best_key and best_key[0]
            )
        truncated = False
        if rows is None:  # not MLflow's SQL store: scan the children's runs
            rows, truncated = _children_of_page(client, ids, page["runs"])
        page["children"] = children_summaries(rows, best_key)
        page["children_truncated"] = truncated
    return page
