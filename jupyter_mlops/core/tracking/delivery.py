"""Senders: how spooled records reach an MLflow store.

:class:`BatchSender` works with every store: ``MlflowClient.log_batch`` within
MLflow's per-request limits (1000 entities, 100 params, 100 tags, 1 MB).

:class:`SqliteFastSender` is used only for MLflow's own ``SqlAlchemyStore``
on SQLite (the embedded default store). It writes metrics in one transaction
through MLflow's SQLAlchemy models (``mlflow.store.tracking.dbmodels.models``)
and MLflow's session factory, with the same rules as
``SqlAlchemyStore._log_metrics`` (NaN stored as 0 with ``is_nan``, +/-inf as
+/-max float, a row identical on the whole primary key stored once) and the
same ``latest_metrics`` update (kept when ``(step, timestamp, value)`` is
strictly greater). ``log_batch`` costs one transaction, several queries and an
ORM object per metric for every 1000 points; this path costs one ``executemany``
per delivery. Params and tags still go through ``log_batch``. Any other store
(REST server, other databases, workspace-aware stores) uses :class:`BatchSender`.

Resending a chunk is harmless on both paths: identical metric rows are
ignored (``INSERT OR IGNORE`` here, MLflow's own IntegrityError recovery in
``log_batch``), params are re-accepted with the same value, tags are
overwritten with the same value.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from jupyter_mlops.core.redact import redact_uri, scrub_error

__all__ = [
    "BatchSender",
    "MetricRow",
    "SqliteFastSender",
    "StoreHealth",
    "is_permanent_error",
    "make_sender",
    "quiet_store_errors",
    "scrub_error",
]

MetricRow = tuple[str, float, int, int]
"""``(key, value, timestamp_ms, step)``."""

_PERMANENT_CODES = frozenset(
    {"INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "INVALID_STATE"}
)
_MAX_FLOAT = 1.7976931348623157e308
_KEY_BATCH = 500


_MAX_BACKOFF = 30.0
_log = logging.getLogger("jupyter_mlops.spool")
_delivering = threading.local()


class StoreHealth:
    """Outage bookkeeping of one spool: one warning when deliveries start failing, one when
    they work again, and the exponential backoff in between. Not thread-safe: used under the
    spool's delivery lock."""

    def __init__(self, tracking_uri: str, spool_path: str) -> None:
        self.tracking_uri = tracking_uri
        self.spool_path = spool_path
        self.failures = 0
        self.in_outage = False
        self.last_error: str | None = None

    down_message = (
        "jupyter-mlops: cannot deliver to the tracking store %s (%s). Metrics are kept "
        "in %s and will be delivered when the store is reachable again."
    )
    """The outage warning: store, error, spool path (subclasses say it for their records)."""
    up_message = (
        "jupyter-mlops: the tracking store %s is reachable again; "
        "delivering the pending metrics of run %s."
    )
    """The end-of-outage message: store, run id."""

    def failed(self, exc: BaseException) -> bool:
        """Record a failed delivery (warn if it starts an outage); returns False."""
        self.failures += 1
        self.last_error = scrub_error(f"{type(exc).__name__}: {exc}")
        if not self.in_outage:
            self.in_outage = True
            _log.warning(
                self.down_message,
                redact_uri(self.tracking_uri),
                self.last_error,
                self.spool_path,
            )
        return False

    def succeeded(self, run_id: str) -> None:
        """Record a successful delivery (say once that an outage is over)."""
        if self.in_outage:
            _log.warning(self.up_message, redact_uri(self.tracking_uri), run_id)
        self.in_outage = False
        self.failures = 0
        self.last_error = None

    def retry_delay(self, interval: float) -> float:
        """``interval`` when healthy, else doubled per failure from 0.25 s, at most 30 s."""
        if not self.failures:
            return interval
        return min(max(interval, 0.25) * 2.0 ** min(self.failures, 10), _MAX_BACKOFF)


