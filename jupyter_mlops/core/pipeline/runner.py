"""Run a planned pipeline or sweep: MLflow runs, a DAG scheduler, an executor.

::

    plan = plan_run("pipelines/breast-cancer", root=".", grid={"train.learning_rate": [0.1, 0.3]})
    result = run_plan(plan, tracking_uri="sqlite:///mlflow.db", workers=2, on_event=print)
    result.status                                 # FINISHED | FAILED | KILLED
    run_plan(plan, tracking_uri=uri, retries=2, retry_on_error=True)   # attempts as child runs
    run_plan(plan, tracking_uri=uri, resume=result.run_id)             # only what did not finish
    run_plan(plan, tracking_uri=uri, max_cost=5.0)     # past $5 spent: the rest KILLED (budget)

:func:`run_plan` creates the parent run (``mlops.runType=pipeline``) and one
child run per execution (``mlflow.parentRunId``, run name ``STEP`` or
``STEP-tN``, status SCHEDULED) before anything runs, then schedules in the
caller's thread (:mod:`.dag`): an execution is submitted once every execution
it depends on (same trial) FINISHED, at most ``workers`` at a time; one whose
dependency did not finish is skipped (KILLED, reason ``cancelled``). Each
child's terminal status comes from its :class:`ExecutionResult` (papermill's
exit status and exception, never the notebook's metadata); the parent's is the
worst of them. ``on_event`` gets :class:`ProgressEvent` s in order, from the
caller's thread.

**Cache.** A step of a pipeline folder whose key (notebook, parameters,
declared inputs, environment, upstream keys; :mod:`.cache`) matches a FINISHED
execution of the experiment whose outputs are intact is not run again: its
child ends FINISHED with ``mlops.pipeline.cacheHit`` (reason ``cached``), the
source's metrics, its outputs reused. ``force=True`` runs everything. A lone
notebook is never taken from the cache (it declares no inputs).
**Retries**: see :class:`~.dag.RetryPolicy`. **Resume**: ``resume=RUN_ID`` (a
pipeline run of the same pipeline, else :class:`UsageError` and nothing is
stored) reuses what that run finished, by key, and runs the rest; the new run
carries ``mlops.pipeline.resumedFrom``.

The local executor spawns its workers (never forks: the caller may have
threads), so a script that calls :func:`run_plan` needs the usual
``if __name__ == "__main__":`` guard. A worker that dies (its whole process
pool breaks) gives KILLED ``worker_lost`` to what it was running; later
executions get a fresh pool.

No run is left RUNNING: on ``cancel.set()``, Ctrl-C (KeyboardInterrupt, raised
again afterwards) or an error, the workers and their kernels are killed and
every unfinished run is marked KILLED (``cancelled``). With ``max_cost``, once
the ended executions' cost plus the running ones' live cost reaches it, the same
happens with reason ``budget`` (and the tag ``mlops.killed_reason=budget``). The file layout is
described in :mod:`jupyter_mlops.core.pipeline.plan`; the executors in
:mod:`jupyter_mlops.core.pipeline.executors`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.cache import CacheIndex
from jupyter_mlops.core.pipeline.child_runs import PipelineRuns, cache_sources, resume_sources
from jupyter_mlops.core.pipeline.dag import (
    BudgetReached,
    Cancelled,
    DagRun,
    EventCallback,
    RetryPolicy,
)
from jupyter_mlops.core.pipeline.executors import make_executor
from jupyter_mlops.core.pipeline.mlflow_calls import declared_experiment
from jupyter_mlops.core.pipeline.model import (
    FINISHED,
    KILLED,
    Execution,
    ExecutionResult,
    ProgressEvent,
    check_max_cost,
    worst_status,
)
from jupyter_mlops.core.pipeline.plan import RunPlan, plan_run, prepare
from jupyter_mlops.core.tracking.store import experiment_id as store_experiment_id

__all__ = ["PipelineResult", "RetryPolicy", "RunPlan", "plan_run", "run_plan"]


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


def _may_reuse(plan: RunPlan, force: bool, resume: str | None) -> bool:
    """Whether some execution might be reused (else the workers start at once, overlapping
    the runner's own start): a single trial's first steps need their outputs in place."""
    if resume:
        return True
    if force or not plan.is_pipeline:
        return False
    if len(plan.trials) > 1:
        return True
    return all(os.path.exists(e.output) for e in plan.executions if not plan.depends.get(e.index))


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
    force: bool = False,
    retries: int = 0,
    retry_on_error: bool = False,
    backoff: float = 1.0,
    resume: str | None = None,
    max_cost: float | None = None,
) -> PipelineResult:
    """Run ``plan``'s executions as MLflow child runs of one pipeline run; see the module doc.

    ``executor``: ``local`` (a process pool of ``workers``) or ``dask`` (an
    embedded ``LocalCluster`` of ``workers`` processes, or the scheduler at
    ``scheduler``). ``force``: run every step, none from the cache.
    ``retries`` (with ``backoff`` seconds, doubled each time) and
    ``retry_on_error``: see :class:`RetryPolicy`. ``resume``: a pipeline run
    whose finished steps are reused. Raises :class:`UsageError` before any run
    is created when the executor cannot start, ``retries`` is negative or
    ``resume`` is no pipeline run of this pipeline; KeyboardInterrupt is
    raised again after the runs are marked KILLED. ``tags`` are set on the
    pipeline run and on every child run (a schedule's id, for example, so its
    cost groups by it). ``max_cost``: the spend cap, in the executions' pricing
    currency (:class:`UsageError` unless positive); see the module doc.
    """
    from jupyter_mlops.core.tracking.query import _mlflow_errors, connect

    policy = RetryPolicy(retries, retry_on_error, backoff)
    policy.check()
    if max_cost is not None:
        max_cost = check_max_cost(max_cost)
    emit: EventCallback = on_event or (lambda event: None)
    pool = make_executor(executor, workers, scheduler)
    eager = not _may_reuse(plan, force, resume)
    if eager:
        pool.start(tracking_uri)
    interrupted = False
    try:
        client = connect(tracking_uri)
        with _mlflow_errors():
            resumed = resume_sources(client, resume, plan) if resume else CacheIndex()
            name = experiment or declared_experiment(Path(e.notebook) for e in plan.executions)
            experiment_id = store_experiment_id(client, name or plan.name, tracking_uri)
            cached = plan.is_pipeline and not force
            sources = cache_sources(client, experiment_id) if cached else CacheIndex()
        prepare(plan)
        runs = PipelineRuns(client, plan, experiment_id, tracking_uri, tags)
        run = DagRun(plan, runs, pool, emit, policy)
        run.resumed, run.sources, run.pool_started = resumed, sources, eager
        if max_cost is not None:
            from jupyter_mlops.core.cost.run_cost import default_pricing

            run.cap, run.currency = max_cost, default_pricing().currency  # the workers' pricing
        if not (resumed or sources):
            run.start_pool()
        if executor == "local" or scheduler is None:  # a remote worker cannot write here
            run.progress_dir = tempfile.mkdtemp(prefix="jupyter-mlops-progress-")
    except BaseException:
        pool.close()
        raise
    try:
        with _mlflow_errors():
            run.create_runs(resume)
        emit(ProgressEvent("planned", executions=tuple(run.executions), run_id=run.parent))
        run.schedule(workers, cancel)
        pool.close()
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        pool.kill()
        why = "cancelled" if isinstance(exc, Cancelled | KeyboardInterrupt) else f"error: {exc}"
        if isinstance(exc, BudgetReached):
            run.cancel_rest(str(exc), reason="budget")
        run.cancel_rest(why)
        if not isinstance(exc, Cancelled | KeyboardInterrupt):
            _end_parent(run, KILLED)
            raise
    finally:
        if run.progress_dir is not None:
            shutil.rmtree(run.progress_dir, ignore_errors=True)
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
        executions=[replace(e, progress_file=None) for e in run.executions],  # removed
        results=results,
        name=plan.name,
    )


def _end_parent(run: DagRun, status: str) -> None:
    if not run.parent:
        return
    try:
        run.runs.client.set_terminated(run.parent, status=status)
    except Exception:
        if status == FINISHED:
            raise
