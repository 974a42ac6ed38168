"""``%mlops keep-alive``: the idle policy leaves this kernel alone for a while.

The mark goes into the cost ledger (``$JUPYTER_MLOPS_COST_LEDGER``, which the
server exports to its kernels; see :mod:`jupyter_mlops.core.cost.ledger_policy`),
where the server's idle policy reads it within a few seconds. The kernel knows
its own id from its connection file (``kernel-<id>.json``). Listed in
:data:`jupyter_mlops.kernel.cost_magics.SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time

from jupyter_mlops.exceptions import InvalidValueError, UsageError
from jupyter_mlops.kernel.parsing import Invocation, Subcommand

__all__ = ["KEEP_ALIVE", "MAX_MINUTES", "parse_minutes"]

MAX_MINUTES = 7 * 24 * 60
"""The longest keep-alive (a week), as over REST."""
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)?\s*$")
_MINUTES = {None: 1.0, "m": 1.0, "min": 1.0, "h": 60.0, "d": 1440.0}


def parse_minutes(text: str) -> float:
    """``2h`` -> 120, ``90m`` / ``90min`` / ``90`` -> 90, ``1d`` -> 1440 (at most a week)."""
    match = _SPAN.match(text)
    minutes = float(match.group(1)) * _MINUTES[match.group(2)] if match else -1.0
    if not 0 < minutes <= MAX_MINUTES:
        raise InvalidValueError(
            f"--for {text!r} is not a duration from 1 minute to 7 days.",
            hint="write it as 2h, 90m or 1d",
        )
    return minutes


def _options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--for",
        dest="span",
        metavar="DURATION",
        help="how long to keep this kernel alive: 2h, 90m, 1d (default: 2h)",
    )
    group.add_argument("--off", action="store_true", help="end the keep-alive now")


def _ledger_url() -> str:
    from jupyter_mlops.config import MlopsConfig, cost_settings

    url = cost_settings(MlopsConfig()).ledger_url
    if url == "memory":
        raise UsageError(
            "The cost ledger is off (cost_ledger_url = 'memory'): a keep-alive has nowhere to go.",
            hint="set c.MlopsConfig.cost_ledger_url, or leave it empty for the default",
        )
    return url


def _keep_alive(inv: Invocation) -> None:
    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.core.tracking.context import current_user, kernel_id

    minutes = 0.0 if inv.args.off else parse_minutes(inv.args.span or "2h")
    kid = kernel_id()
    if not kid:
        raise UsageError(
            "This kernel does not know its Jupyter kernel id, so the idle policy cannot find it.",
            hint="run it in a notebook kernel started by Jupyter (its connection file names the id)",
        )
    until = time.time() + minutes * 60.0 if minutes else 0.0
    with Ledger(_ledger_url()) as ledger:
        ledger.keep_alive(kid, until, set_by=current_user())
    if not until:
        print("Keep-alive off: the idle policy may act on this kernel again when it is idle.")
        return
    end = dt.datetime.fromtimestamp(until).strftime("%H:%M")
    print(f"The idle policy leaves this kernel alone until {end} ({minutes:g} min).")


KEEP_ALIVE = Subcommand(
    "keep-alive",
    "keep this kernel alive: the idle policy neither warns about it nor interrupts or shuts it down",
    _keep_alive,
    arguments=_options,
    details="The server's idle policy (c.MlopsConfig.idle_policy) reads the mark within a few\n"
    "seconds. Busy kernels are never touched anyway; use this for a kernel that holds a GPU\n"
    "while you think.\n"
    "example:\n  %mlops keep-alive --for 2h\n  %mlops keep-alive --off",
)
