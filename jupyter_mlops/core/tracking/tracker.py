"""``Tracker``: start, log and end MLflow runs on top of the durable spool.

One run is active at a time per tracker. ``start_run`` talks to the store
(get-or-create the experiment race-safely, create the run with its context
tags); every ``log_*`` call validates its input completely, appends to the
run's spool (one ``os.write``) and returns; the spool's writer thread delivers
in the background; ``end_run`` flushes, then marks the run terminated.

Every run also records its environment (``environment/environment.yml`` and
the ``mlops.env.*`` tags, see :mod:`jupyter_mlops.core.environment.run_record`) from a
one-off background thread that ``flush`` and ``end_run`` wait for.

Every run also measures its compute cost (:mod:`jupyter_mlops.core.cost.run_cost`,
``record_cost``): a meter started on its own thread at ``start_run`` logs the
``system/...`` series while the run is active; ``end_run`` stops it and logs the
cost metrics (``cost_usd``, ``cpu_core_hours``, ...) and the pricing tags first.

Under a pipeline execution (``$JUPYTER_MLOPS_RUN_ID``) the tracker *attaches*
to the execution's run instead: see :mod:`jupyter_mlops.core.tracking.attach`.

MLflow is imported lazily (on the first ``start_run``), never on the logging
hot path.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tracking import context, fluent
from jupyter_mlops.core.tracking.adopt import adoptable_run, adopted_run, default_experiment
from jupyter_mlops.core.tracking.adopt import mlflow_tracking_uri as fluent_tracking_uri
from jupyter_mlops.core.tracking.attach import (
    attached_run,
    executor_process,
    pipeline_run_id,
    pipeline_tracking_uri,
)
from jupyter_mlops.core.tracking.spool import Spool, format_metric, format_param, format_tag
from jupyter_mlops.core.tracking.store import experiment_id as store_experiment_id
from jupyter_mlops.core.tracking.store import get_client, redact_uri
from jupyter_mlops.core.tracking.validation import (
    check_key,
    check_step,
    check_timestamp,
    metric_value,
    param_value,
    tag_value,
)
from jupyter_mlops.exceptions import (
    InvalidValueError,
    MlopsError,
    RunStateError,
    StoreError,
)

if TYPE_CHECKING:
    from jupyter_mlops.core.artifacts.queue import ArtifactQueue
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.cost.run_cost import RunCost
    from jupyter_mlops.core.environment.run_record import EnvironmentJob

__all__ = ["TERMINAL_STATUSES", "RunInfo", "Tracker"]

TERMINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_log = logging.getLogger("jupyter_mlops.tracking")


@dataclass(frozen=True)
class RunInfo:
    """The identity of a run started by a :class:`Tracker`."""

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


@dataclass
class _Frame:
    """A run's tracking state, set aside while a run nested in it is active."""

    active: RunInfo
    spool: Spool
    params: dict[str, str]
    metric_keys: set[str]
    env_job: EnvironmentJob | None
    run_cost: RunCost | None
    attached: bool
    pushed: int | None
    provisional: bool
    artifacts: ArtifactQueue | None


def _atexit_close(ref: weakref.ref[Tracker]) -> None:
    tracker = ref()
    if tracker is not None:
        tracker.close()


def _no_run() -> RunStateError:
    return RunStateError(
        "No active run.",
        hint="start one with %mlops start or jupyter_mlops.start_run()",
    )


