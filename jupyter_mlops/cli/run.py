"""``jupyter mlops run``: execute a pipeline folder or a notebook with papermill, or sweep it.

:data:`RUN` is listed in :data:`jupyter_mlops.cli.main.COMMANDS`. The pipeline
library, MLflow and tqdm load inside the command, so ``--help`` stays fast.

Exit codes: 0 every execution FINISHED, 1 one FAILED or was KILLED, 2 usage
error (nothing ran), 130 interrupted (the runs are marked KILLED).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from jupyter_mlops.cli.command import arg, command
from jupyter_mlops.cli.output import bounded_int, print_json, print_table, tracking_uri
from jupyter_mlops.cli.run_caps import MAX_COST, before_launch
from jupyter_mlops.exceptions import PathError, UsageError

__all__ = ["RUN", "cmd_run", "parse_grid"]

MAX_RETRIES = 10
"""As ``core.pipeline.model.MAX_RETRIES`` (not imported: ``--help`` stays fast)."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["lr=0.1,0.3", "layers=[[1],[2, 3]]"]`` -> ``{"lr": ["0.1", "0.3"], "layers": [[1], [2, 3]]}``.

    Values stay text (typed later by the parameter's type) unless given as a JSON list.
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise UsageError(f"--grid {item!r}: expected NAME=V1,V2,...")
        parsed: Any = None
        if values.lstrip().startswith("["):
            try:
                parsed = json.loads(values)
            except ValueError:
                parsed = None
        grid[name.strip()] = parsed if isinstance(parsed, list) else values.split(",")
    return grid


def _load_file(path: str) -> list[dict[str, Any]]:
    """``-f FILE``: a mapping is one parameter set; a list is one set per item."""
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {exc}") from exc
    if document is None:
        return []
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list) and all(isinstance(item, dict) for item in document):
        return list(document)
    raise UsageError(
        f"{path} must hold a mapping of parameters or a list of such mappings",
        hint="e.g. {train: {lr: 0.1}} or [{lr: 0.1}, {lr: 0.3}]",
    )


def progress_text(progress: dict[str, Any]) -> str:
    """An execution's status line: ``cell 7/23  <its last output line>``; ``starting`` until
    its kernel runs the first cell (a snapshot may come first: it carries the cost so far)."""
    last = next((line for line in reversed(progress["lines"]) if line.strip()), "")
    where = f"cell {progress['cell']}/{progress['cells']}" if progress["cells"] else "starting"
    return f"{where}  {last}".rstrip()


class _Progress:
    """tqdm on stderr with FAILED/KILLED counts; one line per execution when not a terminal.

    With ``live`` (a terminal, table output), one status line per running
    execution under the bar: ``train  cell 7/23  <its last output line>``.
    """

    def __init__(self, live: bool = False, file: Any = None) -> None:
        self.bar: Any = None
        self.counts = {"FAILED": 0, "KILLED": 0}
        self.file = file or sys.stderr
        self.tty = self.file.isatty()
        self.live = live
        self.sweep = False
        self.lines: dict[int, Any] = {}

    def __call__(self, event: Any) -> None:
        if event.kind == "planned":
            self.sweep = any(e.trial for e in event.executions)
            self.bar = self._tqdm(total=len(event.executions), unit="run", disable=not self.tty)
        elif event.kind == "started" and self.live:
            self._show(event.execution, "starting")
        elif event.kind == "progress" and self.live:
            self._show(event.execution, progress_text(event.progress))
        elif event.kind == "retrying":
            self._end_line(event.execution.index)
            ended = event.result
            self._say(
                f"{self._name(event.execution)}: attempt {ended.attempt} {ended.status} "
                f"({ended.reason}: {ended.error}); retrying as attempt {event.execution.attempt}"
            )
        elif event.kind == "finished":
            self._finished(event.execution, event.result)
        elif event.kind == "done":
            self.close()

    def _tqdm(self, **kwargs: Any) -> Any:
        import importlib

        tqdm: Any = importlib.import_module("tqdm").tqdm
        return tqdm(file=self.file, **kwargs)

    def _name(self, execution: Any) -> str:
        return f"{execution.step} t{execution.trial}" if self.sweep else str(execution.step)

    def _show(self, execution: Any, text: str) -> None:
        line = self.lines.get(execution.index)
        if line is None:
            line = self.lines[execution.index] = self._tqdm(
                total=0, bar_format="{desc}", leave=False, disable=not self.tty
            )
        width = shutil.get_terminal_size((100, 20)).columns - 1
        line.set_description_str(f"{self._name(execution)}  {text}"[:width])

    def _end_line(self, index: int) -> None:
        line = self.lines.pop(index, None)
        if line is not None:
            line.close()

    def _say(self, text: str) -> None:
        if self.bar is not None and self.tty:
            self.bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def _finished(self, execution: Any, result: Any) -> None:
        self._end_line(execution.index)
        if result.status in self.counts:
            self.counts[result.status] += 1
        if self.bar is not None:
            self.bar.set_postfix({k.lower(): v for k, v in self.counts.items()}, refresh=False)
            self.bar.update(1)
        if not self.tty:
            why = f" ({result.reason}: {result.error})" if result.status != "FINISHED" else ""
            if result.cache_hit:
                why = f" (cached: run {result.cache_hit})"
            name = f"{execution.step} t{execution.trial}"
            print(f"{name}: {result.status}{why}", file=self.file, flush=True)

    def close(self) -> None:
        for index in list(self.lines):
            self._end_line(index)
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _short(value: float) -> str:
    return f"{value:.4g}"