class _QuietWhileDelivering(logging.Filter):
    """Drops MLflow's per-failure ERROR tracebacks (and urllib3's retry warnings) while we
    deliver: the spool reports an outage once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_delivering, "active", False)


_quiet_filter = _QuietWhileDelivering()
_QUIET_LOGGERS = ("mlflow.store.db.utils", "urllib3.connectionpool")


def _fail_fast_http() -> None:
    """Make MLflow's REST calls fail fast on a delivering thread (once per process).

    MLflow retries a failed HTTP request up to 7 times with exponential backoff (about
    two minutes, a urllib3 warning per retry) before it raises. A spool delivery must
    not: it has its own backoff and reports an outage once (:class:`StoreHealth`), and a
    request stuck in that loop hides the outage from the user. ``call_endpoint`` (every
    ``RestStore`` call) looks ``http_request`` up in its module at each call, so it is
    wrapped there: on a thread inside :func:`quiet_store_errors` the request is tried
    once; everywhere else (the user's own MLflow calls) nothing changes.
    """
    from jupyter_mlops.core.tracking.store import import_mlflow

    import_mlflow("mlflow.utils.rest_utils")
    from mlflow.utils import rest_utils

    original: Callable[..., Any] = rest_utils.http_request
    if getattr(original, "_mlops_fail_fast", False):
        return

    @functools.wraps(original)
    def http_request(*args: Any, **kwargs: Any) -> Any:
        if getattr(_delivering, "active", False):
            kwargs.setdefault("max_retries", 0)
            kwargs.setdefault("backoff_factor", 0)
        return original(*args, **kwargs)

    http_request._mlops_fail_fast = True  # type: ignore[attr-defined]
    rest_utils.http_request = http_request


@contextlib.contextmanager
def quiet_store_errors() -> Iterator[None]:
    """Within this block (this thread only), MLflow's store error logging is muted and its
    REST requests are not retried (the spool retries; see :func:`_fail_fast_http`)."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if _quiet_filter not in logger.filters:
            logger.addFilter(_quiet_filter)
    with contextlib.suppress(Exception):  # MLflow internals moved: keep its own retries
        _fail_fast_http()
    previous = getattr(_delivering, "active", False)
    _delivering.active = True
    try:
        yield
    finally:
        _delivering.active = previous


def is_permanent_error(exc: BaseException) -> bool:
    """True when retrying cannot help: the store rejected the data or the run is gone.

    Everything else (connection refused, database locked or unreachable, 5xx,
    authentication) is an outage: the data stays spooled and is retried.
    """
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:  # pragma: no cover - mlflow is a dependency
        return False
    return isinstance(exc, MlflowException) and exc.error_code in _PERMANENT_CODES


class BatchSender:
    """Delivers records with ``MlflowClient.log_batch`` (any tracking store)."""

    metric_limit = 1000
    param_limit = 100
    tag_limit = 100
    entity_limit = 1000
    byte_limit = 900_000
    name = "log_batch"
    direct_metrics = False
    """Metrics go through :meth:`_insert_metrics` instead of ``log_batch``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def send(
        self,
        run_id: str,
        metrics: Sequence[MetricRow],
        params: Sequence[tuple[str, str]],
        tags: Sequence[tuple[str, str]],
    ) -> None:
        """Send one chunk (within this sender's limits) in one request (metrics in a
        transaction of their own first, for a sender that writes them directly)."""
        from mlflow.entities import Metric, Param, RunTag

        if self.direct_metrics:
            if metrics:
                self._insert_metrics(run_id, metrics)
            if not (params or tags):
                return
            metrics = []
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in metrics],
            params=[Param(k, v) for k, v in params],
            tags=[RunTag(k, v) for k, v in tags],
            synchronous=True,
        )

    def _insert_metrics(self, run_id: str, metrics: Sequence[MetricRow]) -> None:
        raise NotImplementedError


class SqliteFastSender(BatchSender):
    """One-transaction metric insert for MLflow's embedded SQLite store (see module doc)."""

    metric_limit = 50_000
    entity_limit = 50_200
    byte_limit = 64_000_000
    name = "sqlite-fast"
    direct_metrics = True

    def __init__(self, client: Any, store: Any) -> None:
        super().__init__(client)
        self.store = store

    def _write_session(self) -> Any:
        """MLflow's own session factory (its PRAGMAs and error mapping), as a write session."""
        try:
            return self.store.ManagedSessionMaker(read_only=False)
        except TypeError:  # MLflow versions without the read_only flag
            return self.store.ManagedSessionMaker()

    def _insert_metrics(self, run_id: str, metrics: Sequence[MetricRow]) -> None:
        import sqlalchemy as sa
        from mlflow.entities import LifecycleStage
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
        from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlRun
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        rows = []
        # per key: the row that wins MLflow's latest_metrics comparison
        best: dict[str, tuple[int, int, float, bool]] = {}
        for key, value, timestamp, step in metrics:
            is_nan = math.isnan(value)
            if is_nan:
                value = 0.0
            elif math.isinf(value):
                value = _MAX_FLOAT if value > 0 else -_MAX_FLOAT
            rows.append(
                {
                    "run_uuid": run_id,
                    "key": key,
                    "value": value,
                    "timestamp": timestamp,
                    "step": step,
                    "is_nan": is_nan,
                }
            )
            current = best.get(key)
            if current is None or (step, timestamp, value) > current[:3]:
                best[key] = (step, timestamp, value, is_nan)

        with self._write_session() as session:
            stage = session.execute(
                sa.select(SqlRun.lifecycle_stage).where(SqlRun.run_uuid == run_id)
            ).scalar_one_or_none()
            if stage is None:
                raise MlflowException(
                    f"Run with id={run_id} not found", error_code=RESOURCE_DOES_NOT_EXIST
                )
            if stage != LifecycleStage.ACTIVE:
                raise MlflowException(
                    f"The run {run_id} must be in the 'active' state. Current state is {stage}.",
                    error_code=INVALID_PARAMETER_VALUE,
                )
            session.execute(sqlite_insert(SqlMetric.__table__).on_conflict_do_nothing(), rows)
            keys = sorted(best)
            existing: dict[str, Any] = {}
            for i in range(0, len(keys), _KEY_BATCH):
                found = session.scalars(
                    sa.select(SqlLatestMetric).where(
                        SqlLatestMetric.run_uuid == run_id,
                        SqlLatestMetric.key.in_(keys[i : i + _KEY_BATCH]),
                    )
                )
                existing.update((m.key, m) for m in found)
            for key in keys:
                step, timestamp, value, is_nan = best[key]
                latest = existing.get(key)
                if latest is None:
                    session.add(
                        SqlLatestMetric(
                            run_uuid=run_id,
                            key=key,
                            value=value,
                            timestamp=timestamp,
                            step=step,
                            is_nan=is_nan,
                        )
                    )
                elif (step, timestamp, value) > (latest.step, latest.timestamp, latest.value):
                    latest.value, latest.step = value, step
                    latest.timestamp, latest.is_nan = timestamp, is_nan
            # ManagedSessionMaker commits on exit and maps database errors to MlflowException


def make_sender(client: Any) -> BatchSender:
    """The fastest correct sender for ``client``'s store (see the module docstring)."""
    from jupyter_mlops.core.tracking.store import import_mlflow

    try:
        import_mlflow("mlflow.store.tracking.sqlalchemy_store")  # one thread at a time
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = client._tracking_client.store
    except Exception:  # private attribute moved, or the store cannot be built yet
        return BatchSender(client)
    if type(store) is SqlAlchemyStore and getattr(store, "db_type", None) == "sqlite":
        return SqliteFastSender(client, store)
    return BatchSender(client)
