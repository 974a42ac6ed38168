"""Run one exported pipeline step: the command every ``dvc.yaml`` stage runs.

``python -m jupyter_mlops.core.pipeline.step STEP NOTEBOOK OUTPUT`` (in the
pipeline folder) reads ``params.yaml[STEP]``, checks the values against the
notebook's ``parameters`` cell (names, types), and executes the notebook with
papermill's Python API. Values never pass through a shell or a code template;
see :mod:`jupyter_mlops.core.pipeline.dvc`. ``--param=NAME=VALUE`` (one argv
item each, as Kubeflow passes a run's values; see
:mod:`jupyter_mlops.core.pipeline.kfp`) overrides ``params.yaml``: the text is
read by the parameter's type (a ``str`` takes it verbatim, others parse it as
JSON).

``--workspace DIR`` (Kubeflow passes its pipeline workspace, a volume every
step of one run mounts) runs the step in a shared copy of the pipeline folder,
made once by :func:`workspace_copy`: what one step writes there, the next reads.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.notebook import read_notebook
from jupyter_mlops.core.pipeline.params import infer_parameters, validate_overrides
from jupyter_mlops.core.pipeline.paths import confine
from jupyter_mlops.exceptions import InvalidValueError, MlopsError, UsageError

__all__ = [
    "PARAMS_FILE",
    "load_step_values",
    "main",
    "resolve_step_parameters",
    "run_step",
    "workspace_copy",
]

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


def resolve_step_parameters(
    pipeline_dir: Path, step: str, notebook: Path, overrides: Mapping[str, str] | None = None
) -> dict[str, object]:
    """The checked, typed parameter values ``step`` runs ``notebook`` with.

    ``overrides`` (text, as ``--param`` gives it) replace ``params.yaml`` values.
    """
    params = infer_parameters(read_notebook(notebook))
    values = validate_overrides(params, load_step_values(pipeline_dir, step))
    if overrides:
        values.update(validate_overrides(params, overrides, from_text=True))
    return values


def run_step(
    step: str,
    notebook: str,
    output: str,
    *,
    pipeline_dir: Path | str = ".",
    kernel_name: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Path:
    """Execute ``notebook`` into ``output`` (both inside ``pipeline_dir``); the output path.

    Everything is checked before a kernel starts: paths stay inside the
    pipeline folder, names and values fit the notebook's parameters.
    """
    root = Path(pipeline_dir).resolve()
    source = confine(notebook, root)
    target = confine(output, root)
    values = resolve_step_parameters(root, step, source, overrides)
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


def workspace_copy(pipeline_dir: Path | str, workspace: Path | str) -> Path:
    """The copy of ``pipeline_dir`` in ``workspace`` that the steps of one run share.

    The first step copies the folder to ``workspace/<pipeline name>``; later
    steps find it there and use it. The copy is made in a hidden temporary
    folder beside it and renamed into place, so no step sees half a copy: steps
    that start together each make one, the first rename wins, the others drop
    theirs and use the winner's. Raises :class:`UsageError` when ``workspace``
    is not a writable folder outside ``pipeline_dir``, :class:`PathError` when
    ``workspace/<pipeline name>`` is a link that leads out of it.
    """
    source = Path(pipeline_dir).resolve(strict=True)
    where = f"workspace {os.fspath(workspace)!r}"
    root = Path(workspace).resolve()
    if not root.is_dir():
        raise UsageError(f"{where} is not a folder", hint="give the shared volume's mount path")
    if root.is_relative_to(source):
        raise UsageError(
            f"{where} is inside the pipeline folder",
            hint="give a folder outside it: the pipeline folder is copied into it",
        )
    target = confine(_workspace_name(source), root)  # a symlink there must not lead out
    if target.is_dir():
        return target
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
        try:
            shutil.copytree(source, staging, symlinks=True, dirs_exist_ok=True)
            os.rename(staging, target)  # fails if another step's copy got there first
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                raise
    except OSError as exc:
        raise UsageError(
            f"could not copy the pipeline folder into {where}: {exc}",
            hint="the workspace must be writable by the user the step runs as",
        ) from exc
    return target


def _workspace_name(pipeline_dir: Path) -> str:
    """``pipeline.yaml``'s name (else the folder's) as a plain lowercase folder name."""
    import yaml

    name: object = None
    path = pipeline_dir / "pipeline.yaml"
    if path.is_file():
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            document = None
        name = document.get("name") if isinstance(document, dict) else None
    text = name if isinstance(name, str) else pipeline_dir.name
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "pipeline"


def _param_items(items: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` as a mapping; a missing ``=`` or a repeated name is a UsageError."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--param {item!r} has no '='", hint="give it as --param=NAME=VALUE")
        if name in out:
            raise UsageError(f"--param {name!r} is given twice")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit status 2 for bad input, 1 when the notebook fails."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}", description=__doc__)
    parser.add_argument("step", help="step name: the key in params.yaml")
    parser.add_argument("notebook", help="notebook to execute, inside the pipeline folder")
    parser.add_argument("output", help="executed notebook to write, inside the pipeline folder")
    parser.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override params.yaml[STEP][NAME] (repeatable; give it as one item: --param=NAME=VALUE)",
    )
    parser.add_argument(
        "--workspace",
        default=None,
        metavar="DIR",
        help="shared folder: run in DIR/<pipeline name>, a copy of this folder made by the first step",
    )
    args = parser.parse_args(argv)
    try:
        folder = Path.cwd() if args.workspace is None else workspace_copy(".", args.workspace)
        run_step(
            args.step,
            args.notebook,
            args.output,
            pipeline_dir=folder,
            kernel_name=args.kernel,
            overrides=_param_items(args.param),
        )
    except MlopsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # papermill's execution errors: report, exit non-zero
        print(f"error: step {args.step!r} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
