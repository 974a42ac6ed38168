"""``jupyter mlops cost report``: compute cost from the cost ledger on the command line.

:data:`COST` is the group, listed in :data:`jupyter_mlops.cli.main.COMMANDS`. Only the
standard library is imported here; the ledger (SQLAlchemy) loads inside the
command, so ``--help`` stays fast.

Exit codes: 0 success, 1 the ledger cannot be read (missing SQLite file,
database down), 2 usage error (bad ``--by``, ``--since`` or ``--format``).
"""

from __future__ import annotations

import argparse
import sys

from jupyter_mlops.cli.command import arg, command, group
from jupyter_mlops.cli.output import existing_database

__all__ = ["COST", "cmd_cost_report", "ledger_url"]

BY = ("project", "notebook", "user", "kernel", "run", "day", "week")


def ledger_url(given: str | None) -> str:
    """``--ledger``, else ``$JUPYTER_MLOPS_COST_LEDGER``, else the default SQLite file."""
    from jupyter_mlops.core.cost.ledger import default_ledger_url

    hint = (
        "Cost is booked by a Jupyter server running jupyter-mlops; pass --ledger "
        "URL or set JUPYTER_MLOPS_COST_LEDGER to read another one."
    )
    return existing_database(given or default_ledger_url(), "cost ledger", hint)


def cmd_cost_report(args: argparse.Namespace) -> int:
    """Report compute cost from the cost ledger: one row per group with the allocated cost (what
    holding the resources cost), the used cost, the waste (their difference: idle GPUs, unused
    reserved cores), CPU core-hours, RAM GB-hours, GPU-hours, GPU memory GB-hours, energy (kWh)
    and wall hours.
    """
    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.core.cost.report import build_report, render_report

    ledger = Ledger(ledger_url(args.ledger))
    try:
        report = build_report(ledger, by=args.by, since=args.since, until=args.until)
    finally:
        ledger.close()
    text = render_report(report, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


REPORT = command(
    "report",
    "Cost grouped by project, notebook, user, kernel, run, day or week.",
    cmd_cost_report,
    arg(
        "--by",
        choices=BY,
        default="project",
        help="Group rows by this label, or by UTC day or ISO week (default: project).",
    ),
    arg(
        "--since",
        default="7d",
        metavar="WHEN",
        help="Start: 7d, 24h, 30m, 2w (ago), or an ISO date or datetime (UTC if "
        "naive) (default: 7d).",
    ),
    arg("--until", default=None, metavar="WHEN", help="End, same forms as --since (default: now)."),
    arg(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (aligned, with a total line), csv (one header row) or json.",
    ),
    arg(
        "--ledger",
        metavar="URL",
        help="The cost ledger: a SQLAlchemy URL (default: $JUPYTER_MLOPS_COST_LEDGER, else "
        "sqlite:///~/.local/share/jupyter-mlops/cost.db).",
    ),
    uses_store=False,
)

COST = group(
    "cost",
    "Compute cost: what kernels and runs cost, from the cost ledger.",
    REPORT,
    description="Compute cost. The Jupyter server samples every kernel's CPU, memory and GPU "
    "use, prices it and books it per minute in the cost ledger (c.MlopsConfig.cost_ledger_url, "
    "default ~/.local/share/jupyter-mlops/cost.db). See `jupyter mlops cost COMMAND --help`.",
)
