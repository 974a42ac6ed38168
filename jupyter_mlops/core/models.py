"""Value types shared by tracking, pipelines and the server: a run's identity and MLflow's statuses.

Plain data only: nothing here imports MLflow or any other part of the package, so
every module may import it (it is how ``tracker``, ``attach`` and ``adopt`` share
:class:`RunInfo` without importing each other).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "FAILED",
    "FINISHED",
    "KILLED",
    "RUNNING",
    "RUN_STATUSES",
    "SCHEDULED",
    "TERMINAL_STATUSES",
    "RunInfo",
]

RUNNING: Final = "RUNNING"
SCHEDULED: Final = "SCHEDULED"
FINISHED: Final = "FINISHED"
FAILED: Final = "FAILED"
KILLED: Final = "KILLED"

TERMINAL_STATUSES = (FINISHED, FAILED, KILLED)
"""The statuses a run ends with (``end_run``'s choices)."""
RUN_STATUSES = (RUNNING, FINISHED, FAILED, KILLED, SCHEDULED)
"""Every MLflow run status (the run list's filter choices)."""


@dataclass(frozen=True)
class RunInfo:
    """The identity of a run started (or adopted, or attached to) by a tracker."""

    run_id: str
    experiment_id: str
    experiment_name: str
    run_name: str
    tracking_uri: str
    start_time: int

    @classmethod
    def of(cls, run: Any, experiment: Any, tracking_uri: str) -> RunInfo:
        """The identity of an existing MLflow ``run`` of ``experiment``."""
        return cls(
            run_id=str(run.info.run_id),
            experiment_id=str(run.info.experiment_id),
            experiment_name=str(experiment.name),
            run_name=run.info.run_name or "",
            tracking_uri=tracking_uri,
            start_time=int(run.info.start_time),
        )
