"""The first open of a store: embedded SQLite stores under a lock file, others as they are.

Real MLflow stores in ``tmp_path``; the competing lock holder is a real second
process. The many-processes-at-once case is ``tests/python/load/test_new_store.py``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.tracking import store_lock
from jupyter_mlops.core.tracking.store import get_client
from jupyter_mlops.core.tracking.store_lock import embedded_store_path, file_lock, lock_path
from jupyter_mlops.exceptions import StoreError


def test_embedded_store_path_only_for_sqlite_files(tmp_path: Path, monkeypatch: Any) -> None:
    db = tmp_path / "mlflow.db"
    assert embedded_store_path(f"sqlite:///{db}") == db.resolve()
    assert embedded_store_path(f"sqlite+pysqlite:///{db}?timeout=5") == db.resolve()
    monkeypatch.chdir(tmp_path)
    assert embedded_store_path("sqlite:///rel/mlflow.db") == (tmp_path / "rel/mlflow.db").resolve()
    for uri in (
        "sqlite:///:memory:",
        "sqlite://",
        "http://127.0.0.1:5000",
        "postgresql+psycopg://u:p@db:5432/mlflow",
        "file:///tmp/mlruns",
        "databricks",
    ):
        assert embedded_store_path(uri) is None, uri


def test_lock_file_lies_beside_the_database(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "mlflow.db") == tmp_path / "mlflow.db.lock"


def test_first_client_of_a_new_store_creates_it_under_its_lock(tmp_path: Path) -> None:
    db = tmp_path / "new" / "mlflow.db"
    db.parent.mkdir()
    client = get_client(f"sqlite:///{db}")
    assert db.is_file()
    assert lock_path(db).is_file()  # left in place: empty, reused by the next first open
    assert [e.name for e in client.search_experiments()] == ["Default"]
    assert get_client(f"sqlite:///{db}") is client  # no second open in this process


def test_threads_of_one_process_share_one_first_open(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    clients: list[Any] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            clients.append(get_client(uri))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(c) for c in clients}) == 1


HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()  # hold it until the test says
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the holder uses fcntl")
def test_a_store_being_created_elsewhere_is_waited_for_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(lock_path(db))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(store_lock, "OPEN_TIMEOUT", 0.3)
        with pytest.raises(StoreError) as caught:
            get_client(uri)
        assert str(lock_path(db)) in caught.value.message
        assert caught.value.hint is not None
        assert "fuser" in caught.value.hint
        assert not db.exists()  # nobody touched the store while another process held the lock
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    client = get_client(uri)  # the failed open was not cached: it opens once the lock is free
    assert client.get_experiment("0").name == "Default"


def test_lock_file_that_cannot_be_created_is_not_required(tmp_path: Path) -> None:
    with file_lock(tmp_path / "missing" / "mlflow.db.lock") as locked:
        assert locked is False


def test_a_tracking_server_is_not_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    client = get_client("http://127.0.0.1:9")  # nothing listens; building it contacts nothing
    assert client.tracking_uri == "http://127.0.0.1:9"
    assert list(tmp_path.iterdir()) == []


def test_a_new_store_is_created_without_mlflows_schema_chatter(tmp_path: Path) -> None:
    """MLflow logs 'Creating initial MLflow database tables...' at INFO on stderr; under a
    notebook's first tracked cell that is noise. Its warnings still show; the level is back."""
    code = textwrap.dedent(
        f"""
        import logging
        from jupyter_mlops.core.tracking.store import get_client
        get_client({f"sqlite:///{tmp_path / 'mlflow.db'}"!r}).search_experiments()
        print(logging.getLogger("mlflow.store.db.utils").level)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert (tmp_path / "mlflow.db").is_file()
    assert "database tables" not in done.stderr, done.stderr
    assert done.stdout.strip() == "0"  # NOTSET again: MLflow's own configuration applies


def test_a_store_plain_mlflow_is_creating_at_that_moment_is_waited_for(tmp_path: Path) -> None:
    """Plain MLflow (a kernel's ``mlflow.start_run``) takes no lock of ours. While it is in the
    middle of creating a new store's tables, our first open's ``CREATE TABLE`` waits on its
    write lock and then finds the table there ("table experiments already exists"): we wait
    for it to finish and open the store it made."""
    import sqlite3

    from mlflow import MlflowClient
    from mlflow.store.db.utils import InitialBase
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateTable

    # MLflow creates its initial tables, then migrates them: the first, as it writes it
    table = InitialBase.metadata.tables["experiments"]
    ddl = str(CreateTable(table).compile(dialect=sqlite.dialect()))
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    uri = f"sqlite:///{db}"

    creating = sqlite3.connect(db, isolation_level=None)  # plain MLflow's creation, half done
    creating.execute("BEGIN IMMEDIATE")
    creating.execute(ddl)
    code = f"""
from jupyter_mlops.core.tracking.store import get_client
print(len(get_client({uri!r}).search_experiments()))
"""
    ours = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3.0)  # ours is waiting on the write lock (its lock file is free)
        creating.execute("COMMIT")
        creating.close()
        with contextlib.suppress(Exception):  # plain MLflow may trip over ours: its own race
            MlflowClient(tracking_uri=uri).search_experiments()  # it finishes the store
        out, err = ours.communicate(timeout=120)
    finally:
        ours.kill()
    assert ours.returncode == 0, err[-3000:]
    assert out.strip() == "1", (out, err[-3000:])  # the Default experiment, once
