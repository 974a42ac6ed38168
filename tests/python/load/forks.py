"""Start N forked workers at the same instant: each says it is ready, then waits for a barrier.

Used by the load scripts (``writers.py``, ``bookers.py``) and ``test_new_store.py``,
which run as ``python <script> <spec.json>`` with this folder first on ``sys.path``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

__all__ = ["BARRIER_TIMEOUT", "run_forked", "wait_barrier"]

BARRIER_TIMEOUT = 240.0


def wait_barrier(path: Path, timeout: float = BARRIER_TIMEOUT, interval: float = 0.005) -> None:
    """Wait until ``path`` exists (the barrier); ``TimeoutError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no barrier {path}")
        time.sleep(interval)


def run_forked(
    children: Mapping[str, Callable[[], int]], out: Path, barrier: Path, ready_timeout: float
) -> dict[str, int]:
    """Fork one process per child (it exits with what its callable returns), wait up to
    ``ready_timeout`` seconds for every ``<out>/<name>.ready``, touch ``barrier`` and
    reap them all; their exit codes by name."""
    pids: dict[int, str] = {}
    for name, child in children.items():
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child()
            finally:
                os._exit(code)
        pids[pid] = name
    deadline = time.monotonic() + ready_timeout
    while not all((out / f"{n}.ready").exists() for n in children):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    barrier.touch()
    codes: dict[str, int] = {}
    while pids:
        pid, status = os.wait()
        name = pids.pop(pid, None)
        if name is not None:
            codes[name] = os.waitstatus_to_exitcode(status)
    return codes
