"""The first open of a store: embedded SQLite stores under a lock file, others as they are.

Real MLflow stores in ``tmp_path``; the competing lock holder is a real second
process. The many-processes-at-once case is ``tests/python/load/test_new_store.py``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
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
