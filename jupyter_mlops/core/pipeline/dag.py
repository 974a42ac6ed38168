"""The scheduler of one pipeline run: dependencies, reuse, retries, live progress.

:class:`DagRun` runs in the caller's thread (see :func:`.runner.run_plan`). An
execution is considered once every execution it depends on (same trial) has a
result: one whose dependency did not finish is skipped (KILLED, reason
``cancelled``); one whose cache key (:mod:`.cache`) matches a run it may reuse
(the resumed run's, then the experiment's) ends FINISHED at once as a cache hit
(no worker, no kernel); the others are submitted, at most ``workers`` at a
time. The executor's workers start on the first real submit, so a rerun that
reuses everything starts none.

An attempt that ends KILLED by a timeout, a lost worker or a dead kernel (or
FAILED, with ``retry_on_error``) runs again while :class:`RetryPolicy` allows:
the attempt's run keeps its end and the next attempt is a new child run,
submitted after an exponential backoff (the loop keeps polling meanwhile).
While executions run, their progress files are read at most once a second each
and reported as ``progress`` events.

**Spend cap** (``cap``): spend so far is the cost of every ended attempt plus
the live cost of the running ones (from their progress files); once it reaches
the cap, :class:`BudgetReached` stops the run: nothing more starts, and the
runner kills what runs and ends every unfinished execution KILLED ``budget``.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from jupyter_mlops.core.pipeline.cache import (
    CacheIndex,
    environment_hash,
    execution_key,
    outputs_digest,
)
from jupyter_mlops.core.pipeline.child_runs import PipelineRuns
from jupyter_mlops.core.pipeline.executors import Executor
from jupyter_mlops.core.pipeline.model import (
    FAILED,
    FINISHED,
    KILLED,
    RUNNING,
    Execution,
    ExecutionResult,
    ProgressEvent,
)
from jupyter_mlops.core.pipeline.plan import RunPlan
from jupyter_mlops.core.pipeline.progress import ProgressWatcher
from jupyter_mlops.exceptions import UsageError

__all__ = ["RETRIED_KILLS", "BudgetReached", "Cancelled", "DagRun", "RetryPolicy"]

EventCallback = Callable[[ProgressEvent], None]
POLL_SECONDS = 0.25


class Cancelled(Exception):
    """Raised by :meth:`DagRun.schedule` when its ``cancel`` event is set."""


class BudgetReached(Cancelled):
    """Raised by :meth:`DagRun.schedule` when the spend so far reached the run's cap."""

    def __init__(self, spent: float, cap: float, currency: str = "USD") -> None:
        from jupyter_mlops.core.cost.money import format_money

        self.spent, self.cap = spent, cap
        super().__init__(
            f"the spend cap was reached: {format_money(spent, currency)} spent of the "
            f"{format_money(cap, currency)} cap (max_cost)"
        )


RETRIED_KILLS = ("timeout", "worker_lost", "kernel_died")
"""KILLED reasons that a retry may cure (a user's cancel is never retried)."""
MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """Which ended attempts run again (as new child runs), and after how long."""

    retries: int = 0
    retry_on_error: bool = False
    backoff: float = 1.0
    """Seconds before the first retry; doubled for each further one (at most 5 minutes)."""

    def check(self) -> None:
        """:class:`UsageError` for a negative count or backoff."""
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise UsageError(
                f"retries must be a whole number, 0 or more; got {self.retries!r}",
                hint="--retries 2 runs a failed execution up to 3 times",
            )
        if not self.backoff >= 0:
            raise UsageError(f"backoff must be 0 or more seconds; got {self.backoff!r}")

    def wants(self, result: ExecutionResult, attempt: int) -> bool:
        """Whether attempt ``attempt``, which ended as ``result``, runs again."""
        if attempt > self.retries:
            return False
        if result.status == KILLED:
            return result.reason in RETRIED_KILLS
        return result.status == FAILED and self.retry_on_error

    def delay(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))


