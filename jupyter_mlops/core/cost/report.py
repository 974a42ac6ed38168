"""Cost reports from the ledger: grouped by project, notebook, user, kernel, run, tag, day or week.

::

    report = build_report(ledger, by="project,tag:epic", since="7d")
    print(render_report(report, "table"))      # or "csv", "json"

``by`` is one grouping or a comma list of them (a row per combination);
``tag:KEY`` groups by a run's tag (``tag:epic``: cost per ticket), rows of no run
or of a run without that tag under ``(none)``.

``since`` / ``until`` take ``7d``, ``24h``, ``30m``, ``2w``, an ISO date
(``2026-11-01``, UTC midnight) or datetime, or epoch seconds. Days and weeks
(from Monday) are UTC. Label groups come most expensive first, time groups in
order; an empty label shows as ``(none)``. Every row has the allocated cost,
the used cost, the waste (their difference), the quantities in hours and
kWh, and ``co2e_g``: the energy times one grid intensity (``carbon``, default
the world average; :mod:`.carbon`), the same for every row. The table shows money in the one money format (:func:`~.money.format_money`);
CSV and JSON keep every digit. What the CLI ``jupyter mlops cost report``
prints is exactly this.
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

from jupyter_mlops.core.cost.carbon import CarbonIntensity, world_average
from jupyter_mlops.core.cost.ledger_groups import ALIASES, NAMES, parse_groups
from jupyter_mlops.core.cost.money import format_money
from jupyter_mlops.core.cost.pricing import HOUR, J_PER_KWH
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import InvalidValueError, UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.ledger import Ledger

__all__ = [
    "BY",
    "FORMATS",
    "Report",
    "ReportRow",
    "build_report",
    "parse_by",
    "parse_time",
    "render_report",
]

#: the groupings besides ``tag:KEY``
BY = ("project", "notebook", "user", "kernel", "run", "day", "week")
FORMATS = ("table", "csv", "json")
_TIME = ("day", "week")
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
    "co2e_g",
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
    """One group (``keys``: its value for each grouping, in order), its totals, gCO2e per kWh."""

    keys: tuple[str, ...]
    totals: Totals
    g_per_kwh: float = 0.0

    @property
    def key(self) -> str:
        return " / ".join(self.keys)

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
            "co2e_g": t.energy_j / J_PER_KWH * self.g_per_kwh,
            "hours": t.wall_seconds / HOUR,
        }


@dataclass(frozen=True)
class Report:
    """``groups``: the groupings (``("project", "tag:epic")``); ``by``: them joined by commas."""

    groups: tuple[str, ...]
    since: float | None
    until: float | None
    currency: str
    rows: tuple[ReportRow, ...]
    carbon: CarbonIntensity | None = None

    @property
    def total(self) -> ReportRow:
        out = Totals()
        for row in self.rows:
            out.merge(row.totals)
        return ReportRow(("total",), out, self.intensity.g_per_kwh)

    @property
    def intensity(self) -> CarbonIntensity:
        """``carbon``, or the world average when none was given."""
        return self.carbon or world_average()

    @property
    def by(self) -> str:
        return ",".join(self.groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "groups": list(self.groups),
            "since": _iso(self.since),
            "until": _iso(self.until),
            "currency": self.currency,
            "rows": [
                {**dict(zip(self.groups, r.keys, strict=True)), **r.values()} for r in self.rows
            ],
            "total": self.total.values(),
            "carbon": self.intensity.to_dict(),
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
    carbon: CarbonIntensity | None = None,
    **labels: str,
) -> Report:
    """Ledger totals grouped ``by`` (see the module doc) over ``[since, until)``, filtered by ``labels``.

    ``carbon``: the grid intensity of ``co2e_g`` (default: the world average).
    """
    carbon = carbon or world_average()
    columns = parse_by(by)
    groups = tuple(NAMES.get(c, c) for c in columns)
    start = parse_time(since, now=now)
    end = parse_time(until, now=now)
    found = ledger.grouped(columns, since=start, until=end, **labels)
    rows = []
    for key, totals in found:
        keys = key if isinstance(key, tuple) else (key,)
        names = tuple(
            _bucket_name(g, int(k)) if g in _TIME else str(k)
            for g, k in zip(groups, keys, strict=True)
        )
        rows.append(ReportRow(names, totals, carbon.g_per_kwh))
    if not any(g in _TIME for g in groups):
        rows.sort(key=lambda r: (-r.totals.cost_allocated, r.keys))
    if currency is None:
        seen = ledger.currencies()
        currency = seen.pop() if len(seen) == 1 else ("mixed" if seen else "USD")
    return Report(
        groups=groups, since=start, until=end, currency=currency, rows=tuple(rows), carbon=carbon
    )


def parse_by(by: str) -> tuple[str, ...]:
    """The ledger groupings of a report's ``by`` (a :class:`UsageError` with a hint if bad)."""
    return parse_groups(by, allowed=[ALIASES.get(b, b) for b in BY])


def render_report(report: Report, fmt: str = "table") -> str:
    """``table`` (aligned text with a total line), ``csv`` (header + rows) or ``json``.

    The table rounds money for reading; CSV and JSON carry the exact figures.
    """
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([*report.groups, *COLUMNS, "currency"])
        for row in report.rows:
            values = row.values()
            writer.writerow([*row.keys, *(repr(values[c]) for c in COLUMNS), report.currency])
        return buf.getvalue()
    if fmt != "table":
        raise UsageError(f"unknown report format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    width = len(report.groups)
    header = [*report.groups, *COLUMNS]
    lines = [header]
    total = report.total
    for row in (*report.rows, total):
        values = row.values()
        money = [format_money(values[c], report.currency) for c in ("cost", "used_cost", "waste")]
        rest = [f"{values[c]:.1f}" if c == "co2e_g" else f"{values[c]:.3f}" for c in COLUMNS[3:]]
        keys = [*row.keys, *[""] * (width - len(row.keys))]
        lines.append([*keys, *money, *rest])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [c.ljust(w) for c, w in zip(line[:width], widths, strict=False)] + [
            c.rjust(w) for c, w in zip(line[width:], widths[width:], strict=True)
        ]
        if n == len(lines) - 1:
            out.append("  ".join("-" * w for w in widths))
        out.append("  ".join(cells).rstrip())
    since = _iso(report.since) or "the beginning"
    out.append(
        f"({report.currency}; since {since}; days and weeks in UTC; "
        f"co2e_g: energy x {report.intensity.label()})"
    )
    return "\n".join(out)
