"""``%mlops`` / ``%%mlops``: experiment tracking from IPython and Jupyter.

``%load_ext jupyter_mlops`` is cheap: the tracking API (and MLflow) is imported
by the first subcommand that needs it. Each subcommand is one function
registered with :func:`subcommand` (summary, arguments, help); later features
add theirs the same way. Lines are split with :mod:`shlex` and parsed by an
argparse parser that raises instead of exiting. :meth:`MlopsMagics.mlops` is the
one place where an ``MlopsError`` becomes friendly output: message and hint, no
traceback, and the cell still fails (so "Run All" and papermill stop).
"""

from __future__ import annotations

import argparse
import ast
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_mlops.exceptions import InvalidValueError, MlopsError, UsageError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.kernel.api import RunInfo

__all__ = [
    "SUBCOMMANDS",
    "MlopsMagicError",
    "MlopsMagics",
    "load_ipython_extension",
    "run_links_bundle",
    "subcommand",
    "unload_ipython_extension",
    "where_to_see",
]

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


class MlopsMagicError(Exception):
    """An ``MlopsError`` shown by IPython as message and hint (``_render_traceback_``)."""

    def __init__(self, error: MlopsError) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error

    def _render_traceback_(self) -> list[str]:
        lines = [f"{_RED}{type(self.error).__name__}{_RESET}: {self.error.message}"]
        if self.error.hint:
            lines.append(f"Hint: {self.error.hint}")
        return lines


class _HelpShown(Exception):
    """argparse printed ``--help`` and wants to exit: stop quietly."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` and never exits the kernel."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status or message:
            raise UsageError((message or f"{self.prog}: invalid arguments").strip())
        raise _HelpShown

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"see {self.prog} --help")

    def parse_known_intermixed_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.usage is None:  # argparse %-formats the usage it builds here: keep "%mlops"
            self.usage = self.format_usage().removeprefix("usage: ").rstrip().replace("%", "%%")
        return super().parse_known_intermixed_args(args, namespace)


@dataclass
class Invocation:
    """What a subcommand handler gets: parsed arguments, the cell body, the shell."""

    args: argparse.Namespace
    cell: str | None
    magics: MlopsMagics


Handler = Callable[[Invocation], None]


@dataclass(frozen=True)
class Subcommand:
    """One ``%mlops`` subcommand: its handler, summary, arguments and magic kind."""

    name: str
    summary: str
    handler: Handler
    arguments: Callable[[argparse.ArgumentParser], None] | None = None
    details: str = ""
    cell: bool = False

    @property
    def prog(self) -> str:
        """How the user types it: ``%mlops start`` or ``%%mlops run``."""
        return f"%%mlops {self.name}" if self.cell else f"%mlops {self.name}"

    def parser(self) -> MagicArgumentParser:
        """A fresh parser for this subcommand."""
        parser = MagicArgumentParser(
            prog=self.prog,
            allow_abbrev=False,
            description=f"{self.summary[0].upper()}{self.summary[1:]}.\n{self.details}".strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if self.arguments is not None:
            self.arguments(parser)
        return parser


SUBCOMMANDS: dict[str, Subcommand] = {}


def subcommand(
    name: str,
    summary: str,
    *,
    arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    details: str = "",
    cell: bool = False,
) -> Callable[[Handler], Handler]:
    """Register a handler as ``%mlops NAME`` (``%%mlops NAME`` when ``cell``).

    ``arguments`` adds the argparse arguments; ``summary`` is the one-liner of
    ``%mlops --help``; ``details`` (with an example) ends ``%mlops NAME --help``.
    """

    def register(handler: Handler) -> Handler:
        SUBCOMMANDS[name] = Subcommand(name, summary, handler, arguments, details, cell)
        return handler

    return register


# -- value parsing -----------------------------------------------------------------------


def parse_assignments(items: Sequence[str], what: str, example: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; each item must be ``KEY=VALUE``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidValueError(
                f"Expected {what} as KEY=VALUE, got {item!r}.", hint=f"for example {example}"
            )
        if key in out:
            raise InvalidValueError(f"{what.capitalize()} {key!r} is given twice.")
        out[key] = value
    return out


def parse_metric_values(pairs: dict[str, str]) -> dict[str, float]:
    """Every value as a float, or :class:`InvalidValueError` naming all the bad ones."""
    values: dict[str, float] = {}
    bad: list[str] = []
    for key, text in pairs.items():
        try:
            values[key] = float(text)
        except ValueError:
            bad.append(f"{key}={text!r}")
    if bad:
        raise InvalidValueError(
            f"Metric values must be numbers: {', '.join(bad)}. Nothing was logged.",
            hint="for example %mlops log acc=0.91 loss=0.23 --step 3",
        )
    return values


def parse_param_value(text: str) -> object:
    """A Python literal (``0.01``, ``[64, 32]``, ``True``) when ``text`` is one, else ``text``."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


