"""Cost over time from the ledger: what the Cost view's chart draws, the same after a reload.

::

    history(ledger, "24h", "notebook")
    # {"range": "24h", "by": "notebook", "step": 600, "since": ..., "until": ...,
    #  "currency": "USD", "buckets": [t0, t0 + 600, ...],
    #  "series": [{"key": "a.ipynb", "values": [0.012, ...], "total": 1.2,
    #              "used": 0.4}, ...], "total": 1.9, "used": 0.7}

``range`` is one of :data:`RANGES` and sets the bucket (``step``): 1 h in
minutes, 24 h in 10 minutes, 7 d in hours, 30 d in 4 hours. Buckets start on
multiples of ``step`` (UTC) from the one holding ``now - range`` up to the one
holding ``now``; every series has a value (allocated cost) for every bucket of
``buckets``, in that order, zero where nothing was booked (one list of numbers per
series: the chart's 30 days of 20 notebooks is 3,600 numbers, not 3,600 pairs). Series come most expensive first; past
``limit`` the rest are summed into one ``(other)`` series. The ledger answers
from its rollup tables (:meth:`~.ledger_read.LedgerReads.series`: 24 h from the
10-minute, 7 d from the hourly, 30 d from the 4-hour rollup), so 30 days of
per-minute rows of 20 kernels is a few thousand rows, not 864,000
(``bench/bench_cost_history.py``).
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.cost.ledger_groups import ALIASES, parse_groups
from jupyter_mlops.exceptions import InvalidValueError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.ledger_read import LedgerReads

__all__ = ["BY", "OTHER", "RANGES", "history"]

#: range -> (seconds covered, seconds per bucket)
RANGES = {
    "1h": (3600, 60),
    "24h": (86400, 600),
    "7d": (7 * 86400, 3600),
    "30d": (30 * 86400, 14400),
}
BY = ("notebook", "project", "user", "kernel", "run")
OTHER = "(other)"


def history(
    ledger: LedgerReads,
    range: str = "1h",  # the REST parameter's name (shadows the builtin here)
    by: str = "notebook",
    *,
    now: float | None = None,
    labels: Mapping[str, str] | None = None,
    limit: int | None = 20,
) -> dict[str, Any]:
    """Allocated cost per ``by`` group and bucket over the last ``range``; JSON-ready.

    ``by``: one of :data:`BY` or ``tag:KEY`` (a run's tag; rows without it are
    ``(none)``); ``labels`` filters (``{"project": "p"}``).
    """
    if range not in RANGES:
        raise InvalidValueError(
            f"unknown history range {range!r}", hint=f"use one of: {', '.join(RANGES)}"
        )
    groups = parse_groups(by, allowed=[ALIASES.get(b, b) for b in BY])
    span, step = RANGES[range]
    until = time.time() if now is None else now
    since = int((until - span) // step * step)
    rows = ledger.series(groups, step, since=since, until=until, labels=labels)

    buckets = list(_buckets(since, until, step))
    index = {b: i for i, b in enumerate(buckets)}
    values: dict[str, list[float]] = {}
    used: dict[str, float] = {}
    currencies: set[str] = set()
    empty = [0.0] * len(buckets)
    for row in rows:
        i = index.get(row.bucket)
        if i is None:
            continue
        points = values.get(row.key)
        if points is None:
            points = values[row.key] = empty.copy()
            used[row.key] = 0.0
        points[i] += row.allocated
        used[row.key] += row.used
        currencies.add(row.currency)
    order = sorted(values, key=lambda k: (-sum(values[k]), k))
    if limit is not None and len(order) > limit:
        rest, order = order[limit - 1 :], order[: limit - 1]
        values[OTHER] = [sum(column) for column in zip(*(values[k] for k in rest), strict=True)]
        used[OTHER] = sum(used[k] for k in rest)
        order.append(OTHER)
    series = [
        {
            "key": key,
            "values": values[key],
            "total": sum(values[key]),
            "used": used[key],
        }
        for key in order
    ]
    return {
        "range": range,
        "by": ",".join(groups) if len(groups) > 1 else by.strip(),
        "step": step,
        "since": since,
        "until": until,
        "currency": currencies.pop()
        if len(currencies) == 1
        else ("mixed" if currencies else "USD"),
        "buckets": buckets,
        "series": series,
        "total": sum(s["total"] for s in series),
        "used": sum(s["used"] for s in series),
    }


def _buckets(since: int, until: float, step: int) -> builtins.range:
    return builtins.range(since, int(until // step * step) + 1, step)
