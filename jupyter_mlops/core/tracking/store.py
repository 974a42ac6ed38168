"""Which MLflow store to use, and one cached client per store.

MLflow is imported here lazily: ``import mlflow`` takes over a second. The first
import runs one thread at a time (:func:`import_mlflow`): MLflow's modules import
each other, and two threads importing them at once (a server's store warm-up and
its recovery sweep, a kernel's start-up recovery and ``%mlops start``) can trip
Python's import deadlock detection, which hands one thread a half-initialised
module and leaves ``mlflow`` broken in that process for good.

The first :func:`get_client` of an embedded SQLite store in a process opens it
under a cross-process lock (:mod:`~jupyter_mlops.core.tracking.store_lock`): MLflow
creates and migrates a new store's schema on that open, once, however many
processes first use the store at the same moment.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.redact import redact_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "default_artifact_location",
    "default_tracking_uri",
    "experiment_id",
    "get_client",
    "import_mlflow",
    "redact_uri",
    "resolve_tracking_uri",
]

_clients: dict[str, Any] = {}
_lock = threading.Lock()
_import_lock = threading.RLock()
_imported: set[str] = set()


def import_mlflow(*modules: str) -> None:
    """Import ``mlflow`` (and the MLflow ``modules`` named) unless done, one thread at a time.

    Call it before the first lazy ``from mlflow... import`` on any thread that may run
    concurrently with another one importing MLflow (see the module docstring).
    """
    names = ("mlflow", *modules)
    if _imported.issuperset(names):
        return
    with _import_lock:
        for name in names:
            if name not in _imported:
                importlib.import_module(name)
                _imported.add(name)


def default_tracking_uri(root_dir: Path) -> str:
    """The embedded store: ``sqlite:///<root_dir>/mlflow.db`` (absolute)."""
    return f"sqlite:///{Path(root_dir).resolve() / 'mlflow.db'}"


def resolve_tracking_uri(explicit: str | None, root_dir: Path) -> str:
    """Config value, then ``$MLFLOW_TRACKING_URI``, then the embedded SQLite store."""
    if explicit:
        return explicit
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return default_tracking_uri(root_dir)


def default_artifact_location(tracking_uri: str) -> str | None:
    """Artifact folder for a new experiment: beside the SQLite file, not the caller's cwd.

    MLflow puts a local store's artifacts under ``./mlruns`` of whichever process
    creates the experiment, so a kernel in ``notebooks/`` would scatter them there.
    For ``sqlite:///path/mlflow.db`` this gives ``<path>/mlruns/<random id>``;
    for any other store ``None`` (the server decides).
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    db = tracking_uri[len(prefix) :].split("?", 1)[0]
    if not db or db == ":memory:":
        return None
    import uuid

    folder = Path(db).resolve().parent / "mlruns" / uuid.uuid4().hex
    return folder.as_uri()


def get_client(tracking_uri: str) -> MlflowClient:
    """One ``MlflowClient`` per tracking URI for the life of the process.

    The first call for a URI opens the store; for an embedded SQLite store it
    does so under the store's lock file (``mlflow.db.lock``), so a new store's
    schema is created and migrated by one process while the others wait
    (:func:`~jupyter_mlops.core.tracking.store_lock.first_open`). A failed open is not
    cached: the next call tries again.
    """
    import_mlflow()
    cached: MlflowClient | None = _clients.get(tracking_uri)
    if cached is not None:
        return cached
    from jupyter_mlops.core.tracking.store_lock import embedded_store_path

    embedded = embedded_store_path(tracking_uri) is not None
    if embedded:
        _import_sqlite_store()
    with _lock:
        client = _clients.get(tracking_uri)
        if client is None:
            client = _open_client(tracking_uri, embedded)
            engine = getattr(client._tracking_client.store, "engine", None)
            if engine is not None:  # MLflow's one engine per database, its fluent API's too
                from jupyter_mlops.core.fork_gate import guard

                guard(engine)
            _clients[tracking_uri] = client
        return client


def _fresh_connections_in_child() -> None:
    """A forked child must not use the SQL connections it inherited: the parent may be in the
    middle of a statement on one (its writer thread), and SQLite forbids carrying a connection
    across ``fork``. The child's pools start empty (``dispose(close=False)`` leaves the
    parent's connections alone) and it opens its own."""
    global _lock
    _lock = threading.Lock()
    for client in list(_clients.values()):
        try:
            engine = getattr(client._tracking_client.store, "engine", None)
            if engine is not None:
                engine.dispose(close=False)
        except Exception:  # noqa: S112 - a store without an engine (REST, file) has nothing to reset
            continue


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_connections_in_child)

_SQLITE_STORE_MODULES = ("mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store")


def _import_sqlite_store() -> None:
    """Import MLflow's SQL store (SQLAlchemy, alembic: seconds) before taking the store's lock."""
    with contextlib.suppress(ImportError):  # moved in another MLflow: more time under the lock
        import_mlflow(*_SQLITE_STORE_MODULES)


