"""A store an interrupted schema migration left short of MLflow's schema is repaired on open.

Seen in CI: plain MLflow and our first open migrated the same new store at once; one
migration failed after alembic's batch copy ``_alembic_tmp_tags`` was created (sqlite3
commits a ``CREATE TABLE`` on its own), and from then on every open, ours, plain
MLflow's and ``mlflow db upgrade``, stopped at "table _alembic_tmp_tags already exists".
The store here is built in that state with MLflow's own migrations (real alembic, real
SQLite), stopped where that migration stopped, with a run in it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from jupyter_mlops.core.tracking.store import get_client
from jupyter_mlops.core.tracking.store_repair import drop_interrupted_copies

MIGRATION = "f5a4f2784254"
"""MLflow's migration that rebuilds ``tags`` in batch mode (``increase_run_tag_value_limit``)."""
COPY_DDL = (
    'CREATE TABLE _alembic_tmp_tags ("key" VARCHAR(250) NOT NULL, value VARCHAR(8000), '
    'run_uuid VARCHAR(32) NOT NULL, CONSTRAINT tag_pk PRIMARY KEY ("key", run_uuid))'
)


def _store_interrupted_at_tags(db: Path) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import InitialBase, _get_alembic_config
    from sqlalchemy import create_engine

    uri = f"sqlite:///{db}"
    config = _get_alembic_config(uri)
    before = ScriptDirectory.from_config(config).get_revision(MIGRATION).down_revision
    engine = create_engine(uri)
    InitialBase.metadata.create_all(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, str(before))
    engine.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO runs (run_uuid, name, status, start_time, lifecycle_stage, "
            "artifact_uri, experiment_id, user_id, source_type, source_name, entry_point_name, "
            "source_version) VALUES ('r1', 'kept', 'FINISHED', 1, 'active', '/tmp/a', 0, 'u', "
            "'LOCAL', '', '', '')"
        )
        conn.execute("INSERT INTO tags (key, value, run_uuid) VALUES ('team', 'vision', 'r1')")
        conn.execute(COPY_DDL)  # what the failed migration committed before it failed


def _tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_the_copy_an_interrupted_migration_left_is_dropped_and_the_migration_finished(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from mlflow import MlflowClient
    from mlflow.store.db.utils import _get_latest_schema_revision

    db = tmp_path / "mlflow.db"
    _store_interrupted_at_tags(db)
    uri = f"sqlite:///{db}"
    with pytest.raises(Exception, match="_alembic_tmp_tags already exists"):
        MlflowClient(tracking_uri=uri).search_experiments()  # plain MLflow stops there for good

    caplog.set_level(logging.WARNING, "jupyter_mlops")
    client = get_client(uri)
    run = client.get_run("r1")
    assert run.info.run_name == "kept"
    assert run.data.tags["team"] == "vision"
    assert "_alembic_tmp_tags" not in _tables(db)
    with sqlite3.connect(db) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert revision == _get_latest_schema_revision()  # type: ignore[no-untyped-call]
    warned = [r.getMessage() for r in caplog.records if "_alembic_tmp_tags" in r.getMessage()]
    assert len(warned) == 1, warned
    assert "tags is untouched" in warned[0]
    MlflowClient(tracking_uri=uri).set_tag("r1", "after", "repair")  # plain MLflow works again


def test_a_copy_without_its_table_is_left_alone(tmp_path: Path) -> None:
    """Not what an interrupted migration leaves: the copy may hold the rows."""
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (run_uuid TEXT)")
        conn.execute("CREATE TABLE _alembic_tmp_runs (run_uuid TEXT)")
        conn.execute(COPY_DDL)
        conn.execute("CREATE TABLE tags (key TEXT)")
        conn.execute("CREATE TABLE _alembic_tmp_params (key TEXT)")
        conn.execute("INSERT INTO _alembic_tmp_params VALUES ('lr')")
    assert drop_interrupted_copies(db) == ["_alembic_tmp_runs", "_alembic_tmp_tags"]
    assert _tables(db) == {"runs", "tags", "_alembic_tmp_params"}
