"""Live progress of a running execution: which cell, and the last lines of its output.

::

    # in the worker (see execute.py): papermill's own hooks feed it
    with ProgressWriter(execution.progress_file) as writer:
        papermill.execute_notebook(..., **writer.engine_kwargs())

    # in the runner: at most one new snapshot per execution and interval
    watcher = ProgressWatcher(interval=1.0)
    snapshot = watcher.poll(execution.progress_file)   # {"cell", "cells", "lines", "updated",
                                                       #  "cost"}

The worker side uses nbclient's ``on_notebook_start`` / ``on_cell_execute``
hooks (passed through papermill's engine keyword arguments) for "cell k of n"
(code cells with source, as nbclient executes them) and papermill's
``stdout_file`` / ``stderr_file`` for the stream output. A thread writes the
snapshot at most every :data:`WRITE_INTERVAL` seconds, when it changed, as
small JSON replaced atomically, so the runner reads a whole one or the previous
one. ``cost`` is the execution's allocated cost so far (its meter calls
:meth:`ProgressWriter.set_cost` every second), what a spend cap counts. It works wherever the runner can read the worker's files (the local
process pool, an embedded Dask cluster); nothing is written without a path.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LINES", "WRITE_INTERVAL", "ProgressWatcher", "ProgressWriter", "read_progress"]

LINES = 10
"""Output lines kept (the last ones)."""
WRITE_INTERVAL = 0.5
_LINE_MAX = 500


class _Stream:
    """A file-like sink for papermill's ``stdout_file`` / ``stderr_file``."""

    def __init__(self, writer: ProgressWriter) -> None:
        self._writer = writer

    def write(self, text: str) -> int:
        self._writer.add_output(text)
        return len(text)

    def flush(self) -> None:
        return None


class ProgressWriter:
    """Collects one execution's progress and writes it to ``path`` (a no-op without one)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.cell = 0
        self.cells = 0
        self._code_cells: list[int] = []
        self._lines: deque[str] = deque(maxlen=LINES)
        self._partial = ""
        self.cost = 0.0
        self._lock = threading.Lock()
        self._dirty = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def engine_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``papermill.execute_notebook`` that feed this writer."""
        if not self.path:
            return {}
        stream = _Stream(self)
        return {
            "on_notebook_start": self.notebook_start,
            "on_cell_execute": self.cell_execute,
            "stdout_file": stream,
            "stderr_file": stream,
        }

    # -- nbclient hooks and output ---------------------------------------------------------

    def notebook_start(self, notebook: Any = None, **_: Any) -> None:
        cells = list(getattr(notebook, "cells", None) or [])
        self._code_cells = [
            i
            for i, cell in enumerate(cells)
            if cell.get("cell_type") == "code" and str(cell.get("source") or "").strip()
        ]
        with self._lock:
            self.cells, self._dirty = len(self._code_cells), True

    def cell_execute(self, cell: Any = None, cell_index: int = 0, **_: Any) -> None:
        position = (
            self._code_cells.index(cell_index) + 1
            if cell_index in self._code_cells
            else self.cell + 1
        )
        with self._lock:
            self.cell, self._dirty = position, True

    def add_output(self, text: str) -> None:
        with self._lock:
            parts = (self._partial + text).split("\n")
            self._partial = parts.pop()[-_LINE_MAX:]
            for line in parts:
                self._lines.append(line.rstrip("\r")[-_LINE_MAX:])
            self._dirty = True

    def set_cost(self, cost: float) -> None:
        """The execution's allocated cost so far (its meter's, every second)."""
        with self._lock:
            if cost != self.cost:
                self.cost, self._dirty = float(cost), True

    def snapshot(self) -> dict[str, Any]:
        """What the runner reads: ``{"cell", "cells", "lines", "updated", "cost"}``."""
        with self._lock:
            lines = list(self._lines) + ([self._partial] if self._partial else [])
            return {
                "cell": self.cell,
                "cells": self.cells,
                "lines": lines[-LINES:],
                "updated": time.time(),
                "cost": self.cost,
            }

    # -- writing --------------------------------------------------------------------------

    def _write(self) -> None:
        with self._lock:
            if not self._dirty or not self.path:
                return
            self._dirty = False
        snapshot = self.snapshot()
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):
            Path(temporary).write_text(json.dumps(snapshot), encoding="utf-8")
            os.replace(temporary, self.path)

    def _loop(self) -> None:
        while not self._stop.wait(WRITE_INTERVAL):
            self._write()

    def __enter__(self) -> ProgressWriter:
        if self.path:
            self._thread = threading.Thread(
                target=self._loop, name="jupyter-mlops-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
        self._write()


def read_progress(path: str) -> dict[str, Any] | None:
    """The snapshot at ``path``; None when there is none (yet) or it is unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return {
            "cell": int(data["cell"]),
            "cells": int(data["cells"]),
            "lines": [str(line) for line in data["lines"]][-LINES:],
            "updated": float(data["updated"]),
            "cost": float(data.get("cost", 0.0)),
        }
    except (KeyError, TypeError, ValueError):
        return None


class ProgressWatcher:
    """The runner's side: a new snapshot of a progress file at most once per ``interval`` s."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._seen: dict[str, tuple[float, int]] = {}  # path -> (last poll, mtime_ns)

    def poll(self, path: str | None) -> dict[str, Any] | None:
        """A snapshot newer than the last one returned for ``path``, if it is time to look."""
        if not path:
            return None
        now = time.monotonic()
        last, mtime = self._seen.get(path, (float("-inf"), -1))
        if now - last < self.interval:
            return None
        try:
            current = os.stat(path).st_mtime_ns
        except OSError:
            return None
        if current == mtime:
            return None
        snapshot = read_progress(path)
        if snapshot is not None:
            self._seen[path] = (now, current)
        return snapshot

    def forget(self, path: str | None) -> None:
        """Stop watching ``path`` (its execution ended) and remove the file."""
        if path:
            self._seen.pop(path, None)
            with contextlib.suppress(OSError):
                os.unlink(path)
