"""Budget warnings in the kernel: ``%mlops`` says once when a project reaches 80% and 100%.

The budgets are ``c.MlopsConfig.cost_budgets`` (a server exports them to its
kernels as ``$JUPYTER_MLOPS_COST_BUDGETS``, with its ledger as
``$JUPYTER_MLOPS_COST_LEDGER``). Spend is read from the server's cost ledger;
each threshold is announced once per period by each kernel (the marks are kept
in the ledger, see :class:`~jupyter_mlops.core.cost.budgets.BudgetMonitor`).
Checked at most every :data:`CHECK_INTERVAL` seconds, after a ``%mlops`` line;
without budgets nothing is imported or read.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_mlops.config import MlopsConfig

__all__ = ["CHECK_INTERVAL", "announce_budgets", "budget_warnings"]

CHECK_INTERVAL = 60.0
_lock = threading.Lock()
_last_check: float | None = None


def _ledger_exists(url: str) -> bool:
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return Path(url[len("sqlite:///") :].split("?", 1)[0]).is_file()
    return True


def budget_warnings(config: MlopsConfig | None = None, *, consumer: str | None = None) -> list[str]:
    """Messages of the budget thresholds reached and not yet announced by this ``consumer``."""
    from jupyter_mlops.config import MlopsConfig, cost_settings

    config = config or MlopsConfig()
    if not config.cost_enabled or not config.cost_budgets:
        return []
    from jupyter_mlops.core.cost.budgets import BudgetMonitor, parse_budgets
    from jupyter_mlops.core.cost.engine import build_pricing
    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.core.tracking.context import kernel_id

    settings = cost_settings(config)  # the ledger beside the store unless one is set
    url = settings.ledger_url
    if url == "memory" or not _ledger_exists(url):
        return []
    currency = build_pricing(settings).currency
    ledger = Ledger(url)
    try:
        who = consumer or f"kernel:{kernel_id() or os.getpid()}"
        monitor = BudgetMonitor(
            parse_budgets(config.cost_budgets), ledger, currency=currency, consumer=who
        )
        return [event.message() for event in monitor.check()]
    finally:
        ledger.close()


def announce_budgets(*, force: bool = False) -> None:
    """Print new budget warnings on stderr (at most one check per :data:`CHECK_INTERVAL`)."""
    global _last_check
    now = time.monotonic()
    with _lock:
        if not force and _last_check is not None and now - _last_check < CHECK_INTERVAL:
            return
        _last_check = now
    try:
        messages = budget_warnings()
    except Exception as exc:  # a warning about money must never break %mlops
        print(f"jupyter-mlops: budgets not checked: {exc}", file=sys.stderr)
        return
    for message in messages:
        print(f"Warning: {message}", file=sys.stderr)
