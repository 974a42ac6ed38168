"""A fork waits for SQLite calls in flight on other threads (core.fork_gate).

A thread holds a connection of a guarded engine (it is inside SQLite, as the
metric writer or the environment job may be) while the main thread forks: the
child must start with no connection in use, and its first statement must work.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from jupyter_mlops.core import fork_gate
from jupyter_mlops.core.cost.ledger_schema import open_engine

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _fork_while_held(engine: object, tmp_path: Path) -> tuple[int, int]:
    """Fork while another thread holds one of ``engine``'s connections; the child's count of
    checked-out connections, and how many statements it ran."""
    import sqlalchemy as sa

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            conn.execute(sa.text("select 1"))
            held.set()
            release.wait(0.5)  # the fork starts meanwhile; it must wait for the end

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(10)
    report = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            out = engine.pool.checkedout()  # type: ignore[attr-defined]
            with engine.connect() as conn:  # type: ignore[attr-defined]
                ran = len(list(conn.execute(sa.text("select 1"))))
            report.write_text(f"{out} {ran}")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    thread.join(10)
    assert os.waitstatus_to_exitcode(status) == 0
    out, ran = report.read_text().split()
    return int(out), int(ran)


def test_a_fork_waits_for_a_connection_in_use(tmp_path: Path) -> None:
    engine, _ = open_engine(f"sqlite:///{tmp_path / 'gate.db'}", "test database", 5.0)
    assert fork_gate.in_use() == 0
    assert _fork_while_held(engine, tmp_path) == (0, 1)
    assert fork_gate.in_use() == 0
    engine.dispose()


def test_an_unguarded_engine_forks_in_the_middle(tmp_path: Path) -> None:
    """What the gate prevents (and what makes the test above able to fail)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'open.db'}")
    assert _fork_while_held(engine, tmp_path) == (1, 1)
    engine.dispose()
