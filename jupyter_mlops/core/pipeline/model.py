"""What a pipeline run is made of: executions, their results, progress events.

::

    plan = plan_run("pipelines/breast-cancer", root=".", grid={"train.learning_rate": [0.1, 0.3]})
    result = run_plan(plan, workers=2, on_event=print)   # PipelineResult
    result.status                                        # FINISHED | FAILED | KILLED

An :class:`Execution` is one notebook executed once: one step of one
parameter set (a *trial*). It is plain data (picklable, JSON-able), so it
crosses into a process-pool worker or a Dask worker unchanged, and the
:class:`ExecutionResult` comes back the same way. Statuses are MLflow's:
FINISHED, FAILED (a cell raised), KILLED (timeout, the kernel died, the
run was cancelled or its worker was lost).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "FAILED",
    "FINISHED",
    "KILLED",
    "PENDING",
    "RUNNING",
    "TERMINAL",
    "Execution",
    "ExecutionResult",
    "ProgressEvent",
    "worst_status",
]

PENDING = "PENDING"
RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
TERMINAL = (FINISHED, FAILED, KILLED)

Reason = Literal["cell_error", "timeout", "kernel_died", "cancelled", "worker_lost", "error"]


@dataclass(frozen=True)
class Execution:
    """One notebook execution: step ``step`` of parameter set ``trial``.

    Paths are absolute. ``parameters`` are already validated and typed
    (they reach papermill as Python values, never as text). ``env`` is added
    to the kernel's environment (run id, notebook path, tracking URI; never
    secrets: it is the caller's environment that holds those).
    """

    index: int
    trial: int
    step: str
    notebook: str
    output: str
    cwd: str
    parameters: dict[str, Any]
    run_id: str | None = None
    tracking_uri: str | None = None
    timeout: float | None = None
    kernel_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ExecutionResult:
    """How one :class:`Execution` ended; ``output`` is kept on failure too."""

    index: int
    status: str
    reason: str | None = None
    error: str | None = None
    cell_index: int | None = None
    output: str | None = None
    started: float | None = None
    ended: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return self.ended - self.started

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration"] = self.duration
        return data


@dataclass(frozen=True)
class ProgressEvent:
    """What a runner reports while it works, in order, from one thread.

    ``kind``: ``planned`` (once, ``executions`` holds all), ``started`` and
    ``finished`` (per execution; ``finished`` carries ``result``) and ``done``
    (once, ``status`` is the pipeline run's).
    """

    kind: Literal["planned", "started", "finished", "done"]
    execution: Execution | None = None
    result: ExecutionResult | None = None
    executions: tuple[Execution, ...] = ()
    status: str | None = None
    run_id: str | None = None


def worst_status(statuses: list[str]) -> str:
    """The pipeline's status from its executions': FAILED > KILLED > FINISHED."""
    if FAILED in statuses:
        return FAILED
    if KILLED in statuses or any(s not in TERMINAL for s in statuses):
        return KILLED
    return FINISHED
