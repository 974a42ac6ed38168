"""The one configuration surface of jupyter-mlops, shared by server, kernel and CLI.

Values come from traitlets config files (``c.MlopsConfig.tracking_uri = ...``),
then environment variables, then defaults. The server exports the resolved
values to its kernels through the environment (``MLFLOW_TRACKING_URI``,
``JUPYTER_MLOPS_ROOT_DIR``, ``JUPYTER_MLOPS_PROJECT``), so a notebook in a
subfolder logs to the same store as the panel reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from traitlets import Float, Unicode, default
from traitlets.config import Configurable

__all__ = ["ENV_PROJECT", "ENV_ROOT_DIR", "ENV_SPOOL_DIR", "MlopsConfig", "default_spool_dir"]

ENV_ROOT_DIR = "JUPYTER_MLOPS_ROOT_DIR"
ENV_PROJECT = "JUPYTER_MLOPS_PROJECT"
ENV_SPOOL_DIR = "JUPYTER_MLOPS_SPOOL_DIR"


def default_spool_dir() -> Path:
    """Where unsent metrics wait: ``$JUPYTER_MLOPS_SPOOL_DIR`` or the user data dir."""
    env = os.environ.get(ENV_SPOOL_DIR)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jupyter-mlops" / "spool"


class MlopsConfig(Configurable):
    """Settings for tracking, shared by the server extension, the kernel side and the CLI."""

    root_dir = Unicode(
        help=(
            "Folder whose mlflow.db is the default store, and whose name is the default "
            "project. Defaults to $JUPYTER_MLOPS_ROOT_DIR, else the current directory."
        ),
    ).tag(config=True)

    tracking_uri = Unicode(
        "",
        help=(
            "MLflow tracking URI (sqlite:///path/mlflow.db, http://mlflow.example:5000, ...). "
            "Empty: $MLFLOW_TRACKING_URI, else sqlite:///<root_dir>/mlflow.db."
        ),
    ).tag(config=True)

    project = Unicode(
        "",
        help=(
            "Project recorded on every run. Empty: $JUPYTER_MLOPS_PROJECT, else the name of "
            "the git repository containing root_dir, else the root_dir folder name."
        ),
    ).tag(config=True)

    spool_dir = Unicode(
        help="Folder of the durable metric spool. Defaults to $JUPYTER_MLOPS_SPOOL_DIR "
        "or ~/.local/share/jupyter-mlops/spool.",
    ).tag(config=True)

    flush_interval = Float(
        0.5,
        help="Seconds between background deliveries of spooled metrics to the store.",
    ).tag(config=True)

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.environ.get(ENV_ROOT_DIR) or os.getcwd()

    @default("spool_dir")
    def _default_spool_dir(self) -> str:
        return str(default_spool_dir())

    def resolved_tracking_uri(self) -> str:
        """The tracking URI in force: config, then ``MLFLOW_TRACKING_URI``, then the embedded store."""
        from jupyter_mlops.core.store import resolve_tracking_uri

        return resolve_tracking_uri(self.tracking_uri or None, Path(self.root_dir))

    def resolved_project(self) -> str:
        """The project in force: config, then ``JUPYTER_MLOPS_PROJECT``, then git repo or folder name."""
        from jupyter_mlops.core.context import default_project

        return self.project or os.environ.get(ENV_PROJECT) or default_project(Path(self.root_dir))
