"""Run one exported pipeline step: the command every ``dvc.yaml`` stage runs.

``python -m jupyter_mlops.core.pipeline.step STEP NOTEBOOK OUTPUT`` (in the
pipeline folder) reads ``params.yaml[STEP]``, checks the values against the
notebook's ``parameters`` cell (names, types), and executes the notebook with
papermill's Python API. Values never pass through a shell or a code template;
see :mod:`jupyter_mlops.core.pipeline.dvc`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.notebook import read_notebook
from jupyter_mlops.core.pipeline.params import infer_parameters, validate_overrides
from jupyter_mlops.core.pipeline.paths import confine
from jupyter_mlops.exceptions import InvalidValueError, MlopsError

__all__ = ["PARAMS_FILE", "load_step_values", "main", "resolve_step_parameters", "run_step"]

PARAMS_FILE = "params.yaml"


def load_step_values(pipeline_dir: Path, step: str) -> dict[str, Any]:
    """``params.yaml[step]`` of ``pipeline_dir`` (empty when absent)."""
    import yaml

    path = pipeline_dir / PARAMS_FILE
    if not path.exists():
        return {}
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidValueError(f"{PARAMS_FILE} is not valid YAML: {exc}") from exc
    document = {} if document is None else document
    if not isinstance(document, dict):
        raise InvalidValueError(f"{PARAMS_FILE} must map step names to parameters")
    values = document.get(step) or {}
    if not isinstance(values, dict):
        raise InvalidValueError(f"{PARAMS_FILE}: {step!r} must map parameter names to values")
    return values


def resolve_step_parameters(pipeline_dir: Path, step: str, notebook: Path) -> dict[str, object]:
    """The checked, typed parameter values ``step`` runs ``notebook`` with."""
    params = infer_parameters(read_notebook(notebook))
    return validate_overrides(params, load_step_values(pipeline_dir, step))


def run_step(
    step: str,
    notebook: str,
    output: str,
    *,
    pipeline_dir: Path | str = ".",
    kernel_name: str | None = None,
) -> Path:
    """Execute ``notebook`` into ``output`` (both inside ``pipeline_dir``); the output path.

    Everything is checked before a kernel starts: paths stay inside the
    pipeline folder, names and values fit the notebook's parameters.
    """
    root = Path(pipeline_dir).resolve()
    source = confine(notebook, root)
    target = confine(output, root)
    values = resolve_step_parameters(root, step, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    import papermill

    papermill.execute_notebook(
        str(source),
        str(target),
        parameters=values,
        cwd=str(root),
        kernel_name=kernel_name,
        progress_bar=False,
    )
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 2 for bad input, 1 when the notebook fails."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("step", help="step name: the key in params.yaml")
    parser.add_argument("notebook", help="notebook to execute, inside the pipeline folder")
    parser.add_argument("output", help="executed notebook to write, inside the pipeline folder")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    args = parser.parse_args(argv)
    try:
        run_step(args.step, args.notebook, args.output, kernel_name=args.kernel)
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # papermill's execution errors: report, exit non-zero
        print(f"error: step {args.step!r} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
