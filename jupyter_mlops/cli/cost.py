"""``jupyter mlops cost report``: compute cost from the cost ledger on the command line.

:data:`COST` is the group, listed in :data:`jupyter_mlops.cli.main.COMMANDS`. Only the
standard library is imported here; the ledger (SQLAlchemy) loads inside the
command, so ``--help`` stays fast.

Which ledger: ``--ledger URL``, else ``$JUPYTER_MLOPS_COST_LEDGER``, else
``mlops-cost.db`` beside the project's MLflow store (``--tracking-uri`` /
``--root-dir``, as for the other commands), so a report run in a project folder
shows that folder's work.

The ``co2e_g`` column is the energy times one grid intensity: ``--carbon-region``,
else ``$JUPYTER_MLOPS_CARBON_REGION`` (a Jupyter server exports its
``carbon_region`` to its terminals and kernels), else the world average.

Exit codes: 0 success, 1 the ledger cannot be read (missing SQLite file,
database down), 2 usage error (bad ``--by``, ``--since``, ``--format`` or
``--carbon-region``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jupyter_mlops.cli.command import arg, command, group
from jupyter_mlops.cli.output import existing_database, tracking_uri

__all__ = ["COST", "cmd_cost_report", "ledger_url"]

BY_HELP = "project, notebook, user, kernel, run, day, week or tag:KEY"


def ledger_url(args: argparse.Namespace) -> str:
    """``--ledger``, else ``$JUPYTER_MLOPS_COST_LEDGER``, else beside the project's MLflow store."""
    from jupyter_mlops.core.cost.ledger import default_ledger_url

    if args.ledger:
        url = args.ledger
    else:
        root = str(Path(args.root_dir).resolve()) if args.root_dir else None
        url = default_ledger_url(root, tracking_uri(args))
    hint = (
        "cost is booked there by a Jupyter server or a run using jupyter-mlops in this "
        "project; run from the project folder or pass --root-dir DIR, or read another "
        "ledger with --ledger URL or $JUPYTER_MLOPS_COST_LEDGER (any SQLAlchemy URL, e.g. "
        "a team's postgresql://host/db)"
    )
    return existing_database(url, "cost ledger", hint)


def cmd_cost_report(args: argparse.Namespace) -> int:
    """Report compute cost from the cost ledger: one row per group with the allocated cost (what
    holding the resources cost), the used cost, the waste (their difference: idle GPUs, unused
    reserved cores), CPU core-hours, RAM GB-hours, GPU-hours, GPU memory GB-hours, energy (kWh),
    wall hours and gCO2e (the energy times the grid's carbon intensity).

    Group by a label, a run tag (--by tag:epic: cost per ticket) or several at once
    (--by project,tag:epic: a row per combination). The ledger is mlops-cost.db beside the
    project's MLflow store unless --ledger or $JUPYTER_MLOPS_COST_LEDGER names another one
    (any SQLAlchemy URL: point several servers at one PostgreSQL ledger to report across them).
    """
    from jupyter_mlops.core.cost.carbon import intensity_for, intensity_from_env
    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.core.cost.report import build_report, parse_by, parse_time, render_report
    from jupyter_mlops.exceptions import ConfigError, UsageError

    # usage errors first: a bad --by or --since says so even where there is no ledger
    parse_time(args.since)
    parse_time(args.until)
    parse_by(args.by)
    try:
        carbon = intensity_for(args.carbon_region) if args.carbon_region else intensity_from_env()
    except ConfigError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    ledger = Ledger(ledger_url(args))
    try:
        report = build_report(ledger, by=args.by, since=args.since, until=args.until, carbon=carbon)
    finally:
        ledger.close()
    text = render_report(report, args.format)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


REPORT = command(
    "report",
    "Cost grouped by project, notebook, user, kernel, run, tag, day or week.",
    cmd_cost_report,
    arg(
        "--by",
        default="project",
        metavar="GROUPS",
        help=f"Group rows by {BY_HELP} (a run's tag, e.g. tag:epic), or several joined by "
        "commas (project,tag:epic: a row per combination). Days and weeks are UTC "
        "(default: project).",
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
        help="table (aligned, money rounded for reading, with a total line), csv (one header "
        "row) or json; csv and json keep full precision.",
    ),
    arg(
        "--carbon-region",
        metavar="REGION",
        help="Grid of the co2e_g column: an ISO 3166 alpha-3 country (DEU, USA) or a cloud "
        "region (gcp:europe-west1) (default: $JUPYTER_MLOPS_CARBON_REGION, else the world "
        "average; see docs/carbon.md).",
    ),
    arg(
        "--ledger",
        metavar="URL",
        help="The cost ledger: a SQLAlchemy URL (default: $JUPYTER_MLOPS_COST_LEDGER, else "
        "mlops-cost.db beside the MLflow store of --tracking-uri / --root-dir).",
    ),
)

COST = group(
    "cost",
    "Compute cost: what kernels and runs cost, from the cost ledger.",
    REPORT,
    description="Compute cost. The Jupyter server (and runs outside it) sample every kernel's "
    "CPU, memory and GPU use, price it and book it per minute in the cost ledger "
    "(c.MlopsConfig.cost_ledger_url or $JUPYTER_MLOPS_COST_LEDGER; default mlops-cost.db "
    "beside the project's mlflow.db). See `jupyter mlops cost COMMAND --help`.",
)
