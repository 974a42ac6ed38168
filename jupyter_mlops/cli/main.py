"""``jupyter mlops ...`` (also ``jupyter-mlops ...``): jupyter-mlops on the command line.

Each subcommand is one small function registered in :data:`COMMANDS` with the
:func:`command` decorator, together with its arguments; :func:`build_parser`
turns the table into ``argparse`` subparsers. A command group (``jupyter mlops
env snapshot|diff|check``) is declared with :func:`group`; its subcommands pass
``group=`` to :func:`command` (the ``env`` commands live in :mod:`jupyter_mlops.cli.env`, ``cost`` in
:mod:`jupyter_mlops.cli.cost`). Heavy imports (MLflow,
jupyter_server) happen inside the subcommand that needs them, so ``--help`` and
``--version`` stay fast.

Exit codes: 0 success, 1 failure (store unreachable, run not found, ...),
2 usage error (bad arguments), 130 interrupted. Errors are one line on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops import __version__
from jupyter_mlops.exceptions import MlopsError, StoreError, UsageError

__all__ = ["COMMANDS", "Command", "build_parser", "command", "group", "main"]

PROG = "jupyter mlops"
Runner = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: its flags and keyword arguments."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Arg:
    """Describe an argument of a subcommand (same signature as ``add_argument``)."""
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    """A subcommand: name, one-line help, longer description, arguments and the function to run.

    A group (``run`` None) has ``children`` instead: ``jupyter mlops GROUP CHILD ...``.
    """

    name: str
    help: str
    description: str
    arguments: tuple[Arg, ...]
    run: Runner | None
    uses_store: bool
    children: dict[str, Command] = field(default_factory=dict)


COMMANDS: dict[str, Command] = {}
"""Every subcommand, in ``--help`` order. Register new ones with :func:`command`."""


def command(
    name: str,
    help: str,
    *arguments: Arg,
    description: str = "",
    uses_store: bool = True,
    group: str | None = None,
) -> Callable[[Runner], Runner]:
    """Register the decorated function as subcommand ``name`` in :data:`COMMANDS`.

    With ``group``, it becomes ``jupyter mlops GROUP NAME`` (declare the group first).
    """

    def register(run: Runner) -> Runner:
        table = COMMANDS if group is None else COMMANDS[group].children
        table[name] = Command(name, help, description or help, arguments, run, uses_store)
        return run

    return register


def group(name: str, help: str, *, description: str = "") -> None:
    """Declare the command group ``jupyter mlops NAME``; add its subcommands with ``group=NAME``."""
    COMMANDS[name] = Command(name, help, description or help, (), None, uses_store=False)


# ---------------------------------------------------------------------------- helpers


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}: {text!r}")
        return value

    return parse


def _tracking_uri(args: argparse.Namespace) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<root>/mlflow.db``."""
    from jupyter_mlops.config import MlopsConfig

    config = MlopsConfig(tracking_uri=args.tracking_uri or "")
    if args.root_dir:
        config.root_dir = str(Path(args.root_dir).resolve())
    return config.resolved_tracking_uri()


def _existing_store(uri: str) -> str:
    """``uri``, unless it is a SQLite file that does not exist (reading must not create one)."""
    if uri.startswith("sqlite:///") and ":memory:" not in uri:
        path = Path(uri[len("sqlite:///") :].split("?", 1)[0])
        if not path.is_file():
            raise StoreError(
                f"No MLflow store at {path}.",
                hint="Run from the folder that holds mlflow.db, pass --root-dir or "
                "--tracking-uri, or set MLFLOW_TRACKING_URI.",
            )
    return uri


def _client(args: argparse.Namespace) -> Any:
    from jupyter_mlops.core.tracking import query

    return query.connect(_existing_store(_tracking_uri(args)))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _cell(value: object) -> str:
    """Text safe for a terminal table: no control characters (no escape sequences)."""
    return _CONTROL.sub("?", "" if value is None else str(value))


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print(
            "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        )


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, allow_nan=False))


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else ""


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


FORMAT = arg("--format", choices=["table", "json"], default="table", help="Output format.")


# ------------------------------------------------------------------------ subcommands


@command(
    "runs",
    "List runs, newest first.",
    arg("--experiment", metavar="NAME", help="Only runs of this experiment (default: all)."),
    arg(
        "--status",
        type=str.upper,
        choices=["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"],
        help="Only runs in this state.",
    ),
    arg("--search", metavar="TEXT", help="Only runs whose name contains TEXT (any case)."),
    arg("--filter", metavar="EXPR", help='MLflow filter, e.g. "metrics.acc > 0.9".'),
    arg(
        "--order-by",
        metavar="COLUMN",
        default="start_time DESC",
        help="start_time, end_time, run_name, status, metrics.<key>, params.<key> or "
        "tags.<key>, then ASC or DESC (default: %(default)s).",
    ),
    arg(
        "--max",
        metavar="N",
        type=_bounded_int(1, 1000),
        default=50,
        help="At most N runs, 1 to 1000 (default: %(default)s).",
    ),
    arg("--page-token", metavar="TOKEN", help="Continue where a previous listing stopped."),
    FORMAT,
    description="List the runs of the tracking store, filtered and sorted by the store. "
    "With more runs than --max, the next page's token is printed on stderr "
    "(table) or returned as next_page_token (json).",
)
def cmd_runs(args: argparse.Namespace) -> int:
    """``jupyter mlops runs``."""
    from jupyter_mlops.core.tracking import query

    client = _client(args)
    experiment_ids = None
    if args.experiment:
        experiment_ids = [query.find_experiment(client, args.experiment)["experiment_id"]]
    page = query.search_runs(
        client,
        experiment_ids=experiment_ids,
        status=args.status,
        search=args.search,
        filter=args.filter,
        order_by=args.order_by,
        max_results=args.max,
        page_token=args.page_token,
    )
    if args.format == "json":
        _print_json(page)
        return 0
    rows = [
        (
            r["run_id"],
            r["run_name"],
            r["status"],
            _when(r["start_time"]),
            _duration(r["duration_ms"]),
        )
        for r in page["runs"]
    ]
    _print_table(["RUN ID", "NAME", "STATUS", "STARTED", "DURATION"], rows)
    if page["next_page_token"]:
        print(f"more: --page-token {page['next_page_token']}", file=sys.stderr)
    return 0


