"""The read side of the cost ledger: totals, groupings and time series.

:class:`LedgerReads` is the base of :class:`~.ledger.Ledger`; every query is
SQLAlchemy Core over the ledger's :class:`~.ledger_schema.Schema`.
:meth:`LedgerReads.series` reads the coarsest rollup that fits the step asked
for, so a month of per-minute history costs a few thousand rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from jupyter_mlops.core.cost.ledger_groups import group_columns, group_value, parse_groups
from jupyter_mlops.core.cost.ledger_schema import Schema
from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.core.cost.totals import MEASURES, PEAKS, Totals

__all__ = ["LedgerReads", "SeriesRow"]


class SeriesRow(NamedTuple):
    """One group's cost in one time bucket (:meth:`LedgerReads.series`)."""

    key: str
    bucket: int
    allocated: float
    used: float
    currency: str  # "mixed" where the bucket's rows are in several


class LedgerReads:
    """Queries over an open ledger (``engine``, ``schema``); see :class:`~.ledger.Ledger`."""

    _sa: Any
    engine: Any
    schema: Schema
    minutes: Any

    def run_tags(self, run_id: str) -> dict[str, str]:
        """The tags kept for ``run_id`` by :meth:`tag_run`."""
        sa, t = self._sa, self.schema.tags
        stmt = sa.select(t.c.key, t.c.value).where(t.c.run_id == run_id)
        with self.engine.connect() as conn:
            return {str(k): str(v) for k, v in conn.execute(stmt)}

    # -- reading ------------------------------------------------------------------

    def _where(
        self,
        since: float | None,
        until: float | None,
        labels: Mapping[str, str],
        table: Any = None,
        time_column: str = "minute",
    ) -> Any:
        t = self.minutes if table is None else table
        clauses = []
        if since is not None:
            clauses.append(t.c[time_column] >= int(since // 60 * 60))
        if until is not None:
            clauses.append(t.c[time_column] < int(until))
        for name, value in labels.items():
            if name not in LABELS:
                raise ValueError(f"unknown label {name!r}; known: {', '.join(LABELS)}")
            clauses.append(t.c[name] == value)
        return self._sa.and_(self._sa.true(), *clauses)

    def _aggregates(self, table: Any = None) -> list[Any]:
        sa = self._sa
        t = self.minutes if table is None else table
        sums = [sa.func.coalesce(sa.func.sum(t.c[n]), 0.0).label(n) for n in MEASURES]
        return sums + [sa.func.coalesce(sa.func.max(t.c[n]), 0).label(n) for n in PEAKS]

    @staticmethod
    def _totals(row: Any) -> Totals:
        data = row._mapping
        return Totals(
            **{n: float(data[n] or 0.0) for n in MEASURES},
            peak_rss_bytes=int(data["peak_rss_bytes"] or 0),
            peak_gpu_mem_bytes=int(data["peak_gpu_mem_bytes"] or 0),
            peak_cpu_percent=float(data["peak_cpu_percent"] or 0.0),
        )

    def totals(
        self, *, since: float | None = None, until: float | None = None, **labels: str
    ) -> Totals:
        """Everything booked matching ``labels`` (``kernel_id="..."``, ``project=...``) in the window."""
        return self.totals_where(labels, since=since, until=until)

    def totals_where(
        self, labels: Mapping[str, str], *, since: float | None = None, until: float | None = None
    ) -> Totals:
        """:meth:`totals` with the labels as a mapping."""
        stmt = self._sa.select(*self._aggregates()).where(self._where(since, until, labels))
        with self.engine.connect() as conn:
            return self._totals(conn.execute(stmt).one())

    def grouped(
        self,
        by: str | Sequence[str],
        *,
        since: float | None = None,
        until: float | None = None,
        **labels: str,
    ) -> list[tuple[Any, Totals]]:
        """Totals per group, in group order.

        ``by``: a label (``project``, ``kernel``/``kernel_id``, ``run``/``run_id``,
        ``notebook``, ``user``), ``tag:KEY`` (the run's tag), or the UTC ``day`` /
        ``week`` / ``minute`` start; several as a comma list or sequence
        (``"project,tag:epic"``). One grouping: each key is its value; several: a
        tuple of values. Time groups are epoch ints; a missing value (no tag, no
        run, an empty label) is ``"(none)"``.
        """
        groups = parse_groups(by)
        sa, t = self._sa, self.minutes
        columns, source = group_columns(sa, t, "minute", self.schema.tags, groups)
        stmt = (
            sa.select(*columns, *self._aggregates())
            .select_from(source)
            .where(self._where(since, until, labels))
            .group_by(*columns)
            .order_by(*columns)
        )
        with self.engine.connect() as conn:
            result = conn.execute(stmt).all()
        out: list[tuple[Any, Totals]] = []
        for row in result:
            keys = tuple(group_value(g, row[n]) for n, g in enumerate(groups))
            out.append((keys[0] if len(keys) == 1 else keys, self._totals(row)))
        return out

    def series(
        self,
        by: str | Sequence[str],
        step: int,
        *,
        since: float,
        until: float | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[SeriesRow]:
        """Allocated and used cost per group and ``step``-second bucket, from ``since``.

        Reads the coarsest table whose bucket divides ``step`` (the minutes, the
        10-minute, hourly or 4-hour rollup), so a month of history is a few
        thousand rows. ``since`` is rounded down to a multiple of ``step``. Several
        groupings give one key joined with `` · ``.
        """
        groups = parse_groups(by)
        sa = self._sa
        table, time_column = self.minutes, "minute"
        for size, rollup in self.schema.rollups:
            if step % size == 0:
                table, time_column = rollup, "bucket"
        start = int(since // step * step)
        columns, source = group_columns(sa, table, time_column, self.schema.tags, groups)
        when = table.c[time_column]
        bucket = (when - when % step).label("bucket")
        t = table.c
        stmt = (
            sa.select(
                *columns,
                bucket,
                sa.func.sum(t.cost_allocated),
                sa.func.sum(t.cost_used),
                sa.func.min(t.currency),
                sa.func.max(t.currency),
            )
            .select_from(source)
            .where(self._where(start, until, labels or {}, table, time_column))
            .group_by(*columns, bucket)
        )
        with self.engine.connect() as conn:
            result = conn.execute(stmt).all()
        n = len(groups)
        names: dict[Any, str] = {}  # each group's name is made once, not once per bucket

        def name(values: Any) -> str:
            key = names.get(values)
            if key is None:
                parts = values if n > 1 else (values,)
                key = " · ".join(str(group_value(g, v)) for g, v in zip(groups, parts, strict=True))
                names[values] = key
            return key

        return [
            SeriesRow(
                name(row[0] if n == 1 else tuple(row[:n])),
                int(row[n]),
                row[n + 1] or 0.0,
                row[n + 2] or 0.0,
                str(row[n + 4]) if row[n + 3] == row[n + 4] else "mixed",
            )
            for row in result
        ]

    def labels(self, **labels: str) -> list[dict[str, str]]:
        """The distinct label sets booked matching ``labels`` (e.g. every kernel of a project)."""
        sa, t = self._sa, self.minutes
        stmt = (
            sa.select(*(t.c[n] for n in LABELS)).where(self._where(None, None, labels)).distinct()
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def currencies(self) -> set[str]:
        sa, t = self._sa, self.minutes
        with self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(sa.select(t.c.currency).distinct())}
