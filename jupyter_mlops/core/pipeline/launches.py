"""Pipeline runs started and watched while they run: :class:`LaunchRegistry`.

The server extension builds one (the panel's runs); nothing here needs a server,
so any long-lived process can hold one.

::

    registry = LaunchRegistry(root, tracking_uri=uri)      # once, e.g. in the extension app
    request = LaunchRequest.from_json(body)                # .model; UsageError if malformed
    plan = registry.plan(request)                          # blocking: validates, nothing runs
    launch = registry.start(plan, request)                 # its own thread; returns at once
    registry.get(launch["id"])                             # the Launch, updated from events
    registry.cancel(launch["id"]); registry.shutdown()     # KILLED, kernels stopped
    registry.guards.append(refuse_if_hard_budget_spent)    # raise to refuse every launch
    registry.estimate(plan)                                # CostEstimate (blocking: the store)

A launch is planned first (``plan_run``: every parameter checked, paths
confined to the root; bad input raises and nothing runs), then
``run_plan`` runs on a thread of its own, never on the tornado event loop nor
in the extension's small store pool. Its progress events update the
:class:`Launch` record, which the REST routes read: each execution's status, attempt, cache
hit, live progress (cell k of n, the last lines of output) and, once it ended,
its run's own metrics (``metrics``: not cost, not ``system/*``). Launches live in memory:
those still running, and the last :data:`KEEP_FINISHED` that ended. ``listeners`` are called
with each launch's ``to_dict()`` once it ended (notifications). ``guards`` are
called before each launch is planned (REST and schedule firings alike); one that
raises (a spent hard budget: :class:`RunStateError`) refuses it, and nothing runs.
A request's ``max_cost`` caps the run's spend (:func:`.runner.run_plan`). On server stop
(:meth:`LaunchRegistry.shutdown`) every running launch is cancelled and waited for.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.pipeline.launch_record import Launch, execution_entry, user_metrics
from jupyter_mlops.core.pipeline.model import (
    FAILED,
    KILLED,
    PENDING,
    RUNNING,
    TERMINAL,
    LaunchRequest,
    ProgressEvent,
)
from jupyter_mlops.core.pipeline.paths import relative, resolve, strip_root, strip_root_from
from jupyter_mlops.exceptions import MlopsError, NotFoundError, ParameterError, RunStateError

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.estimate import CostEstimate
    from jupyter_mlops.core.pipeline.model import Execution, ExecutionResult
    from jupyter_mlops.core.pipeline.runner import PipelineResult, RunPlan

__all__ = ["KEEP_FINISHED", "Launch", "LaunchRegistry"]

KEEP_FINISHED = 50  # ended launches kept in memory (older ones are forgotten; their runs stay)
UNEXPECTED = "unexpected error while running the pipeline; the details are in the server log"


class LaunchRegistry:
    """This server's pipeline launches: planning, one thread per run, progress, cancel, shutdown."""

    def __init__(
        self,
        root: str | Path,
        *,
        tracking_uri: str,
        max_running: int = 8,
        allow_hidden: bool = False,
        log: logging.Logger | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.allow_hidden = allow_hidden
        self.tracking_uri = tracking_uri
        self.max_running = max_running
        self.log = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._launches: dict[str, Launch] = {}
        self._closed = False
        self.listeners: list[Callable[[dict[str, Any]], None]] = []  # each ended launch
        self.guards: list[Callable[[], None]] = []  # before each launch; raises to refuse it

    # -- planning and starting ------------------------------------------------------------

    def plan(self, request: LaunchRequest) -> RunPlan:
        """Check everything (blocking: reads the notebooks); raises on bad input, runs nothing."""
        from jupyter_mlops.core.pipeline.runner import plan_run

        with self._lock:
            self._check_capacity()
        for guard in list(self.guards):
            guard()
        target = resolve(self.root, request.path, "path", allow_hidden=self.allow_hidden)
        try:
            return plan_run(
                target,
                root=self.root,
                overrides=request.parameters or None,
                grid=request.grid or None,
                timeout=request.timeout,
            )
        except MlopsError as exc:
            strip_root_from(exc, self.root)
            if exc.errors is None:
                raise
            raise ParameterError(exc) from exc

    def estimate(self, plan: RunPlan) -> CostEstimate:
        """What ``plan`` will cost, from its notebooks' last runs (blocking: reads the store)."""
        from jupyter_mlops.core.cost.run_cost import default_pricing
        from jupyter_mlops.core.pipeline.estimate import estimate_plan
        from jupyter_mlops.core.tracking.query import connect

        return estimate_plan(connect(self.tracking_uri), plan, default_pricing().currency)

    def start(
        self,
        plan: RunPlan,
        request: LaunchRequest,
        tags: dict[str, str] | None = None,
        estimate: CostEstimate | None = None,
    ) -> dict[str, Any]:
        """Start ``plan`` on its own thread; the new Launch (``PENDING``).

        ``tags`` go on the pipeline run and its child runs (a schedule's firing, say);
        ``estimate`` (of :meth:`estimate`) is shown with the launch.
        """
        target = resolve(self.root, request.path, "path", allow_hidden=self.allow_hidden)
        launch = Launch(
            id=uuid.uuid4().hex,
            path=relative(self.root, target),
            name=plan.name,
            executions=[execution_entry(e) for e in plan.executions],
            max_cost=request.max_cost,
            estimate=estimate.to_dict() if estimate is not None else None,
        )
        with self._lock:
            self._check_capacity()
            self._launches[launch.id] = launch
            self._prune()
            launch.thread = threading.Thread(
                target=self._run,
                args=(launch, plan, request, dict(tags or {})),
                name=f"jupyter-mlops-pipeline-{launch.id[:8]}",
                daemon=True,
            )
            launch.thread.start()
            return launch.to_dict()

    def _check_capacity(self) -> None:
        if self._closed:
            raise RunStateError("The server is stopping; no new pipeline runs start.")
        running = [
            launch for launch in list(self._launches.values()) if launch.status not in TERMINAL
        ]
        if len(running) >= self.max_running:
            raise RunStateError(
                f"{len(running)} pipeline runs are in progress on this server (at most "
                f"{self.max_running}).",
                hint="wait for one to end, or cancel one",
            )

    def _prune(self) -> None:
        ended = [launch for launch in self._launches.values() if launch.status in TERMINAL]
        ended.sort(key=lambda launch: launch.started)
        for launch in ended[: max(0, len(ended) - KEEP_FINISHED)]:
            del self._launches[launch.id]

    # -- the run thread ---------------------------------------------------------------------

    def _run(
        self, launch: Launch, plan: RunPlan, request: LaunchRequest, tags: dict[str, str]
    ) -> None:
        from jupyter_mlops.core.pipeline.runner import run_plan

        result: PipelineResult | None = None
        error: str | None = None
        try:
            if not launch.cancel.is_set():
                result = run_plan(
                    plan,
                    tracking_uri=self.tracking_uri,
                    workers=request.workers,
                    executor=request.executor,
                    on_event=self._on_event(launch),
                    cancel=launch.cancel,
                    tags=tags,
                    force=request.force,
                    retries=request.retries,
                    retry_on_error=request.retry_on_error,
                    max_cost=request.max_cost,
                )
        except MlopsError as exc:
            if launch.cancel.is_set():  # a cancelled run may end in an error: still KILLED
                self.log.info("jupyter-mlops: pipeline %s cancelled (%s)", launch.path, exc)
            else:
                error = strip_root(str(exc), self.root)
                self.log.warning("jupyter-mlops: pipeline %s failed: %s", launch.path, exc)
        except BaseException:
            error = UNEXPECTED
            self.log.exception("jupyter-mlops: pipeline %s failed", launch.path)
        with self._lock:
            self._finish(launch, result, error)
            ended = launch.to_dict()
        for listener in list(self.listeners):
            try:
                listener(ended)
            except Exception:
                self.log.exception("jupyter-mlops: a listener of ended launches failed")

    def _on_event(self, launch: Launch) -> Callable[[ProgressEvent], None]:
        def on_event(event: ProgressEvent) -> None:
            with self._lock:
                self._apply(launch, event)

        return on_event

    def _apply(self, launch: Launch, event: ProgressEvent) -> None:
        if event.run_id:
            launch.run_id = event.run_id
        if event.kind == "planned":
            launch.status = RUNNING
            by_index = {e["index"]: e for e in launch.executions}
            for execution in event.executions:
                entry = by_index.get(execution.index)
                if entry is None:
                    launch.executions.append(execution_entry(execution))
                else:
                    entry["run_id"] = execution.run_id
                launch.experiment_id = execution.env.get("MLFLOW_EXPERIMENT_ID") or (
                    launch.experiment_id
                )
        elif event.kind == "started" and event.execution is not None:
            launch.status = RUNNING
            entry = self._entry(launch, event.execution)
            entry.update(status=RUNNING, attempt=event.execution.attempt, progress=None)
            entry["run_id"] = event.execution.run_id or entry["run_id"]
        elif event.kind == "progress" and event.execution is not None and event.progress:
            self._entry(launch, event.execution)["progress"] = dict(event.progress)
        elif event.kind == "retrying" and event.execution is not None and event.result:
            self._retrying(launch, event.execution, event.result)
        elif event.kind == "finished" and event.result is not None:
            self._record(launch, event.result, event.execution)
        # "done": the status is set by _finish, with the final results, once run_plan returns

    def _entry(self, launch: Launch, execution: Execution) -> dict[str, Any]:
        for entry in launch.executions:
            if entry["index"] == execution.index:
                return entry
        entry = execution_entry(execution)
        launch.executions.append(entry)
        return entry

    def _retrying(self, launch: Launch, execution: Execution, ended: ExecutionResult) -> None:
        """Attempt ``ended`` is over; ``execution`` (the next attempt, a new run) waits its turn."""
        why = f"attempt {ended.attempt} ended {ended.status} ({ended.reason}); retrying"
        self._entry(launch, execution).update(
            status=PENDING,
            reason=None,
            error=why,
            run_id=execution.run_id,
            attempt=execution.attempt,
            progress=None,
        )

    def _record(self, launch: Launch, result: ExecutionResult, execution: Execution | None) -> None:
        entry = next((e for e in launch.executions if e["index"] == result.index), None)
        if entry is None:
            if execution is None:
                return
            entry = self._entry(launch, execution)
        entry.update(
            status=result.status,
            reason=result.reason,
            error=strip_root(result.error, self.root) if result.error else None,
            duration=result.duration,
            output=self._output(result.output, execution),
            attempt=result.attempt,
            cache_hit=result.cache_hit,
            metrics=user_metrics(result.metrics),
        )

    def _output(self, output: str | None, execution: Execution | None) -> str | None:
        """The output notebook relative to the root, when it exists there."""
        if not output:
            return None
        path = Path(output)
        if not path.is_absolute() and execution is not None:
            path = Path(execution.cwd) / path
        try:
            real = path.resolve()
            return relative(self.root, real) if real.is_file() else None
        except (OSError, ValueError):
            return None

    def _finish(self, launch: Launch, result: PipelineResult | None, error: str | None) -> None:
        if result is not None:
            by_index = {e.index: e for e in result.executions}
            for item in result.results:
                self._record(launch, item, by_index.get(item.index))
            launch.run_id = result.run_id or launch.run_id
            launch.experiment_id = result.experiment_id or launch.experiment_id
            launch.status = result.status
        elif error is not None:
            launch.status, launch.error = FAILED, error
        else:  # cancelled before it started
            launch.status = KILLED
        for entry in launch.executions:
            if entry["status"] not in TERMINAL:
                entry["status"] = KILLED
                entry["reason"] = entry["reason"] or ("error" if error else "cancelled")
        if launch.status not in TERMINAL:
            launch.status = FAILED if error else KILLED
        launch.ended = time.time()

    # -- reading, cancelling, stopping ------------------------------------------------------

    def _find(self, launch_id: str) -> Launch:
        launch = self._launches.get(launch_id)
        if launch is None:
            raise NotFoundError(
                f"No pipeline run {launch_id[:40]!r} on this server.",
                hint="launches are kept in memory: the server may have restarted; "
                "the MLflow runs are in the Runs view",
            )
        return launch

    def get(self, launch_id: str) -> dict[str, Any]:
        """One Launch; :class:`NotFoundError` for an unknown (or forgotten) id."""
        with self._lock:
            return self._find(launch_id).to_dict()

    def list(self) -> list[dict[str, Any]]:
        """Every Launch kept, newest first."""
        with self._lock:
            launches = sorted(self._launches.values(), key=lambda launch: -launch.started)
            return [launch.to_dict() for launch in launches]

    def cancel(self, launch_id: str) -> dict[str, Any]:
        """Ask a launch to stop (its executions end KILLED); a no-op once it ended."""
        with self._lock:
            launch = self._find(launch_id)
            if launch.status not in TERMINAL:
                launch.cancel.set()
            return launch.to_dict()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel every running launch and wait (blocking, up to ``timeout`` s) for them to end."""
        with self._lock:
            self._closed = True
            threads = []
            for launch in self._launches.values():
                if launch.status not in TERMINAL:
                    launch.cancel.set()
                if launch.thread is not None:
                    threads.append(launch.thread)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                frame = sys._current_frames().get(thread.ident or -1)
                where = "".join(traceback.format_stack(frame)) if frame else "(ended)"
                self.log.warning(
                    "jupyter-mlops: a pipeline run did not stop in time; it is at:\n%s", where
                )
