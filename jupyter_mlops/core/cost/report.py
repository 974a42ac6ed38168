"""Cost reports from the ledger: grouped by project, notebook, user, kernel, run, day or week.

::

    report = build_report(ledger, by="project", since="7d")
    print(render_report(report, "table"))      # or "csv", "json"

``since`` / ``until`` take ``7d``, ``24h``, ``30m``, ``2w``, an ISO date
(``2026-11-01``, UTC midnight) or datetime, or epoch seconds. Days and weeks
(from Monday) are UTC. Label groups come most expensive first, time groups in
order; an empty label shows as ``(none)``. Every row has the allocated cost,
the used cost, the waste (their difference), and the quantities in hours and
kWh. What the CLI ``jupyter mlops cost report`` prints is exactly this.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.cost.pricing import HOUR, J_PER_KWH
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import InvalidValueError, UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.ledger import Ledger

__all__ = ["BY", "FORMATS", "Report", "ReportRow", "build_report", "parse_time", "render_report"]

BY = ("project", "notebook", "user", "kernel", "run", "day", "week")
FORMATS = ("table", "csv", "json")
_BY_COLUMN = {"kernel": "kernel_id", "run": "run_id"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
COLUMNS = (
    "cost",
    "used_cost",
    "waste",
    "cpu_core_hours",
    "ram_gb_hours",
    "gpu_hours",
    "gpu_mem_gb_hours",
    "energy_kwh",
    "hours",
)


def parse_time(value: str | float | int | None, *, now: float | None = None) -> float | None:
    """Epoch seconds for ``7d`` (ago), an ISO date/datetime (UTC if naive), or a number."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    now = time.time() if now is None else now
    match = _DURATION.match(value)
    if match:
        return now - float(match.group(1)) * _UNIT[match.group(2)]
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValueError(
            f"cannot read {value!r} as a time",
            hint="use 7d, 24h, 30m, 2w, or a date like 2026-11-01",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


@dataclass(frozen=True)
class ReportRow:
    key: str
    totals: Totals

    def values(self) -> dict[str, float]:
        t = self.totals
        return {
            "cost": t.cost_allocated,
            "used_cost": t.cost_used,
            "waste": t.cost_waste,
            "cpu_core_hours": t.cpu_core_seconds / HOUR,
            "ram_gb_hours": t.ram_gb_seconds / HOUR,
            "gpu_hours": t.gpu_seconds / HOUR,
            "gpu_mem_gb_hours": t.gpu_mem_gb_seconds / HOUR,
            "energy_kwh": t.energy_j / J_PER_KWH,
            "hours": t.wall_seconds / HOUR,
        }


@dataclass(frozen=True)
class Report:
    by: str
    since: float | None
    until: float | None
    currency: str
    rows: tuple[ReportRow, ...]

    @property
    def total(self) -> ReportRow:
        out = Totals()
        for row in self.rows:
            out.merge(row.totals)
        return ReportRow("total", out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "since": _iso(self.since),
            "until": _iso(self.until),
            "currency": self.currency,
            "rows": [{self.by: r.key, **r.values()} for r in self.rows],
            "total": self.total.values(),
        }


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).isoformat(timespec="seconds")


def _bucket_name(by: str, start: int) -> str:
    day = dt.datetime.fromtimestamp(start, tz=dt.timezone.utc).date()
    if by == "day":
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def build_report(
    ledger: Ledger,
    by: str = "project",
    since: str | float | None = "7d",
    until: str | float | None = None,
    *,
    now: float | None = None,
    currency: str | None = None,
    **labels: str,
) -> Report:
    """Ledger totals grouped ``by`` one of :data:`BY` over ``[since, until)``, filtered by ``labels``."""
    if by not in BY:
        raise UsageError(f"cannot report by {by!r}", hint=f"use one of: {', '.join(BY)}")
    start = parse_time(since, now=now)
    end = parse_time(until, now=now)
    column = _BY_COLUMN.get(by, by)
    groups = ledger.grouped(column, since=start, until=end, **labels)
    rows = []
    for key, totals in groups:
        name = _bucket_name(by, int(key)) if by in ("day", "week") else (str(key) or "(none)")
        rows.append(ReportRow(name, totals))
    if by not in ("day", "week"):
        rows.sort(key=lambda r: (-r.totals.cost_allocated, r.key))
    if currency is None:
        found = ledger.currencies()
        currency = found.pop() if len(found) == 1 else ("mixed" if found else "USD")
    return Report(by=by, since=start, until=end, currency=currency, rows=tuple(rows))


def render_report(report: Report, fmt: str = "table") -> str:
    """``table`` (aligned text with a total line), ``csv`` (header + rows) or ``json``."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([report.by, *COLUMNS, "currency"])
        for row in report.rows:
            values = row.values()
            writer.writerow([row.key, *(f"{values[c]:.6g}" for c in COLUMNS), report.currency])
        return buf.getvalue()
    if fmt != "table":
        raise UsageError(f"unknown report format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    header = [report.by, *COLUMNS]
    lines = [header]
    for row in (*report.rows, report.total):
        values = row.values()
        money = [f"{values[c]:.2f}" for c in ("cost", "used_cost", "waste")]
        rest = [f"{values[c]:.3f}" for c in COLUMNS[3:]]
        lines.append([row.key, *money, *rest])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        if n == len(lines) - 1:
            out.append("  ".join("-" * w for w in widths))
        out.append("  ".join(cells).rstrip())
    since = _iso(report.since) or "the beginning"
    out.append(f"({report.currency}; since {since}; days and weeks in UTC)")
    return "\n".join(out)
