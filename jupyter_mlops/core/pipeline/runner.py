"""Run a planned pipeline or sweep: MLflow runs, a DAG scheduler, an executor.

::

    plan = plan_run("pipelines/breast-cancer", root=".", grid={"train.learning_rate": [0.1, 0.3]})
    result = run_plan(plan, tracking_uri="sqlite:///mlflow.db", workers=2, on_event=print)
    result.status                                 # FINISHED | FAILED | KILLED

:func:`run_plan` creates the parent run (``mlops.runType=pipeline``) and one
child run per execution (``mlflow.parentRunId``, run name ``STEP`` or
``STEP-tN``, status SCHEDULED) before anything runs, then schedules in the
caller's thread: an execution is submitted once every execution it depends on
(same trial) FINISHED, at most ``workers`` at a time; one whose dependency did
not finish is skipped (KILLED, reason ``cancelled``). Each child's terminal
status comes from its :class:`ExecutionResult` (papermill's exit status and
exception, never the notebook's metadata); the parent's is the worst of them.
``on_event`` gets :class:`ProgressEvent` s in order, from the caller's thread.

The local executor spawns its workers (never forks: the caller may have
threads), so a script that calls :func:`run_plan` needs the usual
``if __name__ == "__main__":`` guard. A worker that dies (its whole process
pool breaks) gives KILLED ``worker_lost`` to what it was running; later
executions get a fresh pool.

No run is left RUNNING: on ``cancel.set()``, Ctrl-C (KeyboardInterrupt, raised
again afterwards) or an error, the workers and their kernels are killed and
every unfinished run is marked KILLED (``cancelled``). The file layout is
described in :mod:`jupyter_mlops.core.pipeline.plan`; the executors in
:mod:`jupyter_mlops.core.pipeline.executors`.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline.executors import Executor, make_executor
from jupyter_mlops.core.pipeline.mlflow_calls import declared_experiment
from jupyter_mlops.core.pipeline.model import (
    FINISHED,
    KILLED,
    RUNNING,
    Execution,
    ExecutionResult,
    ProgressEvent,
    worst_status,
)
from jupyter_mlops.core.pipeline.plan import RunPlan, plan_run, prepare
from jupyter_mlops.core.tracking.store import experiment_id as store_experiment_id

__all__ = ["PipelineResult", "RunPlan", "plan_run", "run_plan"]

EventCallback = Callable[[ProgressEvent], None]
POLL_SECONDS = 0.25
_PARAM_MAX = 6000
_KEY_UNSAFE = re.compile(r"[^\w.\-/ ]")


@dataclass
class PipelineResult:
    """How a pipeline run ended: the parent run and each execution's result (by index)."""

    run_id: str
    experiment_id: str
    status: str
    executions: list[Execution]
    results: list[ExecutionResult]
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (without the executions' environment)."""
        from jupyter_mlops.core.tracking.store import redact_uri

        def shown(execution: Execution) -> dict[str, Any]:
            uri = execution.tracking_uri
            return {**execution.to_dict(), "env": {}, "tracking_uri": uri and redact_uri(uri)}

        return {
            "name": self.name,
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "status": self.status,
            "executions": [shown(e) for e in self.executions],
            "results": [r.to_dict() for r in self.results],
        }


class _Cancelled(Exception):
    pass


def _sweep_params(plan: RunPlan) -> list[tuple[str, str]]:
    def text(value: object) -> str:
        return json.dumps(value, allow_nan=False, default=str)[:_PARAM_MAX]

    params = [("pipeline.trials", str(len(plan.trials)))]
    for name, value in plan.sweep.get("overrides", {}).items():
        params.append((f"override.{name}", text(value)))
    for name, values in plan.sweep.get("grid", {}).items():
        params.append((f"grid.{name}", text(values)))
    if plan.sweep.get("param_sets"):
        params.append(("param_sets", text(plan.sweep["param_sets"])))
    return [(_KEY_UNSAFE.sub("_", k)[:250], v) for k, v in params]


class _Run:
    """One pipeline run in progress: the store, the executor, the results so far."""

    def __init__(
        self,
        plan: RunPlan,
        client: Any,
        executor: Executor,
        emit: EventCallback,
        extra_tags: dict[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.extra_tags = dict(extra_tags or {})
        self.client = client
        self.executor = executor
        self.emit = emit
        self.executions: list[Execution] = list(plan.executions)
        self.results: dict[int, ExecutionResult] = {}
        self.running: dict[Any, int] = {}
        self.scheduled: set[int] = set()

    def create_runs(self, experiment_id: str, tracking_uri: str) -> str:
        from mlflow.entities import Param

        plan = self.plan
        parent = self.client.create_run(
            experiment_id,
            run_name=plan.name,
            tags={
                tags.PIPELINE_NAME: plan.name,
                tags.PIPELINE_PATH: plan.to_dict()["target"],
                tags.RUN_TYPE: tags.RUN_TYPE_PIPELINE,
                **self.extra_tags,
            },
        ).info.run_id
        self.parent: str = str(parent)
        params = [Param(k, v) for k, v in _sweep_params(plan)]
        for start in range(0, len(params), 100):
            self.client.log_batch(self.parent, params=params[start : start + 100])
        sweep = len(plan.trials) > 1
        for execution in plan.executions:
            run = self.client.create_run(
                experiment_id,
                run_name=f"{execution.step}-t{execution.trial}" if sweep else execution.step,
                tags={
                    "mlflow.parentRunId": self.parent,
                    tags.RUN_TYPE: tags.RUN_TYPE_PIPELINE_STEP,
                    tags.PIPELINE_NAME: plan.name,
                    tags.PIPELINE_STEP: execution.step,
                    tags.PIPELINE_TRIAL: str(execution.trial),
                    **self.extra_tags,
                },
            )
            run_id = str(run.info.run_id)
            env = {
                **execution.env,
                "JUPYTER_MLOPS_RUN_ID": run_id,
                # MLflow's own calls in the notebook resume the execution's run
                # (mlflow.start_run, log_*, autolog), as under `mlflow run`
                "MLFLOW_RUN_ID": run_id,
                "MLFLOW_TRACKING_URI": tracking_uri,
                "MLFLOW_EXPERIMENT_ID": experiment_id,
            }
            self.executions[execution.index] = replace(
                execution, run_id=run_id, tracking_uri=tracking_uri, env=env
            )
            self.scheduled.add(execution.index)
            self.client.update_run(run_id, status="SCHEDULED")
        return self.parent

    def finish(self, result: ExecutionResult) -> None:
        """Record ``result``: the child's terminal status, then the ``finished`` event."""
        execution = self.executions[result.index]
        self.results[result.index] = result
        run_id = execution.run_id
        if run_id is not None:
            self._record(run_id, result)
        self.emit(ProgressEvent("finished", execution=execution, result=result))

    def _record(self, run_id: str, result: ExecutionResult) -> None:
        from jupyter_mlops.core.tracking.query import _mlflow_errors

        with _mlflow_errors(run_id=run_id):
            if result.status != FINISHED:
                from jupyter_mlops.core.tracking.query import scrub_credentials

                run_tags = {tags.STATUS_REASON: result.reason or "error"}
                if result.error:
                    run_tags[tags.ERROR] = scrub_credentials(result.error)[:1000]
                for key, value in run_tags.items():
                    self.client.set_tag(run_id, key, value)
            end = int(result.ended * 1000) if result.ended else None
            self.client.set_terminated(run_id, status=result.status, end_time=end)
            if not result.metrics and result.status != KILLED:
                metrics = self.client.get_run(run_id).data.metrics
                result.metrics = {k: float(v) for k, v in metrics.items()}

    def _skip_or_submit(self, index: int, workers: int) -> bool:
        """Skip ``index`` (a dependency failed) or submit it (all finished); True when done with it."""
        deps = self.plan.depends.get(index, [])
        failed = [d for d in deps if d in self.results and self.results[d].status != FINISHED]
        execution = self.executions[index]
        if failed:
            names = ", ".join(self.executions[d].step for d in failed)
            self.finish(
                ExecutionResult(
                    index,
                    KILLED,
                    reason="cancelled",
                    error=f"skipped: {names} did not finish",
                )
            )
            return True
        if all(d in self.results for d in deps) and len(self.running) < workers:
            if execution.run_id is not None:
                self.client.update_run(execution.run_id, status=RUNNING)
            self.running[self.executor.submit(execution)] = index
            self.emit(ProgressEvent("started", execution=execution))
            return True
        return False

    def schedule(self, workers: int, cancel: threading.Event | None) -> None:
        pending = [e.index for e in self.executions]
        while pending or self.running:
            if cancel is not None and cancel.is_set():
                raise _Cancelled
            pending = [i for i in pending if not self._skip_or_submit(i, workers)]
            if not self.running:
                if pending and not any(
                    all(d in self.results for d in self.plan.depends.get(i, [])) for i in pending
                ):
                    raise RuntimeError("the pipeline's dependencies cannot be satisfied")
                continue
            for handle in self.executor.done(list(self.running), POLL_SECONDS):
                index = self.running.pop(handle)
                self.finish(self.executor.outcome(handle, self.executions[index]))

    def cancel_rest(self, why: str) -> None:
        """Every execution without a result: KILLED ``cancelled`` (best effort on the store)."""
        now = time.time()
        for execution in self.executions:
            if execution.index in self.results or execution.index not in self.scheduled:
                continue
            result = ExecutionResult(
                execution.index, KILLED, reason="cancelled", error=why, ended=now
            )
            try:
                self.finish(result)
            except Exception:
                self.results[execution.index] = result
                if execution.run_id is not None:
                    with contextlib.suppress(Exception):
                        self.client.set_terminated(execution.run_id, status=KILLED)


def run_plan(
    plan: RunPlan,
    *,
    tracking_uri: str,
    experiment: str | None = None,
    workers: int = 1,
    executor: str = "local",
    scheduler: str | None = None,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    tags: Mapping[str, str] | None = None,
) -> PipelineResult:
    """Run ``plan``'s executions as MLflow child runs of one pipeline run; see the module doc.

    ``executor``: ``local`` (a process pool of ``workers``) or ``dask`` (an
    embedded ``LocalCluster`` of ``workers`` processes, or the scheduler at
    ``scheduler``). Raises :class:`UsageError` before any run is created when
    the executor cannot start; KeyboardInterrupt is raised again after the
    runs are marked KILLED. ``tags`` are set on the pipeline run and on every
    child run (a schedule's id, for example, so its cost groups by it).
    """
    from jupyter_mlops.core.tracking.query import _mlflow_errors, connect

    emit: EventCallback = on_event or (lambda event: None)
    pool = make_executor(executor, workers, scheduler)
    pool.start(tracking_uri)
    interrupted = False
    try:
        prepare(plan)
        client = connect(tracking_uri)
        with _mlflow_errors():
            name = experiment or declared_experiment(Path(e.notebook) for e in plan.executions)
            experiment_id = store_experiment_id(client, name or plan.name, tracking_uri)
        run = _Run(plan, client, pool, emit, dict(tags or {}))
    except BaseException:
        pool.close()
        raise
    try:
        with _mlflow_errors():
            run.create_runs(experiment_id, tracking_uri)
        emit(ProgressEvent("planned", executions=tuple(run.executions), run_id=run.parent))
        run.schedule(workers, cancel)
        pool.close()
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        pool.kill()
        why = "cancelled" if isinstance(exc, _Cancelled | KeyboardInterrupt) else f"error: {exc}"
        run.cancel_rest(why)
        if not isinstance(exc, _Cancelled | KeyboardInterrupt):
            _end_parent(run, KILLED)
            raise
    results = [
        run.results.get(e.index) or ExecutionResult(e.index, KILLED, reason="cancelled")
        for e in run.executions
    ]
    status = worst_status([r.status for r in results])
    _end_parent(run, status)
    emit(ProgressEvent("done", status=status, run_id=run.parent))
    if interrupted:
        raise KeyboardInterrupt
    return PipelineResult(
        run_id=run.parent,
        experiment_id=experiment_id,
        status=status,
        executions=run.executions,
        results=results,
        name=plan.name,
    )


def _end_parent(run: _Run, status: str) -> None:
    parent = getattr(run, "parent", None)
    if parent is None:
        return
    try:
        run.client.set_terminated(parent, status=status)
    except Exception:
        if status == FINISHED:
            raise
