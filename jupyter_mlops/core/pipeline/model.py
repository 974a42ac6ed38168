"""What a pipeline is made of: exported steps; a run's executions, their results, progress events.

::

    plan = plan_run("pipelines/breast-cancer", root=".", grid={"train.learning_rate": [0.1, 0.3]})
    result = run_plan(plan, workers=2, on_event=print)   # PipelineResult
    result.status                                        # FINISHED | FAILED | KILLED

An :class:`Execution` is one notebook executed once: one step of one
parameter set (a *trial*). It is plain data (picklable, JSON-able), so it
crosses into a process-pool worker or a Dask worker unchanged, and the
:class:`ExecutionResult` comes back the same way. Statuses are MLflow's:
FINISHED, FAILED (a cell raised), KILLED (timeout, the kernel died, the
run was cancelled, its worker was lost or its spend cap was reached: ``budget``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jupyter_mlops.core.serial import fields_dict
from jupyter_mlops.exceptions import InvalidValueError, UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.params import Parameter

__all__ = [
    "FAILED",
    "FINISHED",
    "KILLED",
    "MAX_RETRIES",
    "MAX_WORKERS",
    "PENDING",
    "RUNNING",
    "TERMINAL",
    "Execution",
    "ExecutionResult",
    "ExportResult",
    "LaunchRequest",
    "ProgressEvent",
    "Step",
    "check_max_cost",
    "worst_status",
]

PENDING = "PENDING"
RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
KILLED = "KILLED"
TERMINAL = (FINISHED, FAILED, KILLED)

MAX_WORKERS = 64
"""Most parallel executions one launch may ask for."""

Reason = Literal[
    "cell_error", "timeout", "kernel_died", "cancelled", "worker_lost", "error", "cached", "budget"
]


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
    inputs: tuple[str, ...] = ()
    """Declared inputs (files or folders, relative to ``cwd``): part of the cache key."""
    writes: tuple[str, ...] = ()
    """Declared outputs and metrics (relative to ``cwd``): checked and restored on a cache hit."""
    attempt: int = 1
    """1 for the first attempt, 2 for the first retry, ... (each attempt is its own run)."""
    progress_file: str | None = None
    """Where the worker writes its live progress (JSON, see :mod:`.progress`); None: nowhere."""

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
    cache_hit: str | None = None
    """The run whose results this one reuses (reason ``cached``: nothing was executed)."""
    attempt: int = 1

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
    ``finished`` (per execution; ``finished`` carries ``result``, the last
    attempt's), ``retrying`` (``result`` is the attempt that ended, ``execution``
    the next attempt, already a run of its own), ``progress`` (while an
    execution runs, at most about once a second: ``progress`` is
    ``{"cell": k, "cells": n, "lines": [...], "updated": epoch_s}``) and
    ``done`` (once, ``status`` is the pipeline run's).
    """

    kind: Literal["planned", "started", "progress", "retrying", "finished", "done"]
    execution: Execution | None = None
    result: ExecutionResult | None = None
    executions: tuple[Execution, ...] = ()
    status: str | None = None
    run_id: str | None = None
    progress: dict[str, Any] | None = None


def worst_status(statuses: list[str]) -> str:
    """The pipeline's status from its executions': FAILED > KILLED > FINISHED."""
    if FAILED in statuses:
        return FAILED
    if KILLED in statuses or any(s not in TERMINAL for s in statuses):
        return KILLED
    return FINISHED


@dataclass
class Step:
    """One pipeline step: a notebook copied to ``notebooks/NAME.ipynb``."""

    name: str
    source: str
    parameters: list[Parameter]
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.name}.ipynb"

    @property
    def output(self) -> str:
        return f"outputs/{self.name}.ipynb"

    def to_dict(self) -> dict[str, Any]:
        out = fields_dict(self, "name notebook source output")
        out["parameters"] = {p.name: p.to_dict() for p in self.parameters}
        return {**out, **fields_dict(self, "inputs outputs metrics depends_on")}


@dataclass
class ExportResult:
    """What :func:`export_pipeline` wrote."""

    out_dir: Path
    name: str
    steps: list[Step]
    files: list[Path]
    warnings: list[str]


MAX_RETRIES = 10
"""Most retries one launch may ask for."""


def _check_int(value: object, name: str, low: int, high: int) -> int:
    """``value`` when it is an integer from ``low`` to ``high``, else :class:`UsageError`."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be an integer from {low} to {high}.")
    return value


@dataclass(frozen=True)
class LaunchRequest:
    """The body of ``POST pipelines/runs``, checked for shape (values are checked by the plan)."""

    path: str
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    workers: int = 1
    executor: str = "local"
    timeout: float | None = None
    force: bool = False
    retries: int = 0
    retry_on_error: bool = False
    max_cost: float | None = None
    """Spend cap of the run (pricing currency): no execution starts past it, running ones stop."""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LaunchRequest:
        """The request, or :class:`UsageError` saying which field is wrong."""
        known = {"path", "parameters", "grid", "workers", "executor", "timeout"}
        unknown = sorted(set(body) - known - {"force", "retries", "retry_on_error", "max_cost"})
        if unknown:
            raise UsageError(f"unknown fields: {', '.join(unknown)}")
        path, parameters, grid = body.get("path"), body.get("parameters"), body.get("grid")
        executor, timeout = body.get("executor"), body.get("timeout")
        if not isinstance(path, str) or not path:
            raise UsageError(
                "path (a pipeline folder or a .ipynb, relative to the root) is required."
            )
        if not isinstance(parameters, dict | None):
            raise UsageError('parameters must be an object: {"step.param": value}.')
        if not isinstance(grid, dict | None) or any(
            not isinstance(v, list) or not v for v in (grid or {}).values()
        ):
            raise UsageError('grid must be an object of non-empty lists: {"step.param": [1, 2]}.')
        workers = _check_int(body.get("workers", 1), "workers", 1, MAX_WORKERS)
        retries = _check_int(body.get("retries", 0), "retries", 0, MAX_RETRIES)
        flags = {name: body.get(name, False) for name in ("force", "retry_on_error")}
        for name, flag in flags.items():
            if not isinstance(flag, bool):
                raise UsageError(f"{name} must be true or false.")
        if executor not in (None, "local", "dask"):
            raise UsageError("executor must be 'local' or 'dask'.")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
        ):
            raise UsageError("timeout must be a positive number of seconds, or null.")
        max_cost = body.get("max_cost")
        if max_cost is not None:
            max_cost = check_max_cost(max_cost)
        return cls(
            path=path,
            parameters=dict(parameters or {}),
            grid=dict(grid or {}),
            workers=workers,
            executor=executor or "local",
            timeout=float(timeout) if timeout is not None else None,
            force=flags["force"],
            retries=retries,
            retry_on_error=flags["retry_on_error"],
            max_cost=max_cost,
        )


def check_max_cost(value: object) -> float:
    """``value`` as a spend cap (a positive, finite amount), else :class:`InvalidValueError`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise InvalidValueError(
            f"max_cost must be a positive amount of money; got {value!r}.",
            hint="e.g. 5 for a cap of $5 (in the cost currency); leave it out for no cap",
        )
    return float(value)
