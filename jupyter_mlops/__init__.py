"""jupyter-mlops: experiment tracking, live compute cost, environment snapshots and
notebook pipelines inside JupyterLab, with MLflow underneath.

Python API (mirrors MLflow's names)::

    import jupyter_mlops as mlops

    with mlops.start_run(experiment="churn", project="retention"):
        mlops.log_params({"n_estimators": 200})
        mlops.log_metric("accuracy", 0.91, step=3)

In IPython/Jupyter: ``%load_ext jupyter_mlops`` then ``%mlops --help``.

Importing this package is cheap: MLflow, jupyter_server and IPython are imported
only when the feature that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from jupyter_mlops._version import __version__
except ImportError:  # pragma: no cover - only in an unbuilt source tree
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from jupyter_mlops.kernel.api import (
        ActiveRun,
        active_run,
        end_run,
        flush,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_text,
        set_tag,
        set_tags,
        start_run,
    )

__all__ = [
    "ActiveRun",
    "__version__",
    "active_run",
    "end_run",
    "flush",
    "load_ipython_extension",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
    "unload_ipython_extension",
]

_API_NAMES = {
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
}


def __getattr__(name: str) -> Any:
    if name in _API_NAMES:
        from jupyter_mlops.kernel import api

        return getattr(api, name)
    raise AttributeError(f"module 'jupyter_mlops' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mlops``: register the ``%mlops`` / ``%%mlops`` magics."""
    from jupyter_mlops.kernel.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_mlops``: flush pending metrics."""
    from jupyter_mlops.kernel.magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_mlops.server.app import MlopsExtensionApp

    return [{"module": "jupyter_mlops", "app": MlopsExtensionApp}]
