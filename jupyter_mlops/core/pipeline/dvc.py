"""``dvc.yaml`` stages and the injection-proof stage command.

DVC runs ``cmd`` through a shell *after* interpolating ``${...}`` in it, so a
parameter value interpolated into ``cmd`` could end a quote and run code no
matter how the template was quoted. The stage command therefore carries no
value and no user-typed name at all::

    python -m jupyter_mlops.core.pipeline.step prepare notebooks/prepare.ipynb outputs/prepare.ipynb

The step name and both paths are built from the sanitized step name
(``[a-z][a-z0-9_]*``) and are still passed through :func:`shlex.quote`. The
runner reads the values from ``params.yaml`` itself (YAML, never a shell or
code), validates them against the notebook's parameters and hands them to
papermill's Python API, which writes them into the notebook as escaped Python
literals. The stage lists its keys under ``params:``, so DVC reruns it when
they change and ``dvc exp run -S prepare.rows=10`` works.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.model import Step

__all__ = ["RUNNER_MODULE", "stage", "step_argv", "step_command"]

RUNNER_MODULE = "jupyter_mlops.core.pipeline.step"


def step_argv(step: Step) -> list[str]:
    """The stage command as an argument list."""
    return ["python", "-m", RUNNER_MODULE, step.name, step.notebook, step.output]


def step_command(step: Step) -> str:
    """The stage command as one shell line, every argument quoted."""
    return " ".join(shlex.quote(arg) for arg in step_argv(step))


def stage(step: Step, upstream_outputs: list[str]) -> dict[str, Any]:
    """The ``dvc.yaml`` stage of ``step``; ``upstream_outputs`` are its dependencies' notebooks."""
    deps = [step.notebook, *step.inputs]
    deps += [path for path in upstream_outputs if path not in deps]
    body: dict[str, Any] = {"cmd": step_command(step), "deps": deps}
    keys = [f"{step.name}.{p.name}" for p in step.parameters if p.literal]
    if keys:
        body["params"] = keys
    body["outs"] = [step.output, *step.outputs]
    if step.metrics:
        body["metrics"] = [{path: {"cache": False}} for path in step.metrics]
    return body
