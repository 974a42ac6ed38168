"""One page of runs from MLflow's SQL store, without MLflow's quadratic sort plan.

MLflow's ``SqlAlchemyStore`` sorts by ``metrics.<key>`` (or a param or tag) by
LEFT JOINing a *subquery* of that key's rows; SQLite materializes it without an
index and scans it once per run: 29 s for 10,000 runs (seen with MLflow 3.17;
``bench/bench_runs_panel.py``). Here the page's run ids come from the same
filters (MLflow's own clause builder) in the same order (the sort key with
NULLs, then NaNs, last; then ``start_time DESC, run_uuid``), the sort key joined
on ``(key, run_uuid)``, the primary key of MLflow's table. The runs are then read
by id with MLflow's own eager loading and entities (no filter to parse). Page
tokens are MLflow's own (an offset), so either path pages the same way.

:func:`page_of_runs` returns ``None`` whenever it cannot answer exactly as MLflow
would (another store, a dataset filter, MLflow internals it does not find): the
caller then asks MLflow. :func:`children_rows` reads the child runs of a page's
parents (status and one metric) in one query, for the parents' summaries;
:func:`entity_keys` the param, metric and tag keys of experiments, for the search box.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = ["children_rows", "entity_keys", "page_of_runs"]


def _sql_store(client: MlflowClient) -> Any:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    return store if isinstance(store, SqlAlchemyStore) else None


def _int_ids(experiment_ids: Sequence[str]) -> list[int] | None:
    """The ids as MLflow's SQL store keeps them; ``None`` when one is not a number (MLflow says why)."""
    ids = [str(i) for i in experiment_ids]
    return [int(i) for i in ids] if all(i.isdigit() for i in ids) else None


def _order(models: Any, key_type: str, key: str, ascending: bool) -> tuple[Any, list[Any]]:
    """``(joined entity or None, ORDER BY clauses)`` for one MLflow order-by column."""
    from mlflow.utils.search_utils import SearchUtils
    from sqlalchemy import case, true
    from sqlalchemy.orm import aliased

    run = models.SqlRun
    entity: Any = {"metric": models.SqlLatestMetric, "parameter": models.SqlParam}.get(
        key_type, models.SqlTag if key_type == "tag" else None
    )
    if entity is None:
        name = SearchUtils.translate_key_alias(key)  # type: ignore[no-untyped-call]
        value = getattr(run, run.get_attribute_name(name))
        last = case((value.is_(None), 1), else_=0)
        joined = None
    else:
        joined = aliased(entity)
        value = joined.value
        if entity is models.SqlLatestMetric:
            last = case((joined.is_nan == true(), 1), (value.is_(None), 2), else_=0)
        else:
            last = case((value.is_(None), 1), else_=0)
    clauses = [last, value if ascending else value.desc()]
    if not (entity is None and value is run.start_time):
        clauses.append(run.start_time.desc())
    return joined, [*clauses, run.run_uuid]


