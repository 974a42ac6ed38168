"""Helpers shared by the artifact, report and outage tests: waiting, and a run's stored files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

__all__ = ["stored", "wait_for"]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, interval: float = 0.02) -> None:
    """Poll ``condition`` every ``interval`` seconds; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(interval)


def stored(client: Any, run_id: str) -> dict[str, bytes]:
    """Every artifact file of ``run_id`` (a local artifact store): path -> content."""
    root = Path(url2pathname(urlparse(client.get_run(run_id).info.artifact_uri).path))
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
