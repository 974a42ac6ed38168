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

=============  ===============================================================
``paths``      :func:`confine` (root confinement, symlinks included), declared paths
``notebook``   reading ``.ipynb`` JSON, the ``parameters`` cell, tagging, metadata
``params``     :class:`Parameter`, type inference, override validation
``dvc``        ``dvc.yaml`` stages and the injection-proof stage command
``export``     :func:`export_pipeline`: pipeline.yaml, params.yaml, dvc.yaml, ...
``step``       ``python -m jupyter_mlops.core.pipeline.step``: runs one stage
=============  ===============================================================

Nothing here imports nbformat or papermill at import time (papermill is
imported by :func:`~jupyter_mlops.core.pipeline.step.run_step` only).
"""

from __future__ import annotations

from jupyter_mlops.core.pipeline.export import (
    ExportResult,
    Step,
    export_pipeline,
    step_names,
    topological_order,
)
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
from jupyter_mlops.core.pipeline.step import run_step

__all__ = [
    "ExportResult",
    "Parameter",
    "Step",
    "confine",
    "export_pipeline",
    "infer_parameters",
    "parameters_cell_index",
    "read_notebook",
    "run_step",
    "step_names",
    "tag_parameters_cell",
    "topological_order",
    "validate_overrides",
]
