"""Notebooks to papermill/DVC pipelines: parameters, validation, export, the stage runner.

::

    from jupyter_mlops.core.pipeline import (
        export_pipeline, infer_parameters, read_notebook, validate_overrides,
    )

    nb = read_notebook("train.ipynb")                  # JSON; clear errors when malformed
    params = infer_parameters(nb)                      # [Parameter(name, type, default, ...)]
    values = validate_overrides(params, {"lr": "0.1"}, from_text=True)
    result = export_pipeline(["prep.ipynb", "train.ipynb"], "pipeline", root=".")

Modules, one subject each:

============== ===============================================================
``model``      value types: :class:`Step`, executions, results, progress events, launch requests
``paths``      :func:`confine` (root confinement, symlinks included), declared paths,
               request paths (``resolve``) and root-relative text (``strip_root``)
``notebook``   reading ``.ipynb`` JSON, the ``parameters`` cell, tagging, metadata
``params``     :class:`Parameter`, type inference, override validation
``dvc``        ``dvc.yaml`` stages and the injection-proof stage command
``export``     :func:`export_pipeline`: pipeline.yaml, params.yaml, dvc.yaml, ...
``step``       ``python -m jupyter_mlops.core.pipeline.step``: runs one stage
``sweep``      overrides, grids and parameter sets resolved against the steps
``plan``       :func:`plan_run`: what executes where, all checked first; the file layout
``runner``     :func:`run_plan`: a pipeline run from start to end (force, retries, resume)
``dag``        the DAG scheduler: dependencies, cache hits, retries, progress events
``child_runs`` the MLflow parent run and one child run per attempt; ``--resume`` checks
``cache``      cache keys, outputs digests, what a rerun may reuse
``progress``   live "cell k of n" and the last output lines, worker to runner
``executors``  local process pool or Dask distributed
``launches``   :class:`~.launches.LaunchRegistry`: runs planned, then run on threads of their own
============== ===============================================================

Nothing here imports nbformat or papermill at import time (papermill is
imported by :func:`~jupyter_mlops.core.pipeline.step.run_step` only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.pipeline.export import (
    export_pipeline,
    step_names,
    topological_order,
)
from jupyter_mlops.core.pipeline.model import ExportResult, Step
from jupyter_mlops.core.pipeline.notebook import (
    parameters_cell_index,
    read_notebook,
    tag_parameters_cell,
)
from jupyter_mlops.core.pipeline.params import (
    Parameter,
    infer_parameters,
    validate_overrides,
)
from jupyter_mlops.core.pipeline.paths import confine
from jupyter_mlops.core.pipeline.plan import RunPlan, plan_run
from jupyter_mlops.core.pipeline.runner import PipelineResult, run_plan

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.step import run_step


def __getattr__(name: str) -> Any:
    """``run_step`` on first use: ``python -m jupyter_mlops.core.pipeline.step`` (every DVC
    stage) must not find its own module imported already (runpy warns about that)."""
    if name == "run_step":
        from jupyter_mlops.core.pipeline.step import run_step

        return run_step
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExportResult",
    "Parameter",
    "PipelineResult",
    "RunPlan",
    "Step",
    "confine",
    "export_pipeline",
    "infer_parameters",
    "parameters_cell_index",
    "plan_run",
    "read_notebook",
    "run_plan",
    "run_step",
    "step_names",
    "tag_parameters_cell",
    "topological_order",
    "validate_overrides",
]
