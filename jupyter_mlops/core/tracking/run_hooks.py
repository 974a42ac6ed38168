"""What a tracker records beside the user's values: environment, compute cost, artifacts, report.

* The environment (``environment/environment.yml`` and the ``mlops.env.*`` tags,
  :mod:`jupyter_mlops.core.environment.run_record`) is logged from a one-off
  background thread that ``flush`` and ``end_run`` wait for.
* The compute cost (:mod:`jupyter_mlops.core.cost.run_cost`): a meter started on its
  own thread logs the ``system/...`` series while the run is active; the end of the
  run stops it and logs the cost metrics (``cost_usd``, ``cpu_core_hours``, ...) and
  the pricing tags first.
* Artifacts go through the run's durable queue (:mod:`jupyter_mlops.core.artifacts.queue`);
  an ended top-level run gets the notebook as saved and its HTML report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.models import RunInfo
from jupyter_mlops.core.tracking import context
from jupyter_mlops.core.tracking.run_logging import RunLogging
from jupyter_mlops.exceptions import MlopsError

if TYPE_CHECKING:
    from jupyter_mlops.core.artifacts.queue import ArtifactQueue
    from jupyter_mlops.core.tracking.spool import Spool

__all__ = ["RunHooks"]

_log = logging.getLogger("jupyter_mlops.tracking")


class RunHooks(RunLogging):
    """Environment and cost at a run's start, artifacts while it runs, the report at its end."""

    record_environment = True
    """Log the environment with every run (``environment/environment.yml``, ``mlops.env.hash``)."""
    record_notebook = True
    """Log the notebook as saved and its nbconvert HTML report when a run ends
    (``notebook/<name>.ipynb`` and ``.html``, rendered off the caller's path)."""
    record_cost = True
    """Measure every run's compute cost in this process tree (:mod:`~jupyter_mlops.core.cost.run_cost`):
    ``system/...`` series while it runs, cost metrics and pricing tags at its end."""

    # -- environment and cost ---------------------------------------------------------------

    def _start_measuring(self, info: RunInfo, client: Any) -> None:
        """Record the active run's environment and cost, in the background (with the lock)."""
        if self.record_environment:  # in the background; flush and end_run wait for it
            from jupyter_mlops.core.environment.run_record import EnvironmentJob

            self._run.env_job = EnvironmentJob(client, info.run_id)
        if self.record_cost:  # measured on its own threads; start_run does not wait
            from jupyter_mlops.core.cost.run_cost import RunCost, RunCostBooking

            run_id, state = info.run_id, self._run
            self._run.run_cost = RunCost(
                lambda points: self._log_series(run_id, points),
                self.pricing,
                interval=self.cost_interval,
                booking=RunCostBooking(
                    run_id, lambda: dict(state.tags), self.cost_ledger_url, info.tracking_uri
                ),
            )

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Validate every tag, then spool them together (the run's cost is booked under them)."""
        super().set_tags(tags)
        self._run.tags.update({str(k): str(v) for k, v in tags.items()})

    def _log_series(self, run_id: str, points: Mapping[str, float]) -> None:
        """One point of the run's ``system/...`` series (from the cost meter's thread)."""
        with self._lock:
            active = self._run.active
            if active is not None and active.run_id == run_id:
                self.log_metrics(points)

    def _end_cost(self, timeout: float = 10.0) -> None:
        """Stop the run's cost meter and spool its metrics and pricing tags (call without the lock)."""
        state = self._run
        run_cost, state.run_cost = state.run_cost, None
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

    def _wait_for_environment(self, timeout: float | None) -> float | None:
        """Wait for the run's environment to be logged; what is left of ``timeout``."""
        state = self._run
        job, start = state.env_job, time.monotonic()
        if job is not None and job.wait(timeout):
            state.env_job = None
        return None if timeout is None else max(0.0, timeout - (time.monotonic() - start))

    # -- artifacts (durable, uploaded in the background: core.artifacts) ------------------

    def notebook_file(self) -> Path | None:
        """The notebook this process runs, if it is a saved ``.ipynb`` (for its report)."""
        nb = context.notebook_file()
        return nb if nb is not None and nb.suffix == ".ipynb" and nb.is_file() else None

    def artifacts(self) -> ArtifactQueue:
        """The active run's artifact queue (made on first use; attaches/adopts like a log)."""
        with self._lock:
            spool = self._require_spool()
            state = self._run
            info = state.active
            assert info is not None
            if state.artifacts is None or state.artifacts.run_id != info.run_id:
                state.artifacts = self._new_queue(info, spool)
            return state.artifacts

    def _new_queue(self, info: RunInfo, spool: Spool) -> ArtifactQueue:
        from jupyter_mlops.core.artifacts.queue import ArtifactQueue

        return ArtifactQueue(
            self.spool_dir,
            info.run_id,
            info.tracking_uri,
            client=spool.client,
            flush_interval=self.flush_interval,
        )

    def _report(self, info: RunInfo, spool: Spool) -> None:
        """The notebook as saved and its HTML report on an ended top-level run (in the background)."""
        queue = self._run.artifacts
        try:
            nb = None if self._run.attached or self._parents else self.notebook_file()
            if nb is not None and self.record_notebook:
                queue = queue or self._new_queue(info, spool)
                queue.log_report(nb)
        except MlopsError as exc:
            _log.warning("jupyter-mlops: no notebook report for run %s: %s", info.run_id, exc)
        finally:
            if queue is not None:
                queue.close()
