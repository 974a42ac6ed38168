"""``%mlops`` / ``%%mlops``: experiment tracking from IPython and Jupyter.

``%load_ext jupyter_mlops`` is cheap: the tracking API (and MLflow) is imported
by the first subcommand that needs it. :data:`SUBCOMMAND_MODULES` is the one
table: each module in it lists its subcommands (:class:`~jupyter_mlops.kernel.parsing.Subcommand`
values) in a ``SUBCOMMANDS`` tuple, and ``%mlops --help`` shows them in that
order. Nothing registers itself on import; a new subcommand is a handler and its
``Subcommand`` in a module, and that module in the tuple below.
:meth:`MlopsMagics.mlops` is the one place where an ``MlopsError`` becomes
friendly output (:class:`MlopsMagicError`): message and hint, no traceback, and
the cell still fails (so "Run All" and papermill stop).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_mlops.exceptions import MlopsError, UsageError
from jupyter_mlops.kernel import cost_magics, env_magics, tracking_magics
from jupyter_mlops.kernel.parsing import HelpShown, Invocation, Subcommand, split_line

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.core.tracking.tracker import RunInfo

__all__ = [
    "SUBCOMMAND_MODULES",
    "MlopsMagicError",
    "MlopsMagics",
    "load_ipython_extension",
    "subcommands",
    "unload_ipython_extension",
]

SUBCOMMAND_MODULES = (tracking_magics, env_magics, cost_magics)
"""The modules whose ``SUBCOMMANDS`` make up ``%mlops``, in ``%mlops --help`` order."""

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


def subcommands() -> dict[str, Subcommand]:
    """Every ``%mlops`` subcommand by name, in the order of :data:`SUBCOMMAND_MODULES`."""
    return {sub.name: sub for module in SUBCOMMAND_MODULES for sub in module.SUBCOMMANDS}


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


def _help_text(table: dict[str, Subcommand]) -> str:
    width = max(len(name) for name in table)
    rows = "\n".join(
        f"  {sub.prog.split(' ')[0]:<7} {name:<{width}}  {sub.summary}"
        for name, sub in table.items()
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
        table = subcommands()
        tokens = split_line(line)
        if not tokens or tokens[0] in ("help", "-h", "--help"):
            if len(tokens) > 1 and tokens[0] == "help":
                tokens = [tokens[1], "--help"]
            else:
                print(_help_text(table))
                return
        name, rest = tokens[0], tokens[1:]
        sub = table.get(name)
        if sub is None:
            import difflib

            close = difflib.get_close_matches(name, table, n=1)
            raise UsageError(
                f"Unknown subcommand {name!r}. Valid subcommands: {', '.join(table)}.",
                hint=(f"did you mean {close[0]!r}? " if close else "") + "see %mlops --help",
            )
        try:
            args = sub.parser().parse_intermixed_args(rest)
        except HelpShown:
            return
        if sub.cell and cell is None:
            raise UsageError(
                f"{sub.prog} is a cell magic.",
                hint=f"put {sub.prog} [options] on the first line of a cell, code below it",
            )
        if cell is not None and not sub.cell:
            cells = ", ".join(n for n, s in table.items() if s.cell)
            raise UsageError(f"%%mlops supports only: {cells}.", hint=f"use %mlops {name}")
        sub.handler(Invocation(args, cell, self))


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext jupyter_mlops``: register ``%mlops`` / ``%%mlops`` (imports no MLflow).

    A kernel whose cost a Jupyter server or the pipeline executor books marks its
    environment so that the processes it starts are not booked twice
    (:mod:`jupyter_mlops.core.cost.booking`).
    """
    from jupyter_mlops.core.cost.booking import booked_elsewhere

    booked_elsewhere()
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
