"""``jupyter mlops ...`` (also ``jupyter-mlops ...``): jupyter-mlops on the command line.

:data:`COMMANDS` is the one table of subcommands, in ``--help`` order. Each
command module describes its commands as values (:func:`~jupyter_mlops.cli.command.command`,
:func:`~jupyter_mlops.cli.command.group`) and registers nothing; a new command is
a function and its description in a module, and one line in the table below.
:func:`build_parser` turns the table into ``argparse`` subparsers. Heavy imports
(MLflow, jupyter_server) happen inside the subcommand that needs them, so
``--help`` and ``--version`` stay fast.

Exit codes: 0 success, 1 failure (store unreachable, run not found, ...),
2 usage error (bad arguments), 130 interrupted. Errors are one line on stderr;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from jupyter_mlops import __version__
from jupyter_mlops.cli import cost, env, pipeline, run, runs, schedule
from jupyter_mlops.cli.command import Command
from jupyter_mlops.exceptions import MlopsError, UsageError

__all__ = ["COMMANDS", "PROG", "build_parser", "main"]

PROG = "jupyter mlops"

COMMANDS: dict[str, Command] = {
    cmd.name: cmd
    for cmd in (
        runs.RUNS,
        runs.EXPERIMENTS,
        runs.UI,
        runs.RUN_EDIT,
        env.ENV,
        cost.COST,
        pipeline.PARAMS,
        pipeline.EXPORT,
        run.RUN,
        schedule.SCHEDULE,
        schedule.SCHEDULER,
    )
}
"""Every subcommand, in ``--help`` order: the one place a command is added."""


def build_parser() -> argparse.ArgumentParser:
    """The ``jupyter mlops`` parser, one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="jupyter-mlops: experiment tracking (MLflow) for JupyterLab, on the command line.",
    )
    parser.add_argument("--version", action="version", version=f"jupyter-mlops {__version__}")
    store = argparse.ArgumentParser(add_help=False)
    options = store.add_argument_group("tracking store")
    options.add_argument(
        "--tracking-uri",
        metavar="URI",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<root-dir>/mlflow.db).",
    )
    options.add_argument(
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


if __name__ == "__main__":
    sys.exit(main())
