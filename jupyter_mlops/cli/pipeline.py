"""``jupyter mlops params|export``: notebook parameters and pipeline export on the command line.

:data:`PARAMS` and :data:`EXPORT` are listed in :data:`jupyter_mlops.cli.main.COMMANDS`.
Only the standard library is imported here; the pipeline library loads inside
the commands, so ``--help`` stays fast.

Exit codes: 0 success, 1 failure, 2 usage error (a notebook that is missing,
malformed or has no ``parameters`` cell, a path outside the root, bad
declarations).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jupyter_mlops.cli.command import FORMAT, arg, command
from jupyter_mlops.cli.output import print_json, print_table
from jupyter_mlops.exceptions import PathError, UsageError

__all__ = ["EXPORT", "PARAMS", "cmd_export", "cmd_params"]

T = TypeVar("T")


def _as_usage(call: Callable[[], T]) -> T:
    """Run ``call``; a path problem (missing file, outside the root) is a usage error (2)."""
    try:
        return call()
    except PathError as exc:
        raise UsageError(exc.message, hint=exc.hint, notebook=exc.notebook) from exc


def _shown(value: Any) -> str:
    import json

    return json.dumps(value, allow_nan=False)


def cmd_params(args: argparse.Namespace) -> int:
    """List the parameters of NOTEBOOK as the export and papermill see them: the assignments in the
    code cell tagged 'parameters', with their type (from the annotation, else the value) and
    default. A default that is not a JSON-like literal (n = len(x)) is flagged: it cannot be set
    from params.yaml. Exit status 2 when the notebook is missing, malformed or has no cell
    tagged 'parameters'.
    """
    from jupyter_mlops.core.pipeline import infer_parameters, read_notebook

    params = _as_usage(lambda: infer_parameters(read_notebook(args.notebook)))
    if args.format == "json":
        print_json(
            {
                "notebook": args.notebook,
                "parameters": [
                    {
                        "name": p.name,
                        "type": p.type,
                        "default": p.default,
                        "literal": p.literal,
                        "annotation": p.annotation,
                        "line": p.line,
                    }
                    for p in params
                ],
            }
        )
        return 0
    rows = [
        (
            p.name,
            p.type,
            _shown(p.default) if p.literal else "?",
            "" if p.literal else "non-literal",
        )
        for p in params
    ]
    print_table(["NAME", "TYPE", "DEFAULT", "NOTE"], rows)
    if not params:
        print(f"{args.notebook}: the 'parameters' cell assigns nothing", file=sys.stderr)
    return 0


PARAMS = command(
    "params",
    "Show the parameters a notebook's 'parameters' cell assigns.",
    cmd_params,
    arg("notebook", metavar="NOTEBOOK", help="The .ipynb file to read."),
    FORMAT,
    uses_store=False,
)


def cmd_export(args: argparse.Namespace) -> int:
    """Write DIR with pipeline.yaml (steps, parameter types, inputs and outputs), params.yaml
    (defaults), dvc.yaml (one papermill stage per notebook, ordered by the inputs and outputs
    each notebook declares in its metadata: "jupyter_mlops": {"inputs": [...], "outputs": [...],
    "metrics": [...]}), environment.yml and requirements.txt (what the notebooks import, pinned
    to the versions installed here, plus papermill, ipykernel and jupyter-mlops), a Dockerfile
    that runs `jupyter mlops run .`, README.md and a copy of each notebook. Imports that no
    installed distribution provides are warnings (also in README.md). Nothing is written unless
    every notebook is inside ROOT and has a cell tagged 'parameters'. Run it with `jupyter mlops
    run DIR` or `dvc repro` in DIR; --target kfp also compiles a Kubeflow pipeline. Exit status
    2 on such usage problems.
    """
    from jupyter_mlops.core.pipeline import export_pipeline

    root = args.root or os.getcwd()
    if args.target == "kfp":  # before anything is written
        from jupyter_mlops.core.pipeline.kfp import DEFAULT_WORKSPACE_SIZE, check_kfp_options

        size = args.workspace_size or DEFAULT_WORKSPACE_SIZE
        check_kfp_options(image=args.image, workspace_size=size)
    elif args.image is not None or args.workspace_size is not None:
        raise UsageError(
            "--image and --workspace-size are options of the Kubeflow target",
            hint="add --target kfp, or leave them out",
        )
    snapshot = None
    if args.environment:
        from jupyter_mlops.core.environment import snapshot_from_file

        snapshot = _as_usage(lambda: snapshot_from_file(args.environment))
    result = _as_usage(
        lambda: export_pipeline(
            args.notebooks,
            args.output,
            root=root,
            name=args.name,
            snapshot=snapshot,
            lock=args.lock,
        )
    )
    if args.target == "kfp":
        from jupyter_mlops.core.pipeline.kfp import compile_kfp

        result.files.append(
            _as_usage(lambda: compile_kfp(result.out_dir, image=args.image, workspace_size=size))
        )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    steps = ", ".join(step.name for step in result.steps)
    print(f"Exported pipeline {result.name!r} ({steps}) to {result.out_dir}:")
    for path in result.files:
        try:
            shown = path.relative_to(result.out_dir)
        except ValueError:
            shown = Path(path)
        print(f"  {shown.as_posix()}")
    return 0


EXPORT = command(
    "export",
    "Export notebooks to a pipeline folder (papermill stages, DVC).",
    cmd_export,
    arg("notebooks", metavar="NOTEBOOK", nargs="+", help="The notebooks, one step each."),
    arg("-o", "--output", metavar="DIR", required=True, help="The pipeline folder to write."),
    arg("--name", metavar="NAME", help="Pipeline name (default: the folder's name)."),
    arg(
        "--root",
        metavar="ROOT",
        default=None,
        help="Folder that notebooks and DIR must be inside (default: the current folder).",
    ),
    arg(
        "--environment",
        metavar="FILE",
        default=None,
        help="A hand-written environment.yml to ship instead of the computed one: its pip list "
        "becomes requirements.txt (jupyter-mlops pinned to this version). Default: what the "
        "notebooks import, resolved in this environment and pinned to the installed versions.",
    ),
    arg(
        "--lock",
        action="store_true",
        help="Also write requirements.lock: every distribution installed here, pinned (pip "
        "itself and ones installed from a local folder left out, jupyter-mlops pinned by "
        "version); the Dockerfile installs it instead of requirements.txt.",
    ),
    arg(
        "--target",
        choices=["dvc", "kfp"],
        default="dvc",
        help="dvc: the pipeline folder (dvc.yaml, run with jupyter mlops run or dvc repro); kfp: "
        "also a Kubeflow Pipelines spec compiled from it (needs the kfp package; default: "
        "%(default)s).",
    ),
    arg(
        "--image",
        metavar="NAME",
        default=None,
        help="Container image of the Kubeflow steps, for --target kfp (default: "
        "PIPELINE-NAME:latest, built from the Dockerfile).",
    ),
    arg(
        "--workspace-size",
        metavar="SIZE",
        default=None,
        help="Size of the volume the Kubeflow steps share files through, a Kubernetes quantity "
        "such as 20Gi, for --target kfp (default: 10Gi).",
    ),
    uses_store=False,
)
