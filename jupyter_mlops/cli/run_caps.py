"""``jupyter mlops run --max-cost``: the estimate before launching, and hard budgets.

Before anything runs, :func:`before_launch` refuses the run (:class:`RunStateError`,
exit code 1) while a ``hard`` budget of the project is at or past 100% this period
(the budgets are ``c.MlopsConfig.cost_budgets``, i.e. ``$JUPYTER_MLOPS_COST_BUDGETS``,
which a Jupyter server exports to its kernels; spend from the project's cost
ledger; ``jupyter mlops scheduler`` checks the same before each firing), then, with
``--max-cost``, prints the estimate on stderr::

    estimate: about $3.40: 20 executions x median $0.17 of the last 10 runs of train.ipynb
    (cap $5.00)

The cost ledger and MLflow load inside the functions, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from jupyter_mlops.cli.command import arg

__all__ = ["MAX_COST", "before_launch", "refuse_if_hard_budget_spent"]


def _amount(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive amount of money: {text!r}")
    return value


MAX_COST = arg(
    "--max-cost",
    type=_amount,
    metavar="AMOUNT",
    help="Spend cap of the whole run, in the cost currency (5 = $5): prints an estimate "
    "(median cost of each notebook's last 10 runs x executions) first; once the ended "
    "executions' cost plus the running ones' reaches it, nothing more starts and the rest "
    "ends KILLED (reason budget).",
)


def refuse_if_hard_budget_spent(args: argparse.Namespace) -> None:
    """:class:`RunStateError` while a hard budget of the project is spent (this period)."""
    from jupyter_mlops.config import MlopsConfig, cost_settings
    from jupyter_mlops.core.cost.budgets import parse_budgets

    config = MlopsConfig(tracking_uri=args.tracking_uri or "")
    if args.root_dir:
        config.root_dir = str(Path(args.root_dir).resolve())
    budgets = parse_budgets(config.cost_budgets)
    if not config.cost_enabled or not any(b.hard for b in budgets):
        return
    from jupyter_mlops.core.cost.budgets import BudgetMonitor, refuse_if_hard_spent
    from jupyter_mlops.core.cost.engine import build_pricing
    from jupyter_mlops.core.cost.ledger import Ledger

    settings = cost_settings(config)
    url = settings.ledger_url
    local = url[len("sqlite:///") :].split("?", 1)[0] if url.startswith("sqlite:///") else ""
    if url == "memory" or (local and not Path(local).is_file()):
        return  # no ledger yet: nothing was spent
    ledger = Ledger(url)
    try:
        currency = build_pricing(settings).currency
        monitor = BudgetMonitor(budgets, ledger, currency=currency, consumer="cli")
        refuse_if_hard_spent(monitor.status(), config.resolved_project())
    finally:
        ledger.close()


def before_launch(args: argparse.Namespace, plan: Any, tracking_uri: str) -> None:
    """Refuse a run past a hard budget; with ``--max-cost``, print the estimate (stderr)."""
    refuse_if_hard_budget_spent(args)
    if args.max_cost is None:
        return
    from jupyter_mlops.core.cost.money import format_money
    from jupyter_mlops.core.cost.run_cost import default_pricing
    from jupyter_mlops.core.pipeline.estimate import estimate_plan
    from jupyter_mlops.core.tracking.query import connect

    currency = default_pricing().currency
    estimate = estimate_plan(connect(tracking_uri), plan, currency)
    cap = format_money(args.max_cost, currency)
    print(f"estimate: {estimate.message()} (cap {cap})", file=sys.stderr, flush=True)