@command(
    "experiments",
    "List active experiments, newest first.",
    FORMAT,
)
def cmd_experiments(args: argparse.Namespace) -> int:
    """``jupyter mlops experiments``."""
    from jupyter_mlops.core.tracking import query

    result = query.list_experiments(_client(args))
    if args.format == "json":
        _print_json(result)
        return 0
    rows = [
        (e["experiment_id"], e["name"], _when(e["creation_time"])) for e in result["experiments"]
    ]
    _print_table(["ID", "NAME", "CREATED"], rows)
    return 0


@command(
    "ui",
    "Start MLflow's own UI on the tracking store.",
    arg("--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)."),
    arg("--port", type=_bounded_int(1, 65535), default=5000, help="Port (default: %(default)s)."),
    arg("--print", action="store_true", dest="print_only", help="Only print the command."),
    description="Run `mlflow ui --backend-store-uri <store>` on the store jupyter-mlops uses. "
    "For a remote tracking server (http/https) there is nothing to start: its address is printed.",
)
def cmd_ui(args: argparse.Namespace) -> int:
    """``jupyter mlops ui``."""
    from jupyter_mlops.core.tracking.store import redact_uri

    uri = _tracking_uri(args)
    shown = redact_uri(uri)
    if uri.startswith(("http://", "https://", "databricks")):
        print(f"The tracking store is a server; open {shown} in a browser.")
        return 0
    options = ["--host", args.host, "--port", str(args.port)]
    print(shlex.join(["mlflow", "ui", "--backend-store-uri", shown, *options]))
    if args.print_only:
        return 0
    argv = [sys.executable, "-m", "mlflow", "ui", *options]
    env = dict(os.environ)
    if shown == uri:
        argv += ["--backend-store-uri", uri]
    else:  # credentials never go into a process's argv; `mlflow ui` reads this variable too
        env["MLFLOW_BACKEND_STORE_URI"] = uri
    return subprocess.run(argv, env=env, check=False).returncode


# ----------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The ``jupyter mlops`` parser, one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="jupyter-mlops: experiment tracking (MLflow) for JupyterLab, on the command line.",
    )
    parser.add_argument("--version", action="version", version=f"jupyter-mlops {__version__}")
    store = argparse.ArgumentParser(add_help=False)
    group = store.add_argument_group("tracking store")
    group.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root-dir>/mlflow.db).",
    )
    group.add_argument(
        "--root-dir",
        metavar="DIR",
        help="Folder whose mlflow.db is the default store (default: $JUPYTER_MLOPS_ROOT_DIR, "
        "else the current folder).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="Show tracebacks of errors.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS.values():
        _add_command(subparsers, cmd, [store, common], [common])
    return parser


def _add_command(
    subparsers: Any,
    cmd: Command,
    with_store: list[argparse.ArgumentParser],
    without_store: list[argparse.ArgumentParser],
) -> None:
    if cmd.run is None:  # a group: its own subcommands, and its help when none is given
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.description)
        children = sub.add_subparsers(dest=f"{cmd.name}_command", metavar="COMMAND")
        for child in cmd.children.values():
            _add_command(children, child, with_store, without_store)
        sub.set_defaults(run=None, help_parser=sub)
        return
    sub = subparsers.add_parser(
        cmd.name,
        help=cmd.help,
        description=cmd.description,
        parents=with_store if cmd.uses_store else without_store,
    )
    for spec in cmd.arguments:
        sub.add_argument(*spec.flags, **spec.options)
    sub.set_defaults(run=cmd.run)


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jupyter mlops`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse has printed
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "run", None) is None:
        (getattr(args, "help_parser", None) or parser).print_help(sys.stderr)
        return 2
    try:
        code: int = args.run(args)
    except UsageError as exc:
        return _fail(str(exc), 2)
    except MlopsError as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from jupyter_mlops.core.tracking.query import scrub_credentials

        detail = scrub_credentials(str(exc))
        return _fail(f"{type(exc).__name__}: {detail} (rerun with --debug for details)", 1)
    return code


# The `env` command group registers itself on import (kept in its own module).
from jupyter_mlops.cli import env as cli_env  # noqa: E402, F401

# isort: split
from jupyter_mlops.cli import cost as cli_cost  # noqa: E402, F401 - likewise `cost`, after `env` in --help

# isort: split
from jupyter_mlops.cli import pipeline as cli_pipeline  # noqa: E402, F401 - likewise `params` and `export`

if __name__ == "__main__":  # python -m: run the imported module, where `env` registered itself
    from jupyter_mlops.cli.main import main as registered_main

    sys.exit(registered_main())