class Tracker:
    """Runs, metrics, params and tags for one tracking store, delivered through a spool.

    Spools of dead processes found in ``spool_dir`` are replayed in a
    background thread when the tracker is built. At interpreter exit an
    active run is flushed and ended ``FINISHED`` (as MLflow does); a process
    that is killed instead leaves its spool to that recovery, which marks the
    run ``KILLED``.
    """

    end_timeout = 30.0
    """Seconds ``end_run`` waits for delivery before giving up (the run then stays active)."""
    close_timeout = 3.0
    """Seconds ``close`` (interpreter exit) waits; a kernel is killed soon after it exits."""
    record_environment = True
    """Log the environment with every run (``environment/environment.yml``, ``mlops.env.hash``)."""
    record_notebook = True
    """Log the notebook as saved and its nbconvert HTML report when a run ends
    (``notebook/<name>.ipynb`` and ``.html``, rendered off the caller's path)."""
    record_cost = True
    """Measure every run's compute cost in this process tree (:mod:`~jupyter_mlops.core.cost.run_cost`):
    ``system/...`` series while it runs, cost metrics and pricing tags at its end."""

    def __init__(
        self,
        tracking_uri: str,
        spool_dir: Path,
        flush_interval: float = 0.5,
        project: str | None = None,
        *,
        pricing: Callable[[], PricingModel] | None = None,
        cost_interval: float = 1.0,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.pricing = pricing
        self.cost_interval = cost_interval
        self._run_cost: RunCost | None = None
        self.spool_dir = Path(spool_dir)
        self.flush_interval = flush_interval
        self.project = project
        self._lock = threading.RLock()
        self._active: RunInfo | None = None
        self._spool: Spool | None = None
        self._params: dict[str, str] = {}
        self._metric_keys: set[str] = set()
        self._env_job: EnvironmentJob | None = None
        self._attached = False  # the active run is a pipeline execution's (core.attach)
        self._pushed: int | None = None  # thread whose MLflow run stack holds the active run
        self._provisional = False  # the active run was adopted by a log call, not a start
        self._artifacts: ArtifactQueue | None = None  # the active run's, made on first use
        self._parents: list[_Frame] = []  # runs the active (nested) run is nested in
        self._closed = False
        self._pid = os.getpid()
        self._recovery = threading.Thread(
            target=self._recover, name="jupyter-mlops-recovery", daemon=True
        )
        self._recovery.start()
        atexit.register(_atexit_close, weakref.ref(self))

    # -- recovery -------------------------------------------------------------------------

    def _recover(self) -> None:
        from jupyter_mlops.core.tracking.recovery import recover_orphans

        try:
            recover_orphans(self.spool_dir, tracking_uri=self.tracking_uri)
        except Exception as exc:  # recovery is best effort; the spools stay for next time
            _log.warning("jupyter-mlops: recovery of old spools failed: %s", exc)
        try:  # runs MLflow itself made in kernels that died (core.mlflow_context)
            client = get_client(self.tracking_uri)  # imports MLflow one thread at a time
            from jupyter_mlops.core.tracking.mlflow_context import end_orphaned_runs

            end_orphaned_runs(client)
        except Exception as exc:
            _log.debug("jupyter-mlops: no sweep of MLflow's orphaned runs: %s", exc)

    def wait_for_recovery(self, timeout: float | None = None) -> None:
        """Wait until the start-up replay of orphaned spools is done."""
        self._recovery.join(timeout)

    # -- runs -----------------------------------------------------------------------------

    @property
    def active(self) -> RunInfo | None:
        """The active run, or None (a run MLflow's ``end_run`` ended is no longer active)."""
        if self._pushed is not None:
            self._sync_with_mlflow()
        return self._active

    def _sync_with_mlflow(self) -> None:
        """Close our side of a run that the user ended with ``mlflow.end_run()``."""
        info = self._active
        if info is None or self._pushed != threading.get_ident():
            return
        if fluent.active_run_id() is not None:
            return
        self._end_cost()  # without the lock: the meter's thread logs through it
        with self._lock:
            spool = self._spool
            if self._active is not info or spool is None:
                return
            try:
                spool.flush(self._wait_for_environment(self.end_timeout))
            except MlopsError as exc:  # the spool stays; recovery delivers it after exit
                _log.warning("jupyter-mlops: %s", exc)
                spool.close()
            else:
                spool.close(delete=True)
            self._pop_frame()

    def start_run(
        self,
        *,
        experiment: str | None = None,
        run_name: str | None = None,
        project: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, object] | None = None,
        notebook: str | None = None,
        nested: bool = False,
    ) -> RunInfo:
        """Start a run, make it active here and MLflow's active run in this thread.

        If MLflow has an active run (``mlflow.start_run()``) or ``$MLFLOW_RUN_ID``
        is set, that run is *adopted* instead (see :mod:`.adopt`). ``nested``
        starts a child of the active run. The experiment defaults to the one
        chosen with ``mlflow.set_experiment``, then ``$MLFLOW_EXPERIMENT_NAME``,
        the notebook's file stem, ``Default``. Context tags (notebook, git,
        user, host, kernel, project) are added to ``tags``; ``params`` are
        logged. Raises :class:`RunStateError` if a run is already active (and
        ``nested`` is not set), :class:`InvalidValueError` for bad tags or
        params (nothing is created) and :class:`StoreError` if the store fails.
        """
        with self._lock:
            if self._closed:
                raise RunStateError("This tracker is closed.", hint="create a new Tracker")
            self._sync_with_mlflow()
            if self._active is not None and self._provisional and not nested:
                return self._complete_adoption(tags, params, notebook, project)
            if self._active is not None and not self._attached and not nested:
                raise RunStateError(
                    f"Run {self._active.run_name!r} ({self._active.run_id}) is already active.",
                    hint="end it first with %mlops end or jupyter_mlops.end_run(), "
                    "or start a child run with %mlops start --nested",
                    run_id=self._active.run_id,
                )
            user_tags = {check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
            param_values = {
                check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()
            }
            if self._active is not None and not nested:  # attached already: the same run
                self.set_tags(user_tags)
                self.log_params({k: v for k, v in param_values.items() if k not in self._params})
                return self._active
            attach_id = pipeline_run_id() if not nested else None
            if attach_id is not None:  # under jupyter mlops run: the execution's run
                return self._attach(attach_id, user_tags, param_values)
            nb, run_tags = self._run_tags(notebook, project, user_tags)
            adopt_id = None if nested else adoptable_run()
            if adopt_id is not None:
                return self._adopt(adopt_id, run_tags, param_values, notebook=nb)
            parent = fluent.active_run_id() or (self._active.run_id if self._active else None)
            if nested:
                if parent is None:
                    raise RunStateError(
                        "No active run to nest a child run in.",
                        hint="start the parent run first (%mlops start), or leave out --nested",
                    )
                run_tags["mlflow.parentRunId"] = parent
            client, info = self._create_run(experiment, run_name, run_tags, nb, parent)
            self._activate(info, client, param_values, measure=not nested)
            self._push_to_mlflow(info, nested=parent is not None and nested)
            return info

    def _run_tags(
        self, notebook: str | None, project: str | None, user_tags: Mapping[str, str]
    ) -> tuple[str | None, dict[str, str]]:
        """The notebook and the tags a start puts on its run: context, the user's, the project."""
        nb = notebook if notebook is not None else context.notebook_path()
        project = project or self.project
        run_tags = context.run_context_tags(notebook=nb, project=project)
        run_tags.update(user_tags)
        if project:
            run_tags["mlops.project"] = project
        return nb, run_tags

    def _create_run(
        self,
        experiment: str | None,
        run_name: str | None,
        run_tags: dict[str, str],
        nb: str | None,
        parent: str | None,
    ) -> tuple[Any, RunInfo]:
        """Create the run in the store (with the lock); the client and its :class:`RunInfo`."""
        try:
            client = get_client(self.tracking_uri)
            if experiment is None and parent is not None:  # a child goes with its parent
                experiment_id = str(client.get_run(parent).info.experiment_id)
                name = str(client.get_experiment(experiment_id).name)
            else:
                found, name = (None, experiment) if experiment else default_experiment(client, nb)
                experiment_id = found or store_experiment_id(client, name, self.tracking_uri)
            run = client.create_run(experiment_id, run_name=run_name, tags=run_tags)
        except MlopsError:
            raise
        except Exception as exc:
            if getattr(exc, "error_code", None) == "INVALID_PARAMETER_VALUE":
                raise InvalidValueError(str(exc), notebook=nb) from exc
            raise StoreError(
                f"Could not start a run in {redact_uri(self.tracking_uri)}: {exc}",
                hint="check that the tracking store is reachable (MLFLOW_TRACKING_URI)",
                notebook=nb,
            ) from exc
        info = RunInfo(
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            experiment_name=name,
            run_name=run.info.run_name or "",
            tracking_uri=self.tracking_uri,
            start_time=int(run.info.start_time),
        )
        return client, info

    def _adopt(
        self,
        run_id: str,
        run_tags: dict[str, str],
        params: dict[str, str],
        *,
        notebook: str | None = None,
        light: bool = False,
    ) -> RunInfo:
        """Make MLflow's run ``run_id`` ours too (with the lock): tags, params, environment, cost.

        ``light`` (a log before any start): only a spool, so that the values land in it.
        """
        uri = fluent_tracking_uri(self.tracking_uri)
        client = get_client(uri)
        info, existing = adopted_run(client, run_id, uri)
        clashes = sorted(k for k, v in params.items() if existing.get(k, v) != v)
        if clashes:
            _log.warning(
                "jupyter-mlops: run %s already has other values for params %s; kept them",
                run_id,
                ", ".join(clashes),
            )
        new = {k: v for k, v in params.items() if k not in existing}
        self._activate(info, client, new, measure=not light, known_params=existing)
        if run_tags:
            self.set_tags(run_tags)
        if not light:
            self._push_to_mlflow(info, nested=False)
        else:
            self._provisional = True
            if fluent.active_run_id() == run_id:
                self._pushed = threading.get_ident()  # MLflow's run already: MLflow may end it
        return info

    def _complete_adoption(
        self,
        tags: Mapping[str, str] | None,
        params: Mapping[str, object] | None,
        notebook: str | None,
        project: str | None,
    ) -> RunInfo:
        """A start after a log adopted MLflow's run: add what a start adds (with the lock)."""
        info, spool = self._active, self._spool
        assert info is not None
        assert spool is not None
        user_tags = {check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
        self.set_tags(self._run_tags(notebook, project, user_tags)[1])
        values = {check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()}
        self.log_params({k: v for k, v in values.items() if k not in self._params})
        self._provisional = False
        self._start_measuring(info, spool.client)
        if fluent.active_run_id() is None:
            self._push_to_mlflow(info, nested=False)
        return info

    @property
    def provisional(self) -> bool:
        """Whether the active run was adopted by a log call (a start completes the adoption)."""
        return self._provisional

    def _activate(
        self,
        info: RunInfo,
        client: Any,
        param_values: Mapping[str, str],
        *,
        measure: bool,
        known_params: Mapping[str, str] | None = None,
    ) -> None:
        """Make ``info`` the active run (with the lock): spool, params, environment and cost."""
        try:
            spool = Spool.create(
                self.spool_dir,
                info.run_id,
                info.tracking_uri,
                flush_interval=self.flush_interval,
                client=client,
            )
        except OSError as exc:  # no spool, no durable logging: do not leave the run RUNNING
            if known_params is None:
                client.set_terminated(info.run_id, "FAILED")
            raise StoreError(
                f"Cannot write the metric spool in {self.spool_dir}: {exc}",
                hint="set JUPYTER_MLOPS_SPOOL_DIR (or c.MlopsConfig.spool_dir) to a "
                "writable folder",
                run_id=info.run_id,
            ) from exc
        self._push_frame()
        self._active, self._spool = info, spool
        self._params, self._metric_keys = {**(known_params or {}), **param_values}, set()
        if param_values:
            spool.append("".join(format_param(k, v) for k, v in param_values.items()))
        if measure:
            self._start_measuring(info, client)

    def _start_measuring(self, info: RunInfo, client: Any) -> None:
        """Record the active run's environment and cost, in the background (with the lock)."""
        if self.record_environment:  # in the background; flush and end_run wait for it
            from jupyter_mlops.core.environment.run_record import EnvironmentJob

            self._env_job = EnvironmentJob(client, info.run_id)
        if self.record_cost:  # measured on its own threads; start_run does not wait
            from jupyter_mlops.core.cost.run_cost import RunCost

            run_id = info.run_id
            self._run_cost = RunCost(
                lambda points: self._log_series(run_id, points),
                self.pricing,
                interval=self.cost_interval,
            )

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
        self._pushed = threading.get_ident()

    def _push_frame(self) -> None:
        """Set the active run's state aside (a nested run starts); with the lock."""
        if self._active is None or self._spool is None:
            return
        self._parents.append(
            _Frame(
                self._active,
                self._spool,
                self._params,
                self._metric_keys,
                self._env_job,
                self._run_cost,
                self._attached,
                self._pushed,
                self._provisional,
                self._artifacts,
            )
        )
        self._env_job = self._run_cost = None
        self._artifacts = None
        self._attached, self._pushed, self._provisional = False, None, False

    def _pop_frame(self) -> None:
        """The active run is over: its parent (if any) is active again; with the lock."""
        self._active = self._spool = None
        self._attached, self._pushed, self._provisional = False, None, False
        self._params, self._metric_keys = {}, set()
        self._env_job = self._run_cost = None
        self._artifacts = None
        if self._parents:
            frame = self._parents.pop()
            self._active, self._spool = frame.active, frame.spool
            self._params, self._metric_keys = frame.params, frame.metric_keys
            self._env_job, self._run_cost = frame.env_job, frame.run_cost
            self._attached, self._pushed = frame.attached, frame.pushed
            self._provisional = frame.provisional
            self._artifacts = frame.artifacts

    def _attach(
        self, run_id: str, tags: dict[str, str], params: dict[str, str], *, push: bool = True
    ) -> RunInfo:
        """Make the pipeline execution's run ``run_id`` active (see :mod:`.attach`); with the lock."""
        uri = pipeline_tracking_uri(self.tracking_uri)
        client = get_client(uri)
        info, existing = attached_run(client, run_id, uri, tags)
        try:
            spool = Spool.create(
                self.spool_dir,
                run_id,
                uri,
                flush_interval=self.flush_interval,
                client=client,
                status_owner=executor_process(),
            )
        except OSError as exc:
            raise StoreError(
                f"Cannot write the metric spool in {self.spool_dir}: {exc}",
                hint="set JUPYTER_MLOPS_SPOOL_DIR to a writable folder",
                run_id=run_id,
            ) from exc
        self._push_frame()
        self._active, self._spool, self._attached = info, spool, True
        self._params, self._metric_keys = existing, set()
        new = {k: v for k, v in params.items() if k not in existing}
        if new:
            spool.append("".join(format_param(k, v) for k, v in new.items()))
            self._params.update(new)
        if push and fluent.active_run_id() is None:  # the user's own run is never replaced
            self._push_to_mlflow(info, nested=False)
        return info

    def _auto_attach(self) -> Spool:
        """The active spool: a log before any start attaches to the pipeline execution's
        run, or adopts MLflow's active run, if there is one."""
        with self._lock:
            if self._spool is None:
                if self._closed:
                    raise _no_run()
                run_id = pipeline_run_id()
                if run_id is not None:
                    self._attach(run_id, {}, {}, push=False)
                else:
                    adopt_id = adoptable_run()
                    if adopt_id is None:
                        raise _no_run()
                    self._adopt(adopt_id, {}, {}, light=True)
            assert self._spool is not None
            return self._spool

    def _log_series(self, run_id: str, points: Mapping[str, float]) -> None:
        """One point of the run's ``system/...`` series (from the cost meter's thread)."""
        with self._lock:
            if self._active is not None and self._active.run_id == run_id:
                self.log_metrics(points)

    def _end_cost(self, timeout: float = 10.0) -> None:
        """Stop the run's cost meter and spool its metrics and pricing tags (call without the lock)."""
        run_cost, self._run_cost = self._run_cost, None
        if run_cost is None:
            return
        result = run_cost.finish(timeout)
        if result is None:
            return
        metrics, tags = result
        try:
            self.log_metrics(metrics)
            self.set_tags(tags)
        except MlopsError as exc:
            _log.warning("jupyter-mlops: the run's cost was not logged: %s", exc)

    def _require_spool(self) -> Spool:
        spool = self._spool
        return spool if spool is not None else self._auto_attach()

    # -- logging (hot path) ---------------------------------------------------------------

    def _metric_line(self, key: str, value: float, step: int | None, timestamp: int | None) -> str:
        if key not in self._metric_keys:
            check_key(key, "metric")
            self._metric_keys.add(key)
        if type(value) is not float:
            value = metric_value(key, value)
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        elif type(timestamp) is not int or not 0 <= timestamp <= _INT64_MAX:
            timestamp = check_timestamp(key, timestamp)
        if step is None:
            step = 0
        elif type(step) is not int or not _INT64_MIN <= step <= _INT64_MAX:
            step = check_step(key, step)
        if value - value == 0.0:  # finite: the common case, formatted inline
            return f'["m","{key}",{value!r},{timestamp},{step}]\n'
        return format_metric(key, value, timestamp, step)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Validate and spool one metric point (microseconds; delivered in the background)."""
        spool = self._spool
        if spool is None:
            spool = self._auto_attach()
        spool.append(self._metric_line(key, value, step, timestamp))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Validate every metric, then spool them all in one write (nothing partial)."""
        spool = self._require_spool()
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        lines = [self._metric_line(k, v, step, timestamp) for k, v in metrics.items()]
        if lines:
            spool.append("".join(lines))

    def log_param(self, key: str, value: object) -> None:
        """Spool a param; the same key with another value is an :class:`InvalidValueError`."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Validate every param (immutability included), then spool the new ones together."""
        with self._lock:
            spool = self._require_spool()
            new: dict[str, str] = {}
            for key, value in params.items():
                check_key(key, "param")
                text = param_value(key, value)
                old = self._params.get(key)
                if old is not None and old != text:
                    raise InvalidValueError(
                        f"Param {key!r} was already logged as {old!r:.100} in this run; "
                        f"MLflow params cannot change (new value {text!r:.100}).",
                        hint="log it under another key, or start a new run",
                        run_id=spool.run_id,
                    )
                if old is None:
                    new[key] = text
            if new:
                spool.append("".join(format_param(k, v) for k, v in new.items()))
                self._params.update(new)

    def set_tag(self, key: str, value: object) -> None:
        """Spool a tag (tags can be overwritten)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Validate every tag, then spool them together."""
        spool = self._require_spool()
        lines = [format_tag(check_key(k, "tag"), tag_value(k, v)) for k, v in tags.items()]
        if lines:
            spool.append("".join(lines))

    # -- artifacts (durable, uploaded in the background: core.artifacts) ------------------

    def notebook_file(self) -> Path | None:
        """The notebook this process runs, if it is a saved ``.ipynb`` (for its report)."""
        nb = context.notebook_file()
        return nb if nb is not None and nb.suffix == ".ipynb" and nb.is_file() else None

    def artifacts(self) -> ArtifactQueue:
        """The active run's artifact queue (made on first use; attaches/adopts like a log)."""
        with self._lock:
            spool = self._require_spool()
            info = self._active
            assert info is not None
            if self._artifacts is None or self._artifacts.run_id != info.run_id:
                self._artifacts = self._new_queue(info, spool)
            return self._artifacts

    def _new_queue(self, info: RunInfo, spool: Spool) -> ArtifactQueue:
        from jupyter_mlops.core.artifacts.queue import ArtifactQueue

        return ArtifactQueue(
            self.spool_dir,
            info.run_id,
            info.tracking_uri,
            client=spool.client,
            flush_interval=self.flush_interval,
        )

    # -- flushing and ending --------------------------------------------------------------

    def _wait_for_environment(self, timeout: float | None) -> float | None:
        """Wait for the run's environment to be logged; what is left of ``timeout``."""
        job, start = self._env_job, time.monotonic()
        if job is not None and job.wait(timeout):
            self._env_job = None
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - start))

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything logged so far is in the store (:class:`StoreError` on timeout)."""
        timeout = self._wait_for_environment(timeout)
        spool, queue, start = self._spool, self._artifacts, time.monotonic()
        if spool is not None:
            spool.flush(timeout)
        if queue is not None:
            queue.flush(None if timeout is None else max(0.0, timeout - (time.monotonic() - start)))

    def pending_count(self) -> int:
        """Records of the active run not yet in the store (0 without a run)."""
        spool = self._spool
        return spool.pending() if spool is not None else 0

    def end_run(self, status: str = "FINISHED") -> RunInfo:
        """Flush everything, mark the run ``status`` (for MLflow too) and make no run active.

        After a nested run its parent is the active run again. A pipeline
        execution's run (:mod:`.attach`) is flushed and detached only: its
        status is the executor's to set.

        If the store cannot be reached, :class:`StoreError` is raised and the
        run stays active (its records stay spooled): call ``end_run`` again.
        """
        status = str(status).upper()
        if status not in TERMINAL_STATUSES:
            raise InvalidValueError(
                f"Unknown run status {status!r}; use one of {', '.join(TERMINAL_STATUSES)}."
            )
        if self.active is None:
            raise _no_run()
        self._end_cost()
        with self._lock:
            info, spool = self._active, self._spool
            if info is None or spool is None:
                raise _no_run()
            self._finish(info, spool, status, timeout=self.end_timeout)
            return info

    def _finish(self, info: RunInfo, spool: Spool, status: str, timeout: float) -> None:
        start = time.monotonic()
        spool.flush(self._wait_for_environment(timeout))
        if self._artifacts is not None:
            self._artifacts.flush(max(0.0, timeout - (time.monotonic() - start)))
        try:
            if not self._attached:
                on_stack = self._pushed == threading.get_ident()
                if not (on_stack and fluent.end(info.run_id, status)):
                    spool.client.set_terminated(info.run_id, status)
        except Exception as exc:
            raise StoreError(
                f"Could not mark run {info.run_id} {status}: {exc}",
                hint="check that the tracking store is reachable, then end the run again",
                run_id=info.run_id,
            ) from exc
        spool.close(delete=True)
        self._report(info, spool)
        self._pop_frame()

    def _report(self, info: RunInfo, spool: Spool) -> None:
        """The notebook as saved and its HTML report on an ended top-level run (in the background)."""
        queue = self._artifacts
        try:
            nb = None if self._attached or self._parents else self.notebook_file()
            if nb is not None and self.record_notebook:
                queue = queue or self._new_queue(info, spool)
                queue.log_report(nb)
        except MlopsError as exc:
            _log.warning("jupyter-mlops: no notebook report for run %s: %s", info.run_id, exc)
        finally:
            if queue is not None:
                queue.close()

    def close(self) -> None:
        """Flush and end the active runs (``FINISHED``, nested ones first); called at exit.

        If the store cannot be reached in time, the spool is left for the next
        tracker's recovery, which delivers it and ends the run ``FINISHED``.
        In a forked child (another pid) nothing is ended: the run is the parent's.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            if os.getpid() == self._pid and self._active is not None:
                self._end_cost(self.close_timeout)
            with self._lock:
                info, spool = self._active, self._spool
                if info is None or spool is None:
                    return
                if os.getpid() != self._pid:
                    try:
                        spool.flush(self.close_timeout)
                    except MlopsError as exc:
                        _log.warning("jupyter-mlops: %s", exc)
                    return
                if not self._attached:
                    spool.mark_ended("FINISHED", time.time_ns() // 1_000_000)
                try:
                    self._finish(info, spool, "FINISHED", timeout=self.close_timeout)
                except MlopsError as exc:
                    _log.warning(
                        "jupyter-mlops: %s; run %s is left for recovery.", exc, info.run_id
                    )
                    spool.close()
                    self._pop_frame()
