"""Fixtures for the core tests: trackers on the shared ``mlflow_store`` and child processes.

``mlflow_store`` (a fresh, migrated SQLite MLflow store per test) comes from
``tests/python/conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.tracking.tracker import Tracker

REPO_ROOT = Path(__file__).resolve().parents[3]


def make_child_env() -> dict[str, str]:
    """This environment, with the source tree importable and MLflow quiet."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    return env


def _run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=make_child_env(),
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment for a child Python: this one, with the source tree importable."""
    return make_child_env()


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(code, *argv)``: run ``code`` in a fresh interpreter; fail on a non-zero exit."""
    return _run_python


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    """An empty spool folder of this test's own."""
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def make_tracker(mlflow_store: Any, spool_dir: Path) -> Iterator[Callable[..., Tracker]]:
    """``make_tracker(**kwargs)``: a Tracker on the test store, closed after the test."""
    made: list[Tracker] = []

    def make(**kwargs: Any) -> Tracker:
        kwargs.setdefault("flush_interval", 0.05)
        tracker = Tracker(mlflow_store.uri, spool_dir, **kwargs)
        tracker.wait_for_recovery(10)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.close()


@pytest.fixture
def tracker(make_tracker: Callable[..., Tracker]) -> Tracker:
    """A Tracker on the test store (flush interval 0.05 s)."""
    return make_tracker()