def _money(cost: float | None) -> str:
    """``$0.0123``; a cost too small for four decimals shows as such, not as zero."""
    if cost is None:
        return ""
    return "<$0.0001" if 0 < cost < 0.00005 else f"${cost:.4f}"


def _status(result: Any) -> str:
    """``FINISHED``, ``FINISHED (cached)``, ``FAILED (cell_error)``; ``, attempt N`` after a retry."""
    why = [result.reason] if result.reason else []
    if result.attempt > 1:
        why.append(f"attempt {result.attempt}")
    return f"{result.status} ({', '.join(why)})" if why else str(result.status)


def _summary(plan: Any, result: Any, sort: str | None) -> list[tuple[object, ...]]:
    rows: list[tuple[tuple[int, float], tuple[object, ...]]] = []
    descending = not (sort or "").startswith("-")
    key = (sort or "").lstrip("-")
    for execution, res in zip(result.executions, result.results, strict=True):
        changed = plan.trials[execution.trial].get(execution.step, {})
        params = " ".join(f"{k}={json.dumps(v)}" for k, v in changed.items())
        metrics = {k: v for k, v in res.metrics.items() if k not in res.cost}
        shown = sorted(metrics, key=lambda k: (k != key, k))[:3]
        cost = res.cost.get("cost_usd")
        output = ""
        if res.output:
            try:
                output = os.path.relpath(res.output)
            except ValueError:
                output = res.output
        row = (
            execution.trial,
            execution.step,
            params,
            _status(res),
            "" if res.duration is None else f"{res.duration:.1f}s",
            _money(cost),
            " ".join(f"{k}={_short(metrics[k])}" for k in shown),
            execution.run_id or "",
            output,
        )
        value = metrics.get(key)
        order = (0, -value if descending else value) if value is not None else (1, 0.0)
        rows.append((order, row))
    if key:
        rows.sort(key=lambda item: item[0])
    return [row for _, row in rows]


def cmd_run(args: argparse.Namespace) -> int:
    """Execute the steps of DIR (a folder made by `jupyter mlops export`) in dependency order, or
    one NOTEBOOK, each with papermill in a process of its own. Each execution is an MLflow run
    (a child of one pipeline run) with its parameters, status, cost, environment and executed
    notebook. With --grid or a list of parameter sets in -f, every combination is a trial, run
    in parallel on --workers processes (or Dask with --executor dask). One trial of DIR runs in
    DIR (outputs/STEP.ipynb); a sweep runs each trial in DIR/runs/STAMP/tN/; a notebook writes
    NOTEBOOK_FOLDER/outputs/STEM/STAMP/; one without a cell tagged 'parameters' runs as it is
    and takes no -p, --grid or -f. A step of DIR whose notebook, parameters, declared inputs,
    environment and upstream steps are unchanged since a finished run, with its outputs intact,
    is not run again (a cache hit; --force runs it). On a terminal each running execution shows
    its cell and last output line. Every value is checked before anything runs. Exit status 0
    when all executions finished, 1 when one failed or was killed, 2 on bad input, 130 when
    interrupted. --max-cost caps the run's spend (an estimate is printed first); a hard budget of
    the project that is spent refuses the run (exit 1).
    """
    from jupyter_mlops.core.pipeline import plan_run, run_plan

    root = Path(args.root_dir or os.getcwd())
    try:
        param_sets = _load_file(args.file) if args.file else None
        plan = plan_run(
            args.target if os.path.isabs(args.target) else Path.cwd() / args.target,
            root=root,
            overrides=dict(args.parameters),
            from_text=True,
            grid=parse_grid(args.grid),
            param_sets=param_sets,
            timeout=args.timeout,
            kernel_name=args.kernel,
        )
    except PathError as exc:
        raise UsageError(exc.message, hint=exc.hint, notebook=exc.notebook) from exc
    uri = tracking_uri(args)
    before_launch(args, plan, uri)  # a spent hard budget refuses; --max-cost: the estimate
    progress = _Progress(live=sys.stderr.isatty() and args.format != "json")
    try:
        result = run_plan(
            plan,
            tracking_uri=uri,
            experiment=args.experiment,
            workers=args.workers,
            executor=args.executor,
            scheduler=args.scheduler,
            on_event=progress,
            force=args.force,
            retries=args.retries,
            retry_on_error=args.retry_on_error,
            resume=args.resume,
            max_cost=args.max_cost,
        )
    except KeyboardInterrupt:
        progress.close()
        print("interrupted: the unfinished runs are marked KILLED", file=sys.stderr)
        return 130
    finally:
        progress.close()
    if args.format == "json":
        print_json({**result.to_dict(), "trials": plan.trials})
    else:
        headers = ["TRIAL", "STEP", "PARAMS", "STATUS", "DURATION", "COST", "METRICS"]
        print_table([*headers, "RUN ID", "OUTPUT"], _summary(plan, result, args.sort))
        print(f"pipeline run {result.run_id}: {result.status}", file=sys.stderr)
    return 0 if result.status == "FINISHED" else 1


