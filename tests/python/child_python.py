"""Python in a fresh interpreter (a child process): import cost, entry points, the CLI.

* :func:`python`: ``python ARGS`` (``-c CODE`` or ``-m MODULE ...``), output captured as text;
  by default with this environment and the source tree importable (:func:`source_env`).
* :func:`last_line`: run ``-c CODE``, require exit status 0, return the last line it printed
  (the probes print their report there, after anything a library logs).
* :func:`clean_env`: this environment without any ``MLFLOW_*`` or ``JUPYTER_MLOPS*`` setting;
  :func:`project_env`: that, with the store, spool and cost ledger of a project folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import jupyter_mlops

PACKAGE_PARENT = str(Path(jupyter_mlops.__file__).resolve().parents[1])


def source_env() -> dict[str, str]:
    """This process's environment, with the source tree first on ``PYTHONPATH``."""
    return {**os.environ, "PYTHONPATH": PACKAGE_PARENT}


def clean_env() -> dict[str, str]:
    """This process's environment without any MLflow or jupyter-mlops setting (their defaults)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "JUPYTER_MLOPS"))}


def project_env(root: Path) -> dict[str, str]:
    """:func:`clean_env`, with ``ROOT/mlflow.db``, ``ROOT/.spool`` and ``ROOT/.cost.db``; MLflow quiet."""
    env = clean_env()
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    env["JUPYTER_MLOPS_SPOOL_DIR"] = str(root / ".spool")
    env["JUPYTER_MLOPS_COST_LEDGER"] = f"sqlite:///{root / '.cost.db'}"
    return env


def python(
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a child process (default environment: :func:`source_env`)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(env) if env is not None else source_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_line(code: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """The last line ``python -c CODE`` printed; the child must exit 0."""
    result = python("-c", code, env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]
