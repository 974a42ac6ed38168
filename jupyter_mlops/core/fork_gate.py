"""No SQLite call in flight across ``fork()``: a child must not inherit SQLite's mutexes held.

SQLite keeps process-wide mutexes (its allocator's, the one guarding opens). A
thread of the parent inside SQLite at the moment another thread forks (the
metric writer delivering, the environment job setting tags, while the notebook
forks a DataLoader or multiprocessing worker) leaves them locked for ever in
the child, whose first SQLite call (a flush at exit, a metric logged) then
blocks. :func:`guard` puts an engine behind a gate: each connection's
creation and each checkout-to-checkin use holds it shared; ``fork`` waits (up to
:data:`FORK_WAIT_S`) until no guarded engine is in use and keeps new uses out
until the fork is done, in the parent and in the child.

Only SQLite engines are guarded (other databases are servers: nothing of
theirs lives in this process's memory).
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["FORK_WAIT_S", "guard", "in_use"]

FORK_WAIT_S = 5.0
"""How long a fork waits for SQLite calls in flight; after it, it forks anyway."""

_cond = threading.Condition()
_uses = 0
_forking = False


def in_use() -> int:
    """SQLite connections of guarded engines being created or checked out now."""
    return _uses


def _enter(*_: Any) -> None:
    global _uses
    with _cond:
        while _forking:
            _cond.wait()
        _uses += 1


def _leave(*_: Any) -> None:
    global _uses
    with _cond:
        _uses = max(0, _uses - 1)
        _cond.notify_all()


def _connect_failed(context: Any) -> None:
    if context.connection is None:  # raised while connecting: no "connect" follows
        _leave()


def guard(engine: Any) -> Any:
    """Gate ``engine``'s connection creation and use around forks (SQLite only); idempotent."""
    if getattr(engine.dialect, "name", "") != "sqlite" or getattr(
        engine, "_mlops_fork_gate", False
    ):
        return engine
    from sqlalchemy import event

    event.listen(engine, "do_connect", _enter)  # a new DBAPI connection: sqlite3.connect
    event.listen(engine, "connect", _leave)  # ... made (a pool event; kept when re-created)
    event.listen(engine, "handle_error", _connect_failed)
    event.listen(engine, "checkout", _enter)
    event.listen(engine, "checkin", _leave)
    engine._mlops_fork_gate = True
    return engine


def _before_fork() -> None:
    global _forking
    with _cond:
        _forking = True
        _cond.wait_for(lambda: _uses == 0, timeout=FORK_WAIT_S)


def _after_fork_in_parent() -> None:
    global _forking
    with _cond:
        _forking = False
        _cond.notify_all()


def _after_fork_in_child() -> None:
    """One thread, no connection of the parent's in use: a fresh gate."""
    global _cond, _uses, _forking
    _cond = threading.Condition()
    _uses, _forking = 0, False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
