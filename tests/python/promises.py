"""Figures for the promise table (``bench/promise_table.py``).

The reliability and security tests call :func:`record` with what they checked
(routes, paths tried, canaries planted, faults injected, metrics sent vs
stored, latencies). Outside the promise-table command (``$MLOPS_PROMISE_DIR``
unset) it does nothing, so the tests stay plain tests::

    from promises import record
    record("access", "routes answer 403 without credentials", routes=len(routes), refused=n)

Each call appends one JSON line with a single ``os.write`` on an ``O_APPEND``
descriptor, so parallel test processes and subprocesses can record at once.
"""

from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["ENV", "enabled", "record"]

ENV = "MLOPS_PROMISE_DIR"
FILE = "promises.jsonl"


def enabled() -> bool:
    """Whether a promise-table run is collecting figures."""
    return bool(os.environ.get(ENV))


def record(section: str, promise: str, *, ok: bool = True, **figures: Any) -> None:
    """Add one row: ``section`` (access, paths, xss, secrets, faults, load), the promise
    in words, whether it held, and its figures (JSON-able values)."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    line = json.dumps(
        {"section": section, "promise": promise, "ok": bool(ok), "figures": figures},
        default=str,
        ensure_ascii=False,
    )
    fd = os.open(os.path.join(folder, FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)