RUN = command(
    "run",
    "Run a pipeline folder or notebook with papermill; sweep parameters.",
    cmd_run,
    arg("target", metavar="DIR_OR_NOTEBOOK", help="A pipeline folder (pipeline.yaml) or a .ipynb."),
    arg(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        dest="parameters",
        help="Set a parameter for every trial: NAME is PARAM (every step that has it) or "
        "STEP.PARAM; VALUE is read by the parameter's type, or as papermill reads it when the "
        "parameter has none (5 int, 1.5 float, True/False bool, None, else text). Repeatable.",
    ),
    arg(
        "-f",
        "--file",
        metavar="FILE",
        help="YAML parameters: a mapping ({step: {param: v}} as in params.yaml, or flat) is one "
        "parameter set; a list of mappings is one trial each.",
    ),
    arg(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="Sweep NAME over the values (or a JSON list: NAME=[[1,2],[3]]); several --grid "
        "options run every combination. Repeatable.",
    ),
    arg(
        "--workers",
        type=bounded_int(1, 256),
        default=1,
        metavar="N",
        help="Executions run at once (processes or Dask workers; default: %(default)s).",
    ),
    arg(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local: a process pool on this machine; dask: Dask distributed, an embedded "
        "LocalCluster or --scheduler (needs jupyter-mlops[dask]; default: %(default)s).",
    ),
    arg(
        "--scheduler",
        metavar="ADDRESS",
        help="Address of a running Dask scheduler (tcp://HOST:8786) for --executor dask; its "
        "workers need jupyter-mlops installed and the files at the same paths.",
    ),
    arg(
        "--timeout",
        type=_positive_float,
        metavar="SECONDS",
        help="Kill an execution that runs longer than this (it ends KILLED; default: no limit).",
    ),
    arg("--kernel", metavar="NAME", help="Kernel to run with (default: each notebook's own)."),
    arg(
        "--force",
        action="store_true",
        help="Run every step, even those whose notebook, parameters, inputs and environment are "
        "unchanged since a finished run (default: those are cache hits and do not run).",
    ),
    arg(
        "--retries",
        type=bounded_int(0, MAX_RETRIES),
        default=0,
        metavar="N",
        help="Run an execution KILLED by --timeout, a lost worker or a dead kernel again, up to N "
        "times, waiting 1 s, 2 s, 4 s, ... in between; each attempt is its own MLflow run "
        "(default: %(default)s).",
    ),
    arg(
        "--retry-on-error",
        action="store_true",
        help="With --retries: retry executions that FAILED (a cell raised) too.",
    ),
    MAX_COST,
    arg(
        "--resume",
        metavar="RUN_ID",
        help="Resume the pipeline run RUN_ID (of the same DIR, with the same parameters): the "
        "steps it finished are reused, only the others run.",
    ),
    arg(
        "--experiment",
        metavar="NAME",
        help="MLflow experiment of the runs (default: the pipeline's or notebook's name).",
    ),
    arg(
        "--sort",
        metavar="METRIC",
        help="Sort the summary by METRIC, highest first (--sort=-METRIC: lowest first).",
    ),
    arg(
        "--format",
        choices=["table", "json"],
        default="table",
        help="Summary format on stdout (default: %(default)s).",
    ),
)
