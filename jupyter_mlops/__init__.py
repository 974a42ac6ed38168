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

_OWN = ("__version__", "load_ipython_extension", "unload_ipython_extension")

if TYPE_CHECKING:  # the names of kernel.api that __getattr__ loads, typed for checkers
    from jupyter_mlops.kernel import api as _api
    from jupyter_mlops.kernel.api import *  # noqa: F403

    __all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]
    __all__ += _api.__all__


def __getattr__(name: str) -> Any:
    """``__all__`` and the Python API (``start_run``, ...) import ``kernel.api`` on first use."""
    if name == "__all__" or not name.startswith("_"):
        from jupyter_mlops.kernel import api

        if name == "__all__":
            return [*_OWN, *api.__all__]
        if name in api.__all__:
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