def page_of_runs(
    client: MlflowClient,
    experiment_ids: Sequence[str],
    filter_string: str,
    order_by: str,
    max_results: int,
    page_token: str | None,
) -> tuple[list[Run], str | None] | None:
    """One page of active runs (MLflow entities) and the next page token; ``None``: ask MLflow."""
    try:
        from mlflow.store.tracking import sqlalchemy_store as sa_store
        from mlflow.store.tracking.dbmodels import models
        from mlflow.utils.search_utils import SearchUtils
        from sqlalchemy import and_, select

        build_filters = sa_store._get_sqlalchemy_filter_clauses
        eager = sa_store.SqlAlchemyStore._get_eager_run_query_options
    except (ImportError, AttributeError):  # another MLflow than the one this was written for
        return None
    store = _sql_store(client)
    numbers = _int_ids(experiment_ids)
    if store is None or numbers is None:
        return None
    parse_order = SearchUtils.parse_order_by_for_search_runs
    key_type, key, ascending = parse_order(order_by)  # type: ignore[no-untyped-call]
    parsed = SearchUtils.parse_search_filter(filter_string)  # type: ignore[no-untyped-call]
    offset = SearchUtils.parse_start_offset_from_page_token(page_token)  # type: ignore[no-untyped-call]
    run = models.SqlRun
    with store.ManagedSessionMaker() as session:
        dialect = store._get_dialect()
        attribute, joins, datasets = build_filters(parsed, session, dialect)  # type: ignore[no-untyped-call]
        if datasets:
            return None
        joined, clauses = _order(models, key_type, key, ascending)
        stmt: Any = select(run.run_uuid)
        for subquery in joins:
            stmt = stmt.join(subquery)
        if joined is not None:
            stmt = stmt.outerjoin(joined, and_(joined.run_uuid == run.run_uuid, joined.key == key))
        stmt = (
            stmt.where(
                run.experiment_id.in_(numbers),
                run.lifecycle_stage == "active",
                *attribute,
            )
            .order_by(*clauses)
            .offset(offset)
            .limit(max_results + 1)
        )
        ids = [str(row) for row in session.execute(stmt).scalars().all()]
        token = None
        if len(ids) > max_results:
            ids = ids[:max_results]
            token = SearchUtils.create_page_token(offset + max_results)
        rows = session.query(run).options(*eager()).filter(run.run_uuid.in_(ids)).all()
        position = {run_id: i for i, run_id in enumerate(ids)}
        runs = sorted(
            (row.to_mlflow_entity() for row in rows), key=lambda r: position[r.info.run_id]
        )
    return runs, token


def children_rows(
    client: MlflowClient, parent_ids: Sequence[str], metric: str | None
) -> list[dict[str, Any]] | None:
    """The active children of ``parent_ids`` as ``{run_id, status, tags: {parent}, metrics: {metric}}``.

    One query on MLflow's tables (the parent tag, the run's status, one latest
    metric), no run entities; ``None`` on any other store (the caller asks MLflow).
    """
    try:
        from mlflow.store.tracking.dbmodels import models
        from sqlalchemy import and_, select
        from sqlalchemy.orm import aliased
    except ImportError:
        return None
    store = _sql_store(client)
    if store is None:
        return None
    if not parent_ids:
        return []
    run, tag = models.SqlRun, models.SqlTag
    value: Any = aliased(models.SqlLatestMetric)
    stmt: Any = (
        select(tag.value, run.run_uuid, run.status, value.value, value.is_nan)
        .join(run, run.run_uuid == tag.run_uuid)
        .outerjoin(value, and_(value.run_uuid == run.run_uuid, value.key == (metric or "")))
        .where(
            tag.key == "mlflow.parentRunId",
            tag.value.in_(list(parent_ids)),
            run.lifecycle_stage == "active",
        )
    )
    with store.ManagedSessionMaker() as session:
        rows = session.execute(stmt).all()
    return [
        {
            "run_id": run_id,
            "status": status,
            "tags": {"mlflow.parentRunId": parent},
            "metrics": {metric: None if number is None or is_nan else float(number)}
            if metric
            else {},
        }
        for parent, run_id, status, number, is_nan in rows
    ]


def entity_keys(
    client: MlflowClient, experiment_ids: Sequence[str]
) -> tuple[set[str], set[str], set[str]] | None:
    """Every param, metric and tag key of the experiments' active runs; ``None`` off the SQL store."""
    try:
        from mlflow.store.tracking.dbmodels import models
        from sqlalchemy import select
    except ImportError:
        return None
    store = _sql_store(client)
    ids = _int_ids(experiment_ids)
    if store is None or ids is None:
        return None
    run = models.SqlRun
    out: list[set[str]] = []
    with store.ManagedSessionMaker() as session:
        for entity in (models.SqlParam, models.SqlLatestMetric, models.SqlTag):
            stmt: Any = (
                select(entity.key)
                .join(run, run.run_uuid == entity.run_uuid)
                .where(run.experiment_id.in_(ids), run.lifecycle_stage == "active")
                .distinct()
            )
            out.append({str(key) for key in session.execute(stmt).scalars().all()})
    return out[0], out[1], out[2]