class DagRun:
    """One pipeline run in progress: its runs, the executor, keys, results and retries so far."""

    def __init__(
        self,
        plan: RunPlan,
        runs: PipelineRuns,
        executor: Executor,
        emit: EventCallback,
        policy: RetryPolicy,
    ) -> None:
        self.plan = plan
        self.runs = runs
        self.executor = executor
        self.emit = emit
        self.policy = policy
        self.executions: list[Execution] = list(plan.executions)
        self.results: dict[int, ExecutionResult] = {}
        self.running: dict[Any, int] = {}
        self.scheduled: set[int] = set()
        self.pending: list[int] = []
        self.not_before: dict[int, float] = {}
        self.keys: dict[int, str | None] = {}
        self.missed: set[int] = set()
        self.sources = CacheIndex()
        self.resumed = CacheIndex()
        self.pool_started = False
        self.progress_dir: str | None = None
        self.watcher = ProgressWatcher()
        self._env_hash: str | None = None
        self.cap: float | None = None
        self.currency = "USD"
        """The executions' pricing currency: their cost metric is ``cost_<currency>``."""
        self.spent_ended = 0.0
        self.live_cost: dict[int, float] = {}

    @property
    def parent(self) -> str:
        return self.runs.parent

    def create_runs(self, resumed_from: str | None) -> str:
        """The parent run, then one SCHEDULED child per execution (its first attempt)."""
        self.runs.create_parent(resumed_from)
        for execution in self.plan.executions:
            self.executions[execution.index] = self.runs.create_child(execution)
            self.scheduled.add(execution.index)
        return self.parent

    def start_pool(self) -> None:
        """Start the executor's workers (once; not at all when everything is reused)."""
        if not self.pool_started:
            self.pool_started = True
            self.executor.start(self.runs.tracking_uri)

    # -- ending executions -------------------------------------------------------------------

    def finish(self, result: ExecutionResult) -> None:
        """Record ``result`` (unless a hit, recorded already), then the ``finished`` event."""
        execution = self.executions[result.index]
        self.results[result.index] = result
        if execution.run_id is not None and result.cache_hit is None:
            self.runs.record(execution.run_id, result, self._cache_tags(result))
        self.emit(ProgressEvent("finished", execution=execution, result=result))

    def _cache_tags(self, result: ExecutionResult) -> tuple[str, str] | None:
        key = self.keys.get(result.index)
        if result.status != FINISHED or key is None:
            return None
        try:
            digest = outputs_digest(self.executions[result.index])
        except OSError:
            return None
        return None if digest is None else (key, digest)

    def _ended(self, index: int, result: ExecutionResult) -> None:
        """An attempt ended: retry it as a new child run, or finish the execution."""
        execution = self.executions[index]
        result.attempt = execution.attempt
        self.watcher.forget(execution.progress_file)
        live = self.live_cost.pop(index, 0.0)
        self.spent_ended += result.cost.get(self.cost_key, live)
        if not self.policy.wants(result, execution.attempt) or execution.run_id is None:
            self.finish(result)
            return
        self.runs.record(execution.run_id, result)  # the attempt keeps its own end
        retry = self.runs.create_child(
            replace(execution, progress_file=None), execution.attempt + 1
        )
        self.executions[index] = retry
        self.not_before[index] = time.monotonic() + self.policy.delay(execution.attempt)
        self.pending.append(index)
        self.emit(ProgressEvent("retrying", execution=retry, result=result))

    # -- reuse -------------------------------------------------------------------------------

    def _key(self, index: int) -> str | None:
        """The cache key of ``index`` (computed once, when its dependencies have finished)."""
        if index not in self.keys:
            deps = self.plan.depends.get(index, [])
            upstream = [k for k in (self.keys.get(d) for d in deps) if k is not None]
            key = None
            if len(upstream) == len(deps):
                try:
                    if self._env_hash is None:
                        self._env_hash = environment_hash()
                    key = execution_key(self.executions[index], self._env_hash, upstream)
                except OSError:
                    key = None
            self.keys[index] = key
        return self.keys[index]

    def _reuse(self, index: int) -> bool:
        """Finish ``index`` as a hit of a finished run with its key; False when it must run."""
        execution = self.executions[index]
        if execution.attempt > 1 or index in self.missed:
            return False
        key = self._key(index)
        source = None
        if key is not None and (self.resumed or self.sources):
            source = self.resumed.reusable(key, execution) or self.sources.reusable(key, execution)
        if source is None:
            self.missed.add(index)
            return False
        try:
            digest = outputs_digest(execution)
        except OSError:
            digest = None
        self.finish(self.runs.record_hit(execution, source, key or "", digest))
        return True

    # -- scheduling --------------------------------------------------------------------------

    def _skip_or_submit(self, index: int, workers: int) -> bool:
        """Skip ``index`` (a dependency failed), reuse or submit it; True when done with it."""
        deps = self.plan.depends.get(index, [])
        failed = [d for d in deps if d in self.results and self.results[d].status != FINISHED]
        if failed:
            names = ", ".join(self.executions[d].step for d in failed)
            error = f"skipped: {names} did not finish"
            self.finish(ExecutionResult(index, KILLED, reason="cancelled", error=error))
            return True
        if not all(d in self.results for d in deps):
            return False
        if self.not_before.get(index, 0.0) > time.monotonic():
            return False
        if self._reuse(index):
            return True
        if len(self.running) >= workers:
            return False
        self.start_pool()
        execution = self.executions[index]
        if self.progress_dir is not None:
            name = f"{index}-{execution.attempt}.json"
            execution = replace(execution, progress_file=os.path.join(self.progress_dir, name))
            self.executions[index] = execution
        if execution.run_id is not None:
            self.runs.client.update_run(execution.run_id, status=RUNNING)
        self.running[self.executor.submit(execution)] = index
        self.emit(ProgressEvent("started", execution=execution))
        return True

    def _wait(self, cancel: threading.Event | None) -> None:
        """Nothing runs: sleep until a retry is due, or fail when nothing can ever start."""
        now = time.monotonic()
        due = [self.not_before[i] - now for i in self.pending if i in self.not_before]
        if due:
            delay = min(POLL_SECONDS, max(0.0, min(due)))
            if cancel is not None:
                cancel.wait(delay)
            else:
                time.sleep(delay)
            return
        if not any(
            all(d in self.results for d in self.plan.depends.get(i, [])) for i in self.pending
        ):
            raise RuntimeError("the pipeline's dependencies cannot be satisfied")

    def _poll_progress(self) -> None:
        for index in list(self.running.values()):
            execution = self.executions[index]
            snapshot = self.watcher.poll(execution.progress_file)
            if snapshot is not None:
                self.live_cost[index] = float(snapshot.pop("cost", 0.0) or 0.0)  # not shown
                self.emit(ProgressEvent("progress", execution=execution, progress=snapshot))

    @property
    def cost_key(self) -> str:
        return f"cost_{self.currency.lower()}"

    def spent(self) -> float:
        """Spend so far: every ended attempt's cost, and the running ones' cost until now."""
        return self.spent_ended + sum(self.live_cost.get(i, 0.0) for i in self.running.values())

    def schedule(self, workers: int, cancel: threading.Event | None) -> None:
        self.pending = [e.index for e in self.executions]
        while self.pending or self.running:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if self.cap is not None and self.spent() >= self.cap:
                self._collect(0.0)  # what ended meanwhile keeps its own result
                if self.pending or self.running:
                    raise BudgetReached(self.spent(), self.cap, self.currency)
                return
            self.pending = [i for i in self.pending if not self._skip_or_submit(i, workers)]
            if not self.running:
                if self.pending:
                    self._wait(cancel)
                continue
            self._collect(POLL_SECONDS)
            self._poll_progress()

    def _collect(self, timeout: float) -> None:
        """Record the attempts that ended (waiting up to ``timeout`` s for one)."""
        if not self.running:
            return
        for handle in self.executor.done(list(self.running), timeout):
            index = self.running.pop(handle)
            self._ended(index, self.executor.outcome(handle, self.executions[index]))

    def cancel_rest(self, why: str, reason: str = "cancelled") -> None:
        """Every execution without a result: KILLED ``reason`` (best effort on the store).

        A running one keeps the cost its meter reported last (``cost`` of its result).
        """
        now = time.time()
        for execution in self.executions:
            if execution.index in self.results or execution.index not in self.scheduled:
                continue
            live = self.live_cost.pop(execution.index, None)
            result = ExecutionResult(
                execution.index,
                KILLED,
                reason=reason,
                error=why,
                ended=now,
                attempt=execution.attempt,
                cost={} if live is None else {self.cost_key: live},
            )
            try:
                self.finish(result)
            except Exception:
                self.results[execution.index] = result
                if execution.run_id is not None:
                    with contextlib.suppress(Exception):
                        self.runs.client.set_terminated(execution.run_id, status=KILLED)
