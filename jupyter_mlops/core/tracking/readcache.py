"""Answers of read-only store queries, reused while the store has not changed.

Every open panel asks the server the same questions every few seconds (the
experiments, the first page of runs). MLflow answers a page of 100 runs in
about 100 ms of Python; 100 panels polling would keep the server's threads
and the GIL busy and every request would queue. For the embedded SQLite store
``PRAGMA data_version`` on a private read-only connection says, in about ten
microseconds and without waiting for any lock, whether any connection of any
process committed since it was last asked: while it has not changed, the
answer computed for that version is still exact and is reused. Any other store
(a tracking server, PostgreSQL) has no version: nothing is reused there, but
identical questions asked while one is being answered share that answer.

The version is read *before* the answer is computed, so a commit racing with
the computation only causes one more recomputation, never a stale answer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

__all__ = ["ReadCache", "StoreVersion", "with_current_durations"]


class StoreVersion:
    """``current()``: a number that changes whenever the SQLite store commits, else None."""

    def __init__(self, tracking_uri: str) -> None:
        prefix = "sqlite:///"
        path = (
            tracking_uri[len(prefix) :].split("?", 1)[0] if tracking_uri.startswith(prefix) else ""
        )
        self.path = Path(path) if path and path != ":memory:" else None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def current(self) -> int | None:
        """The store's data version; None when unknown (not SQLite, missing, or locked)."""
        if self.path is None:
            return None
        with self._lock:
            try:
                if self._conn is None:
                    if not self.path.is_file():
                        return None  # never create the file: MLflow does that
                    uri = f"file:{urllib.parse.quote(str(self.path))}?mode=ro"
                    # timeout=0: a writer holding the lock makes this None, it never waits
                    self._conn = sqlite3.connect(uri, uri=True, timeout=0, check_same_thread=False)
                row = self._conn.execute("PRAGMA data_version").fetchone()
                return int(row[0])
            except sqlite3.Error:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class ReadCache:
    """The last answer per question, tagged with the store version it was computed at.

    At most ``size`` questions are kept (least recently used dropped): the
    questions come from user input (search text), so they are not bounded.
    Thread-safe.
    """

    def __init__(self, tracking_uri: str, size: int = 64) -> None:
        self.version = StoreVersion(tracking_uri)
        self.size = size
        self._answers: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._flights: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether this store has a version at all (the embedded SQLite store)."""
        return self.version.path is not None

    def get(self, key: str, version: int) -> tuple[bool, Any]:
        """``(True, answer)`` when ``key`` was answered at ``version``, else ``(False, None)``."""
        with self._lock:
            found = self._answers.get(key)
            if found is None or found[0] != version:
                return False, None
            self._answers.move_to_end(key)
            return True, found[1]

    def put(self, key: str, version: int, answer: Any) -> None:
        """Keep ``answer`` for ``key`` as computed at ``version``."""
        with self._lock:
            self._answers[key] = (version, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)

    def reusable(self, fn: Callable[..., Any]) -> bool:
        """Whether ``fn`` is one of the polled queries whose answers may be shared."""
        return fn in _reusable()

    async def answer(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        compute: Callable[[], Awaitable[Any]],
    ) -> Any:
        """``fn``'s answer to ``(args, kwargs)``: reused while the store's version is unchanged,
        shared with an identical question already in flight, else ``await compute()``.

        Call on one event loop. The version probe takes microseconds and never waits
        for a lock; without a version (another store, or SQLite busy) nothing is
        reused, but identical questions in flight still share one computation.
        """
        refresh = _reusable()[fn]
        version = self.version.current()
        key = f"{fn.__module__}.{fn.__qualname__}{(args, sorted(kwargs.items()))!r}"
        if version is not None:
            hit, found = self.get(key, version)
            if hit:
                return refresh(found)
        slot = (key, -1 if version is None else version)
        flight = self._flights.get(slot)
        if flight is None:
            flight = asyncio.ensure_future(compute())
            self._flights[slot] = flight

            def done(f: asyncio.Future[Any]) -> None:
                self._flights.pop(slot, None)
                if version is not None and not f.cancelled() and f.exception() is None:
                    self.put(key, version, f.result())

            flight.add_done_callback(done)
        # shielded: a client that goes away does not cancel the others' answer
        return refresh(await asyncio.shield(flight))

    def close(self) -> None:
        self.version.close()


def with_current_durations(page: dict[str, Any], now_ms: int | None = None) -> dict[str, Any]:
    """A reused ``search_runs`` page with the running runs' ``duration_ms`` brought up to now
    (a copy; the cached page is shared and never changed)."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    runs = page.get("runs") or []
    if not any(r.get("status") == "RUNNING" and r.get("end_time") is None for r in runs):
        return page
    fresh = []
    for run in runs:
        if run.get("status") == "RUNNING" and run.get("end_time") is None and run.get("start_time"):
            run = {**run, "duration_ms": max(0, now - int(run["start_time"]))}
        fresh.append(run)
    return {**page, "runs": fresh}


def _same(answer: Any) -> Any:
    return answer


def _reusable() -> dict[Callable[..., Any], Callable[[Any], Any]]:
    """The read-only queries the panel polls, and how a reused answer is brought up to date."""
    from jupyter_mlops.core.tracking import query, run_listing

    return {
        query.list_experiments: _same,
        query.search_runs: with_current_durations,
        run_listing.list_runs: with_current_durations,
    }
