"""A tracker's state for its active run (:class:`RunState`) and the runs it is nested in.

:class:`TrackerBase` is the root of :class:`~jupyter_mlops.core.tracking.tracker.Tracker`:
it holds the configuration every part reads, the active run's :class:`RunState`
and the stack of parent states (a nested run sets its parent's state aside and
gives it back when it ends), and makes a run MLflow's active run in a thread.
The parts build on it, one subject each: ``run_logging`` (the hot path),
``run_hooks`` (environment, cost, artifacts, report), ``run_start`` (creating,
adopting and attaching runs) and ``tracker`` (start, end, flush, close).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.core.models import RunInfo
from jupyter_mlops.core.tracking import fluent
from jupyter_mlops.exceptions import RunStateError

if TYPE_CHECKING:
    from jupyter_mlops.core.artifacts.queue import ArtifactQueue
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.cost.run_cost import RunCost
    from jupyter_mlops.core.environment.run_record import EnvironmentJob
    from jupyter_mlops.core.tracking.spool import Spool

__all__ = ["RunState", "TrackerBase", "no_run"]

_log = logging.getLogger("jupyter_mlops.tracking")


@dataclass
class RunState:
    """Everything a tracker keeps about one run (an empty state: no active run)."""

    active: RunInfo | None = None
    spool: Spool | None = None
    params: dict[str, str] = field(default_factory=dict)
    metric_keys: set[str] = field(default_factory=set)
    env_job: EnvironmentJob | None = None
    run_cost: RunCost | None = None
    attached: bool = False
    """The run is a pipeline execution's (:mod:`.attach`): its status is the executor's."""
    pushed: int | None = None
    """The thread whose MLflow run stack holds the run."""
    provisional: bool = False
    """The run was adopted by a log call, not a start (a start completes the adoption)."""
    artifacts: ArtifactQueue | None = None
    """The run's artifact queue, made on first use."""
    tags: dict[str, str] = field(default_factory=dict)
    """The tags this tracker put on the run (its cost is booked under them)."""


def no_run() -> RunStateError:
    """The error of a call that needs an active run when there is none."""
    return RunStateError(
        "No active run.",
        hint="start one with %mlops start or jupyter_mlops.start_run()",
    )


class TrackerBase:
    """Configuration, the active run's state and its parents; see the module docstring."""

    tracking_uri: str
    spool_dir: Path
    flush_interval: float
    project: str | None
    pricing: Callable[[], PricingModel] | None
    cost_interval: float
    cost_ledger_url: str

    def _init_state(self) -> None:
        self._lock = threading.RLock()
        _trackers.add(self)
        self._run = RunState()
        self._parents: list[RunState] = []  # runs the active (nested) run is nested in
        self._closed = False

    @property
    def _spool(self) -> Spool | None:
        """The active run's spool, or None."""
        return self._run.spool

    @property
    def provisional(self) -> bool:
        """Whether the active run was adopted by a log call (a start completes the adoption)."""
        return self._run.provisional

    def _push_frame(self) -> None:
        """Set the active run's state aside (a run starts, nested or not); with the lock."""
        if self._run.active is None or self._run.spool is None:
            return
        self._parents.append(self._run)
        self._run = RunState()

    def _pop_frame(self) -> None:
        """The active run is over: its parent (if any) is active again; with the lock."""
        self._run = self._parents.pop() if self._parents else RunState()

    def _push_to_mlflow(self, info: RunInfo, *, nested: bool) -> None:
        """Make the active run MLflow's active run in this thread (a warning if MLflow refuses)."""
        try:
            fluent.push(info.run_id, info.experiment_id, info.tracking_uri, nested=nested)
        except Exception as exc:
            _log.warning(
                "jupyter-mlops: run %s is not MLflow's active run (mlflow.* calls go elsewhere): %s",
                info.run_id,
                exc,
            )
            return
        self._run.pushed = threading.get_ident()

    def _auto_attach(self) -> Spool:
        """The active spool, attaching or adopting a run if there is none (``run_start``)."""
        raise NotImplementedError

    def _require_spool(self) -> Spool:
        spool = self._run.spool
        return spool if spool is not None else self._auto_attach()


_trackers: weakref.WeakSet[TrackerBase] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child has one thread: a tracker lock that another thread of the parent
    held at the fork (the cost meter logging a point, a flush) would never be released."""
    for tracker in list(_trackers):
        tracker._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
