"""The tracking subcommands of ``%mlops``: start, end, log, param, tag, status, open, run.

Each is one handler and its :class:`~jupyter_mlops.kernel.parsing.Subcommand`, listed in
:data:`SUBCOMMANDS` (``%mlops --help`` order); :mod:`jupyter_mlops.kernel.magics`
dispatches to them.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from jupyter_mlops.core.tracking.store import redact_uri
from jupyter_mlops.exceptions import MlopsError, RunStateError, UsageError
from jupyter_mlops.kernel.parsing import (
    Invocation,
    Subcommand,
    parse_assignments,
    parse_metric_values,
    parse_param_value,
)

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.core.tracking.tracker import RunInfo

# -- where to see a run ------------------------------------------------------------------

_LOCAL_UI = "http://127.0.0.1:5000"


def _ui_links(info: RunInfo) -> tuple[str | None, str]:
    """``(command to start an MLflow UI or None, URL of the run in it)``; no credentials."""
    uri = redact_uri(info.tracking_uri)
    server = uri if urlsplit(uri).scheme in ("http", "https") else _LOCAL_UI
    eid, rid = (quote(str(part), safe="") for part in (info.experiment_id, info.run_id))
    url = f"{server.rstrip('/')}/#/experiments/{eid}/runs/{rid}"
    return (None if server == uri else f"mlflow ui --backend-store-uri {shlex.quote(uri)}"), url


def where_to_see(info: RunInfo) -> str:
    """Plain-text pointers to a run: the MLOps panel and the MLflow UI."""
    command, url = _ui_links(info)
    ui = f"{command}   # then open {url}" if command else url
    return f"See it in the MLOps panel (JupyterLab sidebar) or in the MLflow UI:\n  {ui}"


def run_links_bundle(info: RunInfo) -> dict[str, str]:
    """``text/plain`` + ``text/html`` pointers to a run; every piece of run text escaped."""
    import html

    command, url = _ui_links(info)
    esc = html.escape
    name = f" ({esc(info.run_name)})" if info.run_name else ""
    link = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(url)}</a>'
    ui = f"<code>{esc(command)}</code>, then open {link}" if command else link
    markup = (
        f"<div><b>Run</b> <code>{esc(info.run_id)}</code>{name} in experiment "
        f"<b>{esc(info.experiment_name)}</b><ul>"
        "<li>MLOps panel: open it from the JupyterLab left sidebar and select the run.</li>"
        f"<li>MLflow UI: {ui}</li></ul></div>"
    )
    return {"text/plain": f"{_describe(info)}\n{where_to_see(info)}", "text/html": markup}


# -- subcommands -------------------------------------------------------------------------


def _describe(info: RunInfo) -> str:
    name = f" ({info.run_name})" if info.run_name else ""
    return f"Run {info.run_id}{name} in experiment {info.experiment_name!r}"


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", metavar="NAME", help="experiment (default: the project's)")
    parser.add_argument("--project", metavar="NAME", help="project recorded on the run")
    parser.add_argument("--run-name", metavar="NAME", help="human-readable run name")
    parser.add_argument(
        "--tag",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="tag the run, repeatable (--tag epic=MLOPS-12 links it to a ticket)",
    )


def _start_run(inv: Invocation, nested: bool = False) -> RunInfo:
    args = inv.args
    tags = parse_assignments(args.tag, "a tag", "--tag epic=MLOPS-12")
    from jupyter_mlops.kernel import api

    run = api.start_run(
        experiment=args.experiment,
        run_name=args.run_name,
        project=args.project,
        tags=tags or None,
        nested=nested,
    )
    inv.magics.last_run = run.info
    return run.info


def _start_options(parser: argparse.ArgumentParser) -> None:
    _run_options(parser)
    parser.add_argument(
        "--nested",
        action="store_true",
        help="start a child run of the active run (MLflow's nested runs)",
    )


def _start(inv: Invocation) -> None:
    from jupyter_mlops.kernel import api

    current = api.active_run()
    restart = not (inv.args.nested or api.get_tracker().provisional)
    if current is not None and restart and not api.is_pipeline_run(current):
        api.end_run("FINISHED")
        print(f"Ended the active run {current.run_id} (FINISHED) to start a new one.")
    from jupyter_mlops.core.tracking import fluent

    before = fluent.active_run_id()
    info = _start_run(inv, nested=inv.args.nested)
    verb = "Adopted MLflow's active run" if info.run_id == before else "Started"
    print(f"{verb}: {_describe(info)}.\n{where_to_see(info)}")


START = Subcommand(
    "start",
    "start a run (or adopt MLflow's active run)",
    _start,
    arguments=_start_options,
    details="Parameters from the notebook's 'parameters' cell are recorded too. The run is\n"
    "MLflow's active run: mlflow.log_*, autolog and log_model land in it. If an MLflow run\n"
    "is active already (mlflow.start_run(), $MLFLOW_RUN_ID), it is adopted instead.\n"
    "Running the cell again while a run is active ends that run first (FINISHED).\n"
    "example: %mlops start --experiment churn --run-name baseline --tag epic=MLOPS-12",
)


def _end_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--status",
        type=str.upper,
        choices=("FINISHED", "FAILED", "KILLED"),
        default="FINISHED",
        help="final status (default FINISHED)",
    )


def _end(inv: Invocation) -> None:
    from jupyter_mlops.kernel import api

    if api.active_run() is None:
        raise RunStateError("No active run to end.", hint="start one with %mlops start")
    inv.magics.last_run = info = api.end_run(status=inv.args.status)
    print(f"Ended run {info.run_id}: {inv.args.status}.")


END = Subcommand(
    "end", "end the active run", _end, arguments=_end_options, details="example: %mlops end"
)


def _pairs(what: str, step: bool = False) -> Callable[[argparse.ArgumentParser], None]:
    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pairs", nargs="+", metavar="KEY=VALUE", help=what)
        if step:
            parser.add_argument("--step", type=int, help="training step or epoch of these values")

    return add


def _log(inv: Invocation) -> None:
    values = parse_metric_values(parse_assignments(inv.args.pairs, "a metric", "acc=0.91"))
    from jupyter_mlops.kernel import api

    api.log_metrics(values, step=inv.args.step)


LOG = Subcommand(
    "log",
    "log metrics to the active run",
    _log,
    arguments=_pairs("numeric metric values", step=True),
    details="All values are checked first: if one is not a number, nothing is logged.\n"
    "example: %mlops log acc=0.91 loss={loss} --step {epoch}",
)


def _param(inv: Invocation) -> None:
    pairs = parse_assignments(inv.args.pairs, "a parameter", "lr=0.01")
    from jupyter_mlops.kernel import api

    api.log_params({key: parse_param_value(text) for key, text in pairs.items()})


PARAM = Subcommand(
    "param",
    "log parameters of the active run",
    _param,
    arguments=_pairs("values are Python literals (0.01, [64, 32], True) or text"),
    details="A parameter cannot change once logged.\n"
    "example: %mlops param lr=0.01 layers=[64,32] optimizer=adam",
)


def _tag(inv: Invocation) -> None:
    tags = parse_assignments(inv.args.pairs, "a tag", "epic=MLOPS-12")
    from jupyter_mlops.kernel import api

    api.set_tags(tags)


TAG = Subcommand(
    "tag",
    "set tags on the active run",
    _tag,
    arguments=_pairs("tag values (text)"),
    details="example: %mlops tag epic=MLOPS-12 dataset=v3",
)


def _status(inv: Invocation) -> None:
    from jupyter_mlops.kernel import api

    info, tracker = api.active_run(), api.get_tracker()
    lines = [f"Active: {_describe(info)}." if info else "No active run (start one: %mlops start)."]
    lines.append(f"Tracking URI: {redact_uri(tracker.tracking_uri)}")
    if tracker.project:
        lines.append(f"Project: {tracker.project}")
    if info:
        lines.append(f"Metrics waiting for the store: {tracker.pending_count()}")
    print("\n".join(lines))


STATUS = Subcommand(
    "status", "show the active run, the tracking store and pending metrics", _status
)


def _open(inv: Invocation) -> None:
    from IPython.display import display

    from jupyter_mlops.kernel import api

    info = api.active_run() or inv.magics.last_run
    if info is None:
        raise RunStateError("No run to open.", hint="start one with %mlops start")
    display(run_links_bundle(info), raw=True)  # type: ignore[no-untyped-call]


OPEN = Subcommand(
    "open",
    "show where to see a run: MLOps panel, MLflow UI",
    _open,
    details="Shows the active run, else the last run of this session.",
)


def _awaits_in_running_loop(shell: InteractiveShell, body: str) -> bool:
    """Whether ``body`` needs top-level await while an event loop runs (as in ipykernel)."""
    import asyncio

    try:
        asyncio.get_running_loop()
        transformed = shell.transform_cell(body)  # type: ignore[no-untyped-call]
        return bool(shell.should_run_async(body, transformed_cell=transformed))
    except Exception:  # no running loop, or a syntax error that run_cell will report
        return False


def _run(inv: Invocation) -> None:
    from jupyter_mlops.kernel import api

    body, shell = inv.cell_body("track below %%mlops run")
    if _awaits_in_running_loop(shell, body):
        raise UsageError(
            "%%mlops run cannot run top-level await: the kernel's event loop is busy running it.",
            hint="in an ordinary cell, use: with jupyter_mlops.start_run(...): await ...",
        )
    info = _start_run(inv)
    print(f"Started: {_describe(info)}.")
    status, error = "FAILED", None
    try:
        result = shell.run_cell(body, store_history=False)  # type: ignore[no-untyped-call]
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            status = "FINISHED"
        elif isinstance(error, KeyboardInterrupt):
            status = "KILLED"
    finally:
        current = api.active_run()
        if current is not None and current.run_id == info.run_id:
            inv.magics.last_run = api.end_run(status=status)
    if error is not None:
        raise MlopsError(
            f"Run {info.run_id} ended {status}: the cell raised {type(error).__name__}.",
            run_id=info.run_id,
        )
    print(f"Run {info.run_id}: {status}.")


RUN = Subcommand(
    "run",
    "run the cell as one tracked run",
    _run,
    arguments=_run_options,
    details="Ends FINISHED, or FAILED when the cell raises (KILLED on interrupt).\n"
    "example:\n  %%mlops run --experiment churn --tag epic=MLOPS-12\n  model.fit(X, y)",
    cell=True,
)

SUBCOMMANDS = (START, END, LOG, PARAM, TAG, STATUS, OPEN, RUN)
