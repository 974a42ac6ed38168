"""Fixtures for the kernel-side tests: a real IPython shell and a real MLflow store.

The store is SQLite in ``tmp_path`` (``MLFLOW_TRACKING_URI``, a copy of the
session's migrated template from ``tests/python/conftest.py``) with its own
spool folder (``JUPYTER_MLOPS_SPOOL_DIR``); the process-wide tracker is reset
around every test that uses it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

import jupyter_mlops

REPO_ROOT = Path(jupyter_mlops.__file__).resolve().parents[1]


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment for a child Python: this one, with the source tree importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_store: Callable[[Path], Any]
) -> Iterator[str]:
    """A fresh SQLite MLflow store and spool for this test; yields the tracking URI."""
    from jupyter_mlops.kernel import api

    uri: str = new_store(tmp_path).uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("JUPYTER_MLOPS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTER_MLOPS_PROJECT", "kernel-tests")
    api._reset_for_tests()
    yield uri
    api._reset_for_tests()


@pytest.fixture(scope="session")
def _shell() -> InteractiveShell:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.extension_manager.load_extension("jupyter_mlops")
    return shell


@pytest.fixture
def ip(_shell: InteractiveShell) -> InteractiveShell:
    """The test IPython shell with ``%load_ext jupyter_mlops`` done."""
    return _shell