def _open_client(tracking_uri: str, embedded: bool) -> MlflowClient:
    from mlflow import MlflowClient

    from jupyter_mlops.core.tracking.store_lock import embedded_store_path, first_open
    from jupyter_mlops.core.tracking.store_repair import (
        drop_interrupted_copies,
        names_interrupted_copy,
    )

    if not embedded:
        return MlflowClient(tracking_uri=tracking_uri)  # a server orders its own schema changes
    with first_open(tracking_uri), _quiet(_SCHEMA_LOGGERS):
        stuck = 0  # attempts in a row stopped by an interrupted migration's copy
        for attempt in range(CREATE_ATTEMPTS):
            before = _schema_revision(tracking_uri)
            try:
                # builds the store (creates, migrates); a first query, should it build lazily
                client = MlflowClient(tracking_uri=tracking_uri)
                client.search_experiments(max_results=1)
                return client
            except Exception as exc:
                after = _schema_revision(tracking_uri)
                elsewhere = _created_elsewhere(exc) or after != before or after != _head()
                if attempt + 1 == CREATE_ATTEMPTS or not elsewhere:
                    raise
                stuck = stuck + 1 if names_interrupted_copy(exc) and after == before else 0
                if stuck >= STUCK_ATTEMPTS and (db := embedded_store_path(tracking_uri)):
                    drop_interrupted_copies(db)  # nobody is finishing that migration
                    stuck = 0
                    continue
                time.sleep(CREATE_RETRY_S)  # plain MLflow elsewhere is creating it: let it finish
    raise AssertionError("unreachable")


CREATE_ATTEMPTS = 20
CREATE_RETRY_S = 0.5
STUCK_ATTEMPTS = 3
"""A process that does not take the lock (plain ``mlflow`` in a kernel or script) may be creating
or migrating a new store at the same time: what that looks like is retried, every
``CREATE_RETRY_S`` seconds, ``CREATE_ATTEMPTS`` times in all. A migration that stops
``STUCK_ATTEMPTS`` times in a row on the copy another one left behind, the schema unchanged
meanwhile, was interrupted for good: the copy is dropped
(:func:`~jupyter_mlops.core.tracking.store_repair.drop_interrupted_copies`) and it runs again."""

_ELSEWHERE = (  # what a schema half created or half migrated by another process looks like
    "already exists",
    "duplicate column name",
    "no such column",
    "no such table",
    "out-of-date database schema",
    "expected to match one row",
    "database is locked",
)


def _schema_revision(tracking_uri: str) -> str | None:
    """The store's schema revision (alembic's), None while it has none. A first open that
    failed while it changed, or short of MLflow's newest, met a schema another process was
    creating or migrating (plain MLflow's open takes no lock): the open is tried again."""
    import sqlite3

    from jupyter_mlops.core.tracking.store_lock import embedded_store_path

    db = embedded_store_path(tracking_uri)
    if db is None or not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:  # no version table yet
        return None
    return ",".join(sorted(str(row[0]) for row in rows)) or None


def _head() -> str:
    from mlflow.store.db.utils import _get_latest_schema_revision

    return str(_get_latest_schema_revision())  # type: ignore[no-untyped-call]


def _created_elsewhere(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) says another process is creating the schema."""
    from jupyter_mlops.core.tracking.store_repair import chain_texts

    return any(marker in text for text in chain_texts(exc) for marker in _ELSEWHERE)


_SCHEMA_LOGGERS = ("mlflow.store.db.utils", "alembic.runtime.migration")
"""Loggers that say, at INFO, that a new store's tables are being created or migrated: in a
notebook, two lines of stderr under the user's first tracked cell that ask nothing of them."""


_quiet_here = threading.local()


class _BelowWarningHere(logging.Filter):
    """Drops records under WARNING logged by a thread inside :func:`_quiet` (other threads
    and the loggers' levels are left alone, as :mod:`.delivery` does for its own thread)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not getattr(_quiet_here, "on", False)


_below_warning_here = _BelowWarningHere()


@contextlib.contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, on this thread, ``names`` log only warnings and errors."""
    for name in names:
        logger = logging.getLogger(name)
        if _below_warning_here not in logger.filters:
            logger.addFilter(_below_warning_here)
    previous = getattr(_quiet_here, "on", False)
    _quiet_here.on = True
    try:
        yield
    finally:
        _quiet_here.on = previous


def experiment_id(client: Any, name: str, tracking_uri: str) -> str:
    """Get or create experiment ``name``; racing creators all get the same one.

    A new experiment's artifacts go to :func:`default_artifact_location`.
    Raises :class:`~jupyter_mlops.exceptions.UsageError` when it is deleted.
    """
    from mlflow.exceptions import MlflowException

    from jupyter_mlops.exceptions import StoreError, UsageError

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            location = default_artifact_location(tracking_uri)
            return str(client.create_experiment(name, artifact_location=location))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise StoreError(f"Experiment {name!r} was created but cannot be read back.")
    if experiment.lifecycle_stage != "active":
        raise UsageError(
            f"Experiment {name!r} is deleted.",
            hint="restore it (mlflow experiments restore) or choose another experiment name",
        )
    return str(experiment.experiment_id)
