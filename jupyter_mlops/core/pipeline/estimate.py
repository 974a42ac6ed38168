"""What a run will cost, before it runs: the median of a notebook's last runs, times N.

::

    estimate = estimate_plan(client, plan, currency="USD")
    estimate.total          # 3.4, or None when a notebook has no history
    estimate.message()      # 'about $3.40: 20 executions x median $0.17 of the last 10
                            #  runs of train.ipynb'
                            # 'no history for train.ipynb: no estimate'

For each notebook of the plan (``mlops.notebook``, the path relative to the
root, as every execution and tracked notebook run is tagged), the allocated
cost (``cost_usd``, or ``cost_<currency>``) of its last :data:`HISTORY` ended
runs in the tracking store (FINISHED, FAILED or KILLED, newest first by start;
cache hits left out: they executed nothing), and their median. A pipeline sums
its notebooks: ``executions of that notebook x its median``. The median, not
the mean: one run that hung for hours does not make every estimate an hour.
Nothing is written; a store that fails gives no estimate, not an error.
"""

from __future__ import annotations

import logging
import os
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.cost.money import format_money

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from jupyter_mlops.core.pipeline.plan import RunPlan

__all__ = ["HISTORY", "CostEstimate", "NotebookCost", "estimate_plan", "notebook_costs"]

HISTORY = 10
"""How many of a notebook's last ended runs the median is taken of."""
_ENDED = ("FINISHED", "FAILED", "KILLED")
_PAGE = 50  # runs read per notebook: the last HISTORY that are no cache hits are among them
_log = logging.getLogger("jupyter_mlops.pipeline")


@dataclass(frozen=True)
class NotebookCost:
    """One notebook of an estimate: how often it runs and what its last runs cost."""

    notebook: str
    executions: int
    costs: tuple[float, ...]
    """The allocated cost of its last runs (at most :data:`HISTORY`), newest first."""

    @property
    def median(self) -> float | None:
        return statistics.median(self.costs) if self.costs else None

    @property
    def total(self) -> float | None:
        median = self.median
        return None if median is None else median * self.executions


@dataclass(frozen=True)
class CostEstimate:
    """What a plan's executions will cost; ``total`` is None when some notebook has no history."""

    parts: tuple[NotebookCost, ...]
    currency: str = "USD"

    @property
    def total(self) -> float | None:
        totals = [part.total for part in self.parts]
        if not totals or any(t is None for t in totals):
            return None
        return sum(t for t in totals if t is not None)

    def message(self) -> str:
        """One sentence: the figure and how it was made, or which notebook has no history."""
        missing = [p.notebook for p in self.parts if not p.costs]
        if missing or not self.parts:
            return f"no history for {', '.join(missing) or 'this run'}: no estimate"
        money = format_money(self.total or 0.0, self.currency)
        how = " + ".join(self._part(p) for p in self.parts)
        return f"about {money}: {how}"

    def _part(self, part: NotebookCost) -> str:
        runs = len(part.costs)
        last = f"the last {runs} runs" if runs > 1 else "the last run"
        noun = "execution" if part.executions == 1 else "executions"
        median = format_money(part.median or 0.0, self.currency)
        return f"{part.executions} {noun} x median {median} of {last} of {part.notebook}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "currency": self.currency,
            "message": self.message(),
            "parts": [
                {
                    "notebook": p.notebook,
                    "executions": p.executions,
                    "median": p.median,
                    "runs": len(p.costs),
                }
                for p in self.parts
            ],
        }


def _quoted(value: str) -> str | None:
    """``value`` as a literal of MLflow's filter grammar; None when it cannot be one."""
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    return None


def notebook_costs(
    client: MlflowClient, notebook: str, currency: str = "USD", limit: int = HISTORY
) -> tuple[float, ...]:
    """The allocated cost of ``notebook``'s last ``limit`` ended runs (newest first)."""
    from jupyter_mlops.core.tracking.query import experiment_ids_or_all

    literal = _quoted(notebook)
    ids = experiment_ids_or_all(client, None)
    if literal is None or not ids:
        return ()
    metric = f"cost_{currency.lower()}"
    page = client.search_runs(
        ids,
        filter_string=f"tags.{mlops_tags.NOTEBOOK} = {literal} and attributes.status != 'RUNNING'",
        max_results=_PAGE,
        order_by=["attributes.start_time DESC"],
    )
    costs = []
    for run in page:
        value = run.data.metrics.get(metric)
        if value is None or value < 0 or run.info.status not in _ENDED:
            continue
        if mlops_tags.PIPELINE_CACHE_HIT in run.data.tags:
            continue
        costs.append(float(value))
        if len(costs) == limit:
            break
    return tuple(costs)


def estimate_plan(client: MlflowClient, plan: RunPlan, currency: str = "USD") -> CostEstimate:
    """The estimate of ``plan``'s executions (see the module doc); never raises for the store."""
    counts = Counter(
        e.env.get("JUPYTER_MLOPS_NOTEBOOK") or os.path.relpath(e.notebook, plan.root)
        for e in plan.executions
    )
    parts = []
    for notebook, executions in counts.items():
        try:
            costs = notebook_costs(client, notebook, currency)
        except Exception as exc:  # an estimate is advice: no history rather than no run
            _log.warning("jupyter-mlops: no cost history of %s: %s", notebook, exc)
            costs = ()
        parts.append(NotebookCost(notebook, executions, costs))
    return CostEstimate(tuple(parts), currency)
