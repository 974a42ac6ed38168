"""``Tracker``: start, log and end MLflow runs on top of the durable spool.

One run is active at a time per tracker. ``start_run`` talks to the store
(get-or-create the experiment race-safely, create the run with its context
tags: :mod:`.run_start`); every ``log_*`` call validates its input completely,
appends to the run's spool (one ``os.write``) and returns (:mod:`.run_logging`);
the spool's writer thread delivers in the background; ``end_run`` flushes, then
marks the run terminated.

Every run also records its environment and measures its compute cost, and an
ended top-level run gets its notebook report (:mod:`.run_hooks`). A run's state,
and the stack of runs a nested run is nested in, is :mod:`.run_state`'s.

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
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.core.models import FINISHED, TERMINAL_STATUSES, RunInfo
from jupyter_mlops.core.tracking import fluent
from jupyter_mlops.core.tracking.adopt import adoptable_run
from jupyter_mlops.core.tracking.attach import pipeline_run_id
from jupyter_mlops.core.tracking.run_start import RunStart
from jupyter_mlops.core.tracking.run_state import no_run
from jupyter_mlops.core.tracking.store import get_client
from jupyter_mlops.core.tracking.validation import check_key, param_value, tag_value
from jupyter_mlops.exceptions import InvalidValueError, MlopsError, RunStateError, StoreError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.tracking.spool import Spool

__all__ = ["TERMINAL_STATUSES", "RunInfo", "Tracker"]

_log = logging.getLogger("jupyter_mlops.tracking")


def _atexit_close(ref: weakref.ref[Tracker]) -> None:
    tracker = ref()
    if tracker is not None:
        tracker.close()


class Tracker(RunStart):
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

    def __init__(
        self,
        tracking_uri: str,
        spool_dir: Path,
        flush_interval: float = 0.5,
        project: str | None = None,
        *,
        pricing: Callable[[], PricingModel] | None = None,
        cost_interval: float = 1.0,
        cost_ledger_url: str = "",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.pricing = pricing
        self.cost_interval = cost_interval
        self.cost_ledger_url = cost_ledger_url
        self.spool_dir = Path(spool_dir)
        self.flush_interval = flush_interval
        self.project = project
        self._init_state()
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
        if self._run.pushed is not None:
            self._sync_with_mlflow()
        return self._run.active

    def _sync_with_mlflow(self) -> None:
        """Close our side of a run that the user ended with ``mlflow.end_run()``."""
        info = self._run.active
        if info is None or self._run.pushed != threading.get_ident():
            return
        if fluent.active_run_id() is not None:
            return
        self._end_cost()  # without the lock: the meter's thread logs through it
        with self._lock:
            spool = self._run.spool
            if self._run.active is not info or spool is None:
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
            if self._run.active is not None and self._run.provisional and not nested:
                return self._complete_adoption(tags, params, notebook, project)
            if self._run.active is not None and not self._run.attached and not nested:
                raise RunStateError(
                    f"Run {self._run.active.run_name!r} ({self._run.active.run_id}) is already active.",
                    hint="end it first with %mlops end or jupyter_mlops.end_run(), "
                    "or start a child run with %mlops start --nested",
                    run_id=self._run.active.run_id,
                )
            user_tags = {check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
            param_values = {
                check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()
            }
            if self._run.active is not None and not nested:  # attached already: the same run
                self.set_tags(user_tags)
                self.log_params(
                    {k: v for k, v in param_values.items() if k not in self._run.params}
                )
                return self._run.active
            attach_id = pipeline_run_id() if not nested else None
            if attach_id is not None:  # under jupyter mlops run: the execution's run
                return self._attach(attach_id, user_tags, param_values)
            nb, run_tags = self._run_tags(notebook, project, user_tags)
            adopt_id = None if nested else adoptable_run()
            if adopt_id is not None:
                return self._adopt(adopt_id, run_tags, param_values, notebook=nb)
            parent = fluent.active_run_id() or (
                self._run.active.run_id if self._run.active else None
            )
            if nested:
                if parent is None:
                    raise RunStateError(
                        "No active run to nest a child run in.",
                        hint="start the parent run first (%mlops start), or leave out --nested",
                    )
                run_tags["mlflow.parentRunId"] = parent
            client, info = self._create_run(experiment, run_name, run_tags, nb, parent)
            self._activate(info, client, param_values, measure=not nested)
            self._run.tags.update(run_tags)
            self._push_to_mlflow(info, nested=parent is not None and nested)
            return info

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything logged so far is in the store (:class:`StoreError` on timeout)."""
        timeout = self._wait_for_environment(timeout)
        spool, queue, start = self._run.spool, self._run.artifacts, time.monotonic()
        if spool is not None:
            spool.flush(timeout)
        if queue is not None:
            queue.flush(None if timeout is None else max(0.0, timeout - (time.monotonic() - start)))

    def pending_count(self) -> int:
        """Records of the active run not yet in the store (0 without a run)."""
        spool = self._run.spool
        return spool.pending() if spool is not None else 0

    def end_run(self, status: str = FINISHED) -> RunInfo:
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
            raise no_run()
        self._end_cost()
        with self._lock:
            info, spool = self._run.active, self._run.spool
            if info is None or spool is None:
                raise no_run()
            self._finish(info, spool, status, timeout=self.end_timeout)
            return info

    def _finish(self, info: RunInfo, spool: Spool, status: str, timeout: float) -> None:
        start = time.monotonic()
        spool.flush(self._wait_for_environment(timeout))
        if self._run.artifacts is not None:
            self._run.artifacts.flush(max(0.0, timeout - (time.monotonic() - start)))
        try:
            if not self._run.attached:
                on_stack = self._run.pushed == threading.get_ident()
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
            if os.getpid() == self._pid and self._run.active is not None:
                self._end_cost(self.close_timeout)
            with self._lock:
                info, spool = self._run.active, self._run.spool
                if info is None or spool is None:
                    return
                if os.getpid() != self._pid:
                    try:
                        spool.flush(self.close_timeout)
                    except MlopsError as exc:
                        _log.warning("jupyter-mlops: %s", exc)
                    return
                if not self._run.attached:
                    spool.mark_ended(FINISHED, time.time_ns() // 1_000_000)
                try:
                    self._finish(info, spool, FINISHED, timeout=self.close_timeout)
                except MlopsError as exc:
                    _log.warning(
                        "jupyter-mlops: %s; run %s is left for recovery.", exc, info.run_id
                    )
                    spool.close()
                    self._pop_frame()