# -- the magic ---------------------------------------------------------------------------


def _help_text() -> str:
    width = max(len(name) for name in SUBCOMMANDS)
    rows = "\n".join(
        f"  {sub.prog.split(' ')[0]:<7} {name:<{width}}  {sub.summary}"
        for name, sub in SUBCOMMANDS.items()
    )
    return (
        "%mlops SUBCOMMAND [options]: track experiments (MLflow underneath).\n\n"
        f"Subcommands:\n{rows}\n\n"
        "Help on one: %mlops SUBCOMMAND --help (or %mlops help SUBCOMMAND).\n"
        "Python variables expand in the line: %mlops log loss={loss} --step {epoch}"
    )


@magics_class
class MlopsMagics(Magics):
    """The ``%mlops`` line magic and ``%%mlops`` cell magic."""

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.last_run: RunInfo | None = None

    @line_cell_magic
    def mlops(self, line: str, cell: str | None = None) -> None:
        """Track experiments with MLflow: ``%mlops start``, ``%mlops log acc=0.9``, ...

        ``%mlops --help`` lists the subcommands, ``%mlops SUBCOMMAND --help``
        explains one. ``%%mlops run [options]`` runs a cell as one tracked run.
        """
        try:
            self._dispatch(line, cell)
        except MlopsError as err:
            raise MlopsMagicError(err) from err
        from jupyter_mlops.kernel.cost_budget import announce_budgets

        announce_budgets()  # budgets at 80% / 100%: said once (checked at most every minute)

    def _dispatch(self, line: str, cell: str | None) -> None:
        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            raise UsageError(
                f"Cannot split {line!r}: {exc}.",
                hint='quote values with spaces: --run-name "run 1"',
            ) from exc
        if not tokens or tokens[0] in ("help", "-h", "--help"):
            if len(tokens) > 1 and tokens[0] == "help":
                tokens = [tokens[1], "--help"]
            else:
                print(_help_text())
                return
        name, rest = tokens[0], tokens[1:]
        sub = SUBCOMMANDS.get(name)
        if sub is None:
            import difflib

            close = difflib.get_close_matches(name, SUBCOMMANDS, n=1)
            raise UsageError(
                f"Unknown subcommand {name!r}. Valid subcommands: {', '.join(SUBCOMMANDS)}.",
                hint=(f"did you mean {close[0]!r}? " if close else "") + "see %mlops --help",
            )
        try:
            args = sub.parser().parse_intermixed_args(rest)
        except _HelpShown:
            return
        if sub.cell and cell is None:
            raise UsageError(
                f"{sub.prog} is a cell magic.",
                hint=f"put {sub.prog} [options] on the first line of a cell, code below it",
            )
        if cell is not None and not sub.cell:
            cells = ", ".join(n for n, s in SUBCOMMANDS.items() if s.cell)
            raise UsageError(f"%%mlops supports only: {cells}.", hint=f"use %mlops {name}")
        sub.handler(Invocation(args, cell, self))


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext jupyter_mlops``: register ``%mlops`` / ``%%mlops`` (imports no MLflow)."""
    ipython.register_magics(MlopsMagics)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext jupyter_mlops``: flush pending metrics and remove the magics."""
    api = sys.modules.get("jupyter_mlops.kernel.api")
    if api is not None:
        try:
            api.flush()
        except MlopsError as err:
            print(f"jupyter-mlops: pending metrics not flushed: {err}", file=sys.stderr)
    manager = ipython.magics_manager
    manager.magics["line"].pop("mlops", None)
    manager.magics["cell"].pop("mlops", None)
    manager.registry.pop(MlopsMagics.__name__, None)


# The tracking subcommands register themselves on import (kept in their own module).
from jupyter_mlops.kernel.tracking_magics import run_links_bundle, where_to_see  # noqa: E402

# isort: split
from jupyter_mlops.kernel import env_magics  # noqa: E402, F401 - %mlops env, after them in --help

# isort: split
from jupyter_mlops.kernel import cost_magics  # noqa: E402, F401 - %mlops cost, %%mlops track
