"""The record of one pipeline launch that a :class:`~.launches.LaunchRegistry` keeps.

:class:`Launch` is what the REST routes read (``to_dict()``: the ``Launch`` object of
``api/openapi.yaml``); each execution is a plain dict (status, reason, attempt, cache
hit, live progress and cost, and once it ended, its own metrics).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.pipeline.model import PENDING
from jupyter_mlops.core.serial import fields_dict

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.model import Execution

__all__ = ["Launch", "execution_entry", "user_metrics"]


@dataclass
class Launch:
    """One pipeline run started by this server; read it with :meth:`LaunchRegistry.get`."""

    id: str
    path: str
    name: str
    executions: list[dict[str, Any]]
    status: str = PENDING
    run_id: str | None = None
    experiment_id: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None
    error: str | None = None
    max_cost: float | None = None
    estimate: dict[str, Any] | None = None
    """With ``max_cost``: :meth:`~.estimate.CostEstimate.to_dict` of the launch, made before it."""
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``Launch`` object of the REST contract."""
        out = fields_dict(
            self, "id path name status run_id experiment_id started ended error max_cost estimate"
        )
        out["executions"] = [dict(e) for e in self.executions]
        return out


def execution_entry(execution: Execution) -> dict[str, Any]:
    """The REST record of ``execution`` before it starts (``PENDING``)."""
    return {
        "index": execution.index,
        "trial": execution.trial,
        "step": execution.step,
        "parameters": dict(execution.parameters),
        "status": PENDING,
        "reason": None,
        "error": None,
        "run_id": execution.run_id,
        "output": None,
        "duration": None,
        "attempt": execution.attempt,
        "cache_hit": None,
        "progress": None,
        "metrics": {},
    }


def user_metrics(metrics: dict[str, float]) -> dict[str, float | None]:
    """An ended execution's own metrics (not cost or ``system/*``); NaN and inf: None."""
    from jupyter_mlops.core.pipeline.cache import reusable_metrics

    return {k: v if math.isfinite(v) else None for k, v in reusable_metrics(metrics).items()}
