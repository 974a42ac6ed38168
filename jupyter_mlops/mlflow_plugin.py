"""MLflow plugins of jupyter-mlops, registered by entry point (MLflow's public extension points).

* ``mlflow.run_context_provider``: :class:`KernelRunContext` tags the runs that
  MLflow's fluent API creates in a Jupyter kernel (our context, an owner, the
  pipeline execution); see :mod:`jupyter_mlops.core.tracking.mlflow_context`.

MLflow imports this module while it loads its own providers; it must stay cheap.
"""

from __future__ import annotations

from mlflow.tracking.context.abstract_context import RunContextProvider

from jupyter_mlops.core.tracking.mlflow_context import in_kernel, kernel_run_tags

__all__ = ["KernelRunContext"]


class KernelRunContext(RunContextProvider):
    """Our context and owner tags on runs MLflow creates in a Jupyter kernel; nothing elsewhere."""

    def in_context(self) -> bool:
        return in_kernel()

    def tags(self) -> dict[str, str]:
        return kernel_run_tags()
