"""The spool's on-disk format: one JSON array per line, and the sidecar files.

Lines (``R.jsonl`` for run ``R``)::

    ["m", key, value, timestamp_ms, step]     a metric point (NaN / Infinity as JSON extensions)
    ["p", key, value]                         a param
    ["t", key, value]                         a tag

Metric lines are built with an f-string (keys are validated MLflow keys, which
contain no quote, backslash or control character), params and tags with
``json.dumps``. ``R.offset`` holds the committed byte offset, ``R.meta.json``
a :class:`SpoolMeta`; both are replaced atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from jupyter_mlops.core.tracking.owner import OwnerRecord, process_create_time, write_atomic

__all__ = [
    "META_SUFFIX",
    "OFFSET_SUFFIX",
    "REJECTED_SUFFIX",
    "SPOOL_SUFFIX",
    "Chunk",
    "ChunkLimits",
    "Record",
    "SpoolMeta",
    "format_metric",
    "format_number",
    "format_param",
    "format_tag",
    "parse_line",
    "process_create_time",
    "read_chunks",
    "write_atomic",
]

META_SUFFIX = ".meta.json"
SPOOL_SUFFIX = ".jsonl"
OFFSET_SUFFIX = ".offset"
REJECTED_SUFFIX = ".rejected.jsonl"

Record = tuple[Any, ...]


def format_number(value: float) -> str:
    """JSON text of a float, including ``NaN`` and ``Infinity`` (which Python's json reads)."""
    if value - value == 0.0:
        return repr(value)
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def format_metric(key: str, value: float, timestamp: int, step: int) -> str:
    """Spool line of a metric. ``key`` must already be a valid MLflow key (no quotes)."""
    return f'["m","{key}",{format_number(value)},{timestamp},{step}]\n'


def format_param(key: str, value: str) -> str:
    """Spool line of a param."""
    return json.dumps(["p", key, value]) + "\n"


def format_tag(key: str, value: str) -> str:
    """Spool line of a tag."""
    return json.dumps(["t", key, value]) + "\n"


def parse_line(line: bytes) -> Record:
    """Decode one spool line; ``ValueError`` if it is not a well-formed record."""
    record = json.loads(line.decode("utf-8"))
    if isinstance(record, list):
        kind = record[0] if record else None
        if kind == "m" and len(record) == 5:
            return ("m", str(record[1]), float(record[2]), int(record[3]), int(record[4]))
        if kind in ("p", "t") and len(record) == 3:
            return (kind, str(record[1]), str(record[2]))
    raise ValueError(f"not a spool record: {line[:80]!r}")


@dataclass
class SpoolMeta(OwnerRecord):
    """What a recovering process needs to know about a spool (no credentials)."""

    end_status: str | None = None
    end_time: int | None = None
    status_owner: tuple[int, float] | None = None
    """``(pid, create_time)`` of the process that sets the run's status when it is not
    this spool's (a pipeline execution's kernel: its executor). While that process
    lives, recovery delivers the records but leaves the run's status alone."""

    @classmethod
    def _decode(cls, data: dict[str, Any]) -> dict[str, Any]:
        owner = data.get("status_owner")
        if owner is not None:
            data["status_owner"] = (int(owner[0]), float(owner[1]))
        return data


class ChunkLimits(Protocol):
    """The most one delivery request may carry (a sender's limits)."""

    metric_limit: int
    param_limit: int
    tag_limit: int
    entity_limit: int
    byte_limit: int


class Chunk:
    """Records for one delivery request, and the byte offset just after its last line."""

    __slots__ = ("bad", "end", "lines", "metrics", "nbytes", "params", "tags")

    def __init__(self) -> None:
        self.metrics: list[tuple[str, float, int, int]] = []
        self.params: dict[str, str] = {}  # first value per key (params never change)
        self.tags: dict[str, str] = {}  # last value per key (tags can)
        self.lines: list[bytes] = []
        self.bad: list[bytes] = []  # lines that do not parse
        self.nbytes = 0
        self.end = 0

    def full(self, limits: ChunkLimits, next_line: int) -> bool:
        """Whether one more line of ``next_line`` bytes would break ``limits``."""
        return (
            len(self.metrics) >= limits.metric_limit
            or len(self.params) >= limits.param_limit
            or len(self.tags) >= limits.tag_limit
            or len(self.lines) >= limits.entity_limit
            or self.nbytes + next_line > limits.byte_limit
        )


def read_chunks(path: Path, offset: int, limits: ChunkLimits, read_limit: int) -> list[Chunk]:
    """The complete lines of ``path`` after ``offset`` (at most ``read_limit`` bytes), in chunks.

    A trailing line without its newline (a write cut short, or still being
    written) is not read: it waits for its end.
    """
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(read_limit)
    except FileNotFoundError:
        return []
    last = data.rfind(b"\n")
    if last < 0:
        return []
    chunks = [Chunk()]
    pos = offset
    for raw in data[:last].split(b"\n"):
        pos += len(raw) + 1
        chunk = chunks[-1]
        if chunk.full(limits, len(raw)):
            chunk = Chunk()
            chunks.append(chunk)
        chunk.end = pos
        if not raw.strip():
            continue
        try:
            record = parse_line(raw)
        except ValueError:
            chunk.bad.append(raw)
            continue
        chunk.lines.append(raw)
        chunk.nbytes += len(raw)
        if record[0] == "m":
            chunk.metrics.append(record[1:])
        elif record[0] == "p":
            chunk.params.setdefault(record[1], record[2])
        else:
            chunk.tags.pop(record[1], None)
            chunk.tags[record[1]] = record[2]
    return chunks
