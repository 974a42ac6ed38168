"""The idle policy's part of the cost ledger: keep-alive marks and the actions taken.

:class:`LedgerPolicy` is a base of :class:`~.ledger.Ledger`. Keep-alives live in
the ledger because both sides can write it: the server (REST, the toast's "Keep
alive" button) and a kernel (``%mlops keep-alive --for 2h``, which finds the
ledger through ``$JUPYTER_MLOPS_COST_LEDGER``). The server's engine reads them.

::

    ledger.keep_alive("k1", until=time.time() + 7200, set_by="ana")
    ledger.keep_alives()                 # {"k1": 1765130000.0}: the ones not expired
    ledger.keep_alive("k1", until=0)     # off
    ledger.record_idle_action({...})     # one row of cost_idle_actions
    ledger.idle_actions(limit=20)        # newest first
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from jupyter_mlops.core.cost.ledger_schema import REPLACE, Schema, upsert
from jupyter_mlops.core.cost.records import LABELS

__all__ = ["ACTION_FIELDS", "LedgerPolicy"]

T = TypeVar("T")

#: The columns of one idle action, in the order :meth:`LedgerPolicy.idle_actions` gives them.
ACTION_FIELDS = (
    "time",
    *LABELS,
    "resource",
    "action",
    "state",
    "burned",
    "avoided_per_hour",
    "currency",
)
_KEEP = {"until": REPLACE["value"], "set_by": REPLACE["value"], "updated": REPLACE["updated"]}


class LedgerPolicy:
    """Keep-alive marks and idle actions over an open ledger (see the module docstring)."""

    _sa: Any
    engine: Any
    schema: Schema
    dialect: str
    clock: Callable[[], float]

    def _retry(self, action: Callable[[], T], attempts: int = 8) -> T:
        raise NotImplementedError  # the Ledger's

    def keep_alive(self, kernel_id: str, until: float, set_by: str = "") -> None:
        """Leave ``kernel_id`` alone until ``until`` (epoch seconds); ``until`` in the past: off."""
        sa, table = self._sa, self.schema.keep_alive
        now = self.clock()
        row = {
            "kernel_id": kernel_id[:255],
            "until": float(until),
            "set_by": set_by[:255],
            "updated": now,
        }

        def run() -> None:
            with self.engine.begin() as conn:
                if until <= now:
                    conn.execute(table.delete().where(table.c.kernel_id == row["kernel_id"]))
                else:
                    upsert(sa, conn, self.dialect, table, ["kernel_id"], [row], _KEEP)

        self._retry(run)

    def keep_alives(self, now: float | None = None) -> dict[str, float]:
        """Kernel id -> until, for the keep-alives that have not expired."""
        sa, t = self._sa, self.schema.keep_alive
        now = self.clock() if now is None else now
        stmt = sa.select(t.c.kernel_id, t.c.until).where(t.c.until > now)
        with self.engine.connect() as conn:
            return {str(k): float(u) for k, u in conn.execute(stmt)}

    def record_idle_action(self, action: Mapping[str, Any]) -> None:
        """One row of ``cost_idle_actions`` (the keys of :data:`ACTION_FIELDS`; ``time`` defaults to now)."""
        table = self.schema.idle_actions
        row: dict[str, Any] = {n: str(action.get(n, ""))[:255] for n in LABELS}
        row["notebook"] = str(action.get("notebook", ""))[:1024]
        for name in ("resource", "action", "state", "currency"):
            row[name] = str(action.get(name, ""))[:16]
        row["burned"] = float(action.get("burned") or 0.0)
        row["avoided_per_hour"] = float(action.get("avoided_per_hour") or 0.0)
        row["time"] = float(action.get("time") or self.clock())

        def run() -> None:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values(row))

        self._retry(run)

    def idle_actions(self, limit: int = 20, since: float | None = None) -> list[dict[str, Any]]:
        """The newest idle actions first (at most ``limit``), optionally since an epoch time."""
        sa, t = self._sa, self.schema.idle_actions
        stmt = sa.select(*(t.c[n] for n in ACTION_FIELDS)).order_by(t.c.id.desc()).limit(limit)
        if since is not None:
            stmt = stmt.where(t.c.time >= since)
        with self.engine.connect() as conn:
            return [dict(zip(ACTION_FIELDS, row, strict=True)) for row in conn.execute(stmt)]
