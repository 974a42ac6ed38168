"""What a ``jupyter mlops`` subcommand is: its name, help, arguments and the function to run.

Command modules describe their subcommands with :func:`command` and :func:`group`
(plain values, nothing is registered); :data:`jupyter_mlops.cli.main.COMMANDS` is
the one table that lists them, in ``--help`` order.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FORMAT", "Arg", "Command", "Runner", "arg", "command", "group"]

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


def command(name: str, help: str, run: Runner, *arguments: Arg, uses_store: bool = True) -> Command:
    """Subcommand ``name`` running ``run``; ``uses_store`` adds ``--tracking-uri``/``--root-dir``.

    The docstring of ``run`` is the description ``jupyter mlops NAME --help`` shows.
    """
    return Command(name, help, inspect.getdoc(run) or help, arguments, run, uses_store)


def group(name: str, help: str, *children: Command, description: str = "") -> Command:
    """The command group ``jupyter mlops NAME CHILD ...``, its children in ``--help`` order."""
    table = {child.name: child for child in children}
    return Command(name, help, description or help, (), None, uses_store=False, children=table)


FORMAT = arg("--format", choices=["table", "json"], default="table", help="Output format.")
