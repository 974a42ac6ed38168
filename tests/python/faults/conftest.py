"""Fixtures for the fault-injection tests (helpers in ``fault_tools.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_tools import ServerProcess


@pytest.fixture
def server_process(
    tmp_path: Path, new_store: Callable[[Path], Any]
) -> Iterator[Callable[[], ServerProcess]]:
    """``server_process()``: a :class:`ServerProcess` on a fresh store (stopped after the test)."""
    made: list[ServerProcess] = []

    def make() -> ServerProcess:
        folder = tmp_path / f"server{len(made)}"
        store = new_store(folder / "store")
        server = ServerProcess(folder, store.uri)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()
