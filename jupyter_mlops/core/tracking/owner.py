"""Who owns a spool or an artifact queue, whether that process still lives, atomic sidecars.

A metric spool (:class:`~jupyter_mlops.core.tracking.spool_format.SpoolMeta`) and an
artifact queue (:class:`~jupyter_mlops.core.artifacts.staging.QueueOwner`) both name
their owner in a JSON sidecar: one :class:`OwnerRecord` (run id, tracking URI without
credentials, owner pid, process start time, host, creation time), extended by each
with its own fields. Recovery takes over what a dead owner left.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from jupyter_mlops.core.redact import redact_uri

__all__ = [
    "OwnerRecord",
    "owner_alive",
    "process_create_time",
    "sqlite_store_gone",
    "write_atomic",
]

_CREATE_TIME_TOLERANCE = 1.0  # seconds; /proc boot-time rounding and clock slew
_R = TypeVar("_R", bound="OwnerRecord")


def process_create_time(pid: int | None = None) -> float:
    """Start time of process ``pid`` (default: this one), as psutil reports it."""
    import psutil

    create_time: float = psutil.Process(pid).create_time()
    return create_time


def owner_alive(pid: int, create_time: float) -> bool:
    """Whether process ``pid`` started at ``create_time`` still runs (unknown counts as alive)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - create_time) < _CREATE_TIME_TOLERANCE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # access denied: assume it is alive rather than steal its run
        return True


def sqlite_store_gone(uri: str) -> bool:
    """Whether ``uri`` is a SQLite store whose file no longer exists.

    Opening it would make MLflow create a new, empty database there (and the
    folders above it), so what was left for such a store is never replayed.
    """
    if not uri.startswith("sqlite:///"):
        return False
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).exists()


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (temp file + ``os.replace``)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass
class OwnerRecord:
    """The process that owns a spool or queue of run ``run_id`` (no credentials)."""

    run_id: str
    tracking_uri: str
    pid: int
    create_time: float
    host: str
    created_ms: int

    @classmethod
    def new(cls: type[_R], run_id: str, tracking_uri: str, **fields: Any) -> _R:
        """A record naming this process as the owner, now (credentials stripped from the URI)."""
        return cls(
            run_id=run_id,
            tracking_uri=redact_uri(tracking_uri),
            pid=os.getpid(),
            create_time=process_create_time(),
            host=socket.gethostname(),
            created_ms=time.time_ns() // 1_000_000,
            **fields,
        )

    @classmethod
    def _decode(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Fields as read from JSON, fixed up where JSON loses a type (subclasses)."""
        return data

    @classmethod
    def read(cls: type[_R], path: Path) -> _R | None:
        """The sidecar at ``path``, or None when missing or unreadable."""
        try:
            return cls(**cls._decode(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError, IndexError):
            return None

    def write(self, path: Path) -> None:
        """Write atomically."""
        write_atomic(path, json.dumps(asdict(self)))

    def gone(self) -> bool:
        """Whether the owner is a process of this host that no longer runs (another host's
        owner is not ours to judge)."""
        return self.host == socket.gethostname() and not owner_alive(self.pid, self.create_time)
