"""What a ``%mlops`` subcommand is, and how its line is read.

A subcommand module describes each subcommand as a :class:`Subcommand` value and
lists them in its ``SUBCOMMANDS`` tuple; :mod:`jupyter_mlops.kernel.magics`
dispatches over an explicit tuple of those modules. Lines are split with
:mod:`shlex` and parsed by a :class:`MagicArgumentParser`, which raises
:class:`~jupyter_mlops.exceptions.UsageError` instead of exiting the kernel.
"""

from __future__ import annotations

import argparse
import ast
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, Protocol

from jupyter_mlops.exceptions import InvalidValueError, UsageError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.core.tracking.tracker import RunInfo

__all__ = [
    "HelpShown",
    "Invocation",
    "MagicArgumentParser",
    "Session",
    "Subcommand",
    "parse_assignments",
    "parse_metric_values",
    "parse_param_value",
    "split_line",
]


class HelpShown(Exception):
    """argparse printed ``--help`` and wants to exit: stop quietly."""


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises :class:`UsageError` and never exits the kernel."""

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status or message:
            raise UsageError((message or f"{self.prog}: invalid arguments").strip())
        raise HelpShown

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"see {self.prog} --help")

    def parse_known_intermixed_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self.usage is None:  # argparse %-formats the usage it builds here: keep "%mlops"
            self.usage = self.format_usage().removeprefix("usage: ").rstrip().replace("%", "%%")
        return super().parse_known_intermixed_args(args, namespace)


class Session(Protocol):
    """What a handler may use of the magics object: the shell, and the last run it showed."""

    last_run: RunInfo | None

    @property
    def shell(self) -> InteractiveShell | None: ...


@dataclass
class Invocation:
    """What a subcommand handler gets: parsed arguments, the cell body, the session."""

    args: argparse.Namespace
    cell: str | None
    magics: Session

    def cell_body(self, what: str) -> tuple[str, InteractiveShell]:
        """The cell's code and the shell to run it in; an empty cell is a usage error."""
        body = self.cell or ""
        if not body.strip():
            raise UsageError("The cell is empty.", hint=f"write the code to {what}")
        shell = self.magics.shell
        assert shell is not None  # a registered magic always has its shell
        return body, shell


Handler = Callable[[Invocation], None]


@dataclass(frozen=True)
class Subcommand:
    """One ``%mlops`` subcommand: name, summary, handler, arguments and magic kind.

    ``arguments`` adds the argparse arguments; ``summary`` is the one-liner of
    ``%mlops --help``; ``details`` (with an example) ends ``%mlops NAME --help``;
    ``cell`` makes it ``%%mlops NAME``.
    """

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


def split_line(line: str) -> list[str]:
    """The words of a ``%mlops`` line, quoted as in a shell."""
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(
            f"Cannot split {line!r}: {exc}.",
            hint='quote values with spaces: --run-name "run 1"',
        ) from exc


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
