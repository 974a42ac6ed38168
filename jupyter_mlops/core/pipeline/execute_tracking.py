"""The MLflow side of one pipeline execution (used by :func:`.execute.execute`).

The child run already exists (the runner created it) and the runner sets its
terminal status from the result. Here, in the worker:

* at the start, on a thread while the kernel starts: one batch with the
  execution's parameters (MLflow param strings) and the tags
  ``mlops.pipeline.step``, ``mlops.pipeline.trial``, ``mlops.notebook``, then
  the environment (``environment/environment.yml``, ``mlops.env.hash``; the
  snapshot is taken once per worker process);
* while the kernel runs, a :class:`~jupyter_mlops.core.cost.meter.ProcessMeter`
  measures the kernel's process tree (started on a thread once it runs) and
  books it in the cost ledger (:class:`~jupyter_mlops.core.cost.booking.RunBooking`,
  under the run's id, project, notebook and, at the end, its user tags); the
  kernel is told so (``JUPYTER_MLOPS_COST_BOOKER_PID``) and does not book it again;
* at the end: what the notebook spooled and its kernel left undelivered (its
  shutdown is immediate) is delivered, the executed notebook is logged as
  ``notebook/<name>.ipynb`` (on failure too), then the cost metrics
  (``cost_usd``, ``cpu_core_hours``, ...) and pricing tags; the run's latest
  metrics go into the result.

Every step warns and goes on when the store fails: tracking never changes an
execution's status. One ``MlflowClient`` per store and process
(:func:`~jupyter_mlops.core.tracking.store.get_client`), one pricing per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tags import NOTEBOOK, PIPELINE_STEP, PIPELINE_TRIAL
from jupyter_mlops.core.tracking.store import get_client, redact_uri

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.accounting import LiveCost
    from jupyter_mlops.core.cost.booking import RunBooking
    from jupyter_mlops.core.cost.meter import ProcessMeter
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.cost.records import TargetSample
    from jupyter_mlops.core.cost.totals import Totals
    from jupyter_mlops.core.environment import EnvironmentSnapshot
    from jupyter_mlops.core.pipeline.model import Execution, ExecutionResult

__all__ = ["ENV_RUN_ID", "ExecutionTracking", "deliver_leftover_spool", "spool_dir"]

ENV_RUN_ID = "JUPYTER_MLOPS_RUN_ID"
ENV_NOTEBOOK = "JUPYTER_MLOPS_NOTEBOOK"
_BATCH = 100  # MLflow's limit of params (and of tags) per log_batch
_log = logging.getLogger("jupyter_mlops.pipeline")
_pricing: PricingModel | None = None
_snapshot: EnvironmentSnapshot | None = None
_env_warned = False
_cache_lock = threading.Lock()


def spool_dir() -> Path:
    """The spool folder kernels use: ``$JUPYTER_MLOPS_SPOOL_DIR`` or the user data dir.

    The same rule as :func:`jupyter_mlops.config.default_spool_dir` (core does not
    import the config layer); the executor passes it to the kernel explicitly.
    """
    env = os.environ.get("JUPYTER_MLOPS_SPOOL_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jupyter-mlops" / "spool"


def _process_pricing() -> PricingModel:
    """The pricing of this process (built once: the catalogue loads in a few ms)."""
    global _pricing
    with _cache_lock:
        if _pricing is None:
            from jupyter_mlops.core.cost.run_cost import default_pricing

            _pricing = default_pricing()
        return _pricing


def _process_snapshot() -> EnvironmentSnapshot:
    """This interpreter's environment, taken once per worker process (it is the kernels' too
    unless ``kernel_name`` names another one; a sweep does not install packages midway)."""
    global _snapshot
    with _cache_lock:
        if _snapshot is None:
            from jupyter_mlops.core.environment import take_snapshot

            _snapshot = take_snapshot()
        return _snapshot


def _warn(what: str, run_id: str, exc: BaseException) -> None:
    from jupyter_mlops.core.tracking.delivery import scrub_error

    _log.warning("jupyter-mlops: %s of run %s failed: %s", what, run_id, scrub_error(str(exc)))


def notebook_tag(execution: Execution) -> str:
    """``mlops.notebook``: the runner's ``JUPYTER_MLOPS_NOTEBOOK``, else relative to cwd."""
    given = execution.env.get(ENV_NOTEBOOK)
    if given:
        return given
    try:
        rel = os.path.relpath(execution.notebook, os.getcwd())
    except ValueError:  # another drive (Windows)
        return execution.notebook
    return execution.notebook if rel.startswith("..") else rel


def deliver_leftover_spool(folder: Path, run_id: str, tracking_uri: str, client: Any) -> bool:
    """Deliver (then delete) run ``run_id``'s spool left by a kernel that is gone.

    Takes the recovery lock of the folder, so a recovering process never replays
    it at the same time. Does not end the run. False when the store refused or
    the spool's owner still runs (its own writer delivers it then).
    """
    from jupyter_mlops.core.tracking.recovery import _LOCK_NAME, _dir_lock, owner_alive
    from jupyter_mlops.core.tracking.spool import META_SUFFIX, Spool, SpoolMeta

    meta_path = folder / f"{run_id}{META_SUFFIX}"
    if not meta_path.exists():
        return True
    with _dir_lock(folder / _LOCK_NAME, wait=10.0) as locked:
        meta = SpoolMeta.read(meta_path)
        if meta is None:
            return True  # delivered and deleted by a recovering process meanwhile
        if not locked or owner_alive(meta.pid, meta.create_time):
            return False
        spool = Spool(folder, run_id, tracking_uri, client=client)
        delivered = False
        try:
            delivered = spool.deliver()
        finally:
            spool.close(delete=delivered)
        return delivered


class ExecutionTracking:
    """Tracking of one execution in its (existing) MLflow run; see the module doc."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self.run_id: str = execution.run_id or ""
        self.tracking_uri: str = execution.tracking_uri or ""
        self.spool_dir = spool_dir()
        self.client: Any = None
        self._meter: ProcessMeter | None = None
        self._booking: RunBooking | None = None
        self._totals: Totals | None = None
        self._tags: dict[str, str] = {}
        self._threads: list[threading.Thread] = []
        self.on_cost: Callable[[float], None] | None = None
        """Called with the allocated cost so far, every second while the kernel runs."""

    @classmethod
    def begin(cls, execution: Execution) -> ExecutionTracking:
        """Start logging parameters, tags and the environment (on a thread, while the
        kernel starts); never raises."""
        tracking = cls(execution)
        tracking._spawn(tracking._log_start, "jupyter-mlops-execution-start")
        return tracking

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _log_start(self) -> None:
        try:
            self.client = get_client(self.tracking_uri)
            self._log_params_and_tags()
        except Exception as exc:
            _warn(f"logging the start in {redact_uri(self.tracking_uri)}", self.run_id, exc)
            return
        global _env_warned
        try:
            from jupyter_mlops.core.environment.run_record import log_environment

            log_environment(self.client, self.run_id, _process_snapshot())
        except Exception as exc:
            if not _env_warned:
                _env_warned = True
                _warn("logging the environment", self.run_id, exc)

    def _log_params_and_tags(self) -> None:
        from mlflow.entities import Param, RunTag

        from jupyter_mlops.core.tracking.validation import param_value
        from jupyter_mlops.exceptions import InvalidValueError

        ex = self.execution
        params = []
        for key, value in ex.parameters.items():
            try:
                params.append(Param(key, param_value(key, value)))
            except InvalidValueError as exc:  # too long for MLflow: the notebook still gets it
                _log.warning("jupyter-mlops: param %s not logged: %s", key, exc)
        run_tags = [
            RunTag(PIPELINE_STEP, ex.step),
            RunTag(PIPELINE_TRIAL, str(ex.trial)),
            RunTag(NOTEBOOK, notebook_tag(ex)),
        ]
        for start in range(0, max(len(params), 1), _BATCH):
            self.client.log_batch(
                self.run_id,
                params=params[start : start + _BATCH],
                tags=run_tags if not start else [],
            )

    # -- while the kernel runs ----------------------------------------------------------

    def kernel_started(self, pid: int) -> None:
        """Start measuring the kernel's process tree (on a thread; called once it runs)."""
        since = time.time()

        def start_meter() -> None:
            try:
                from jupyter_mlops.core.cost.meter import ProcessMeter

                meter = ProcessMeter(_process_pricing(), interval=1.0, pid=pid)
                meter.start(since=since, cpu_at_since=0.0)  # a new process: no CPU before
                self._meter = meter
                meter.listeners.append(self._report_cost)
            except Exception as exc:  # cost is a bonus: never fail an execution over it
                _warn("measuring the cost", self.run_id, exc)
                return
            try:
                self._open_booking(meter)
            except Exception as exc:
                _warn("booking the cost in the ledger", self.run_id, exc)

        self._spawn(start_meter, "jupyter-mlops-execution-cost")

    def _report_cost(self, sample: TargetSample, live: LiveCost) -> None:
        """The allocated cost so far to ``on_cost`` (the progress file: spend caps read it)."""
        report = self.on_cost
        if report is not None:
            report(live.session.cost_allocated)

    def _open_booking(self, meter: ProcessMeter) -> None:
        """Book the kernel's cost in the ledger as it grows (unless this process is booked itself)."""
        from jupyter_mlops.core.cost.booking import open_booking
        from jupyter_mlops.core.tags import NOTEBOOK, PROJECT
        from jupyter_mlops.core.tracking.context import current_user, default_project

        booking = open_booking(
            self.run_id,
            lambda: self._tags,
            tracking_uri=self.tracking_uri,
            currency=meter.pricing.currency,
        )
        if booking is None:
            return
        self._tags = {
            NOTEBOOK: notebook_tag(self.execution),
            PROJECT: self.execution.env.get("JUPYTER_MLOPS_PROJECT")  # the run's own tag
            or os.environ.get("JUPYTER_MLOPS_PROJECT")
            or default_project(Path.cwd()),
            "mlflow.user": current_user(),
        }
        self._booking = booking
        meter.listeners.append(lambda sample, live: booking.update(live.session, sample.time))

    def _close_booking(self) -> None:
        """The rest of the cost, and the run's tags as the notebook left them (``epic=...``)."""
        booking, totals = self._booking, self._totals
        self._booking = None
        if booking is None or totals is None:
            return
        try:
            if self.client is not None:
                self._tags = {**self._tags, **self.client.get_run(self.run_id).data.tags}
        finally:
            booking.close(totals)

    def _stop_cost(self) -> tuple[dict[str, float], dict[str, str]]:
        meter, self._meter = self._meter, None
        if meter is None:
            return {}, {}
        from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics
        from jupyter_mlops.core.cost.run_cost import advice_tags

        totals = self._totals = meter.stop()
        tags = pricing_tags(meter.pricing)
        tags.update(advice_tags(meter, totals))
        return run_cost_metrics(totals, meter.pricing.currency), tags

    # -- at the end -----------------------------------------------------------------------

    def finish(self, result: ExecutionResult) -> None:
        """Deliver, log the notebook and the cost, read the run's metrics; never raises."""
        for thread in self._threads:
            thread.join(30.0)
        try:
            metrics, tags = self._stop_cost()
        except Exception as exc:
            _warn("measuring the cost", self.run_id, exc)
            metrics, tags = {}, {}
        result.cost = dict(metrics)
        if self.client is None:
            try:
                self.client = get_client(self.tracking_uri)
            except Exception as exc:
                _warn("tracking", self.run_id, exc)
                self._close_booking()
                return
        steps = (
            ("delivering the notebook's spooled records", self._deliver),
            ("booking the cost in the ledger", self._close_booking),
            ("logging the executed notebook", lambda: self._log_notebook(result.output)),
            ("logging the cost", lambda: self._log_cost(metrics, tags, result.ended)),
            ("ending the runs the notebook left running", lambda: self._end_left(result)),
            ("reading the metrics", lambda: self._read_metrics(result)),
        )
        for what, step in steps:
            try:
                step()
            except Exception as exc:
                _warn(what, self.run_id, exc)

    def _deliver(self) -> None:
        if not deliver_leftover_spool(self.spool_dir, self.run_id, self.tracking_uri, self.client):
            _log.warning(
                "jupyter-mlops: some records of run %s are still spooled in %s; they will be "
                "delivered by the next recovery",
                self.run_id,
                self.spool_dir,
            )

    def _log_notebook(self, output: str | None) -> None:
        """The executed notebook and its nbconvert HTML report (``notebook/<step>.html``)."""
        if not (output and os.path.exists(output)):
            return
        self.client.log_artifact(self.run_id, output, artifact_path="notebook")
        import tempfile

        from jupyter_mlops.core.tracking.report import render_report, reports_enabled

        if not reports_enabled():
            return

        with tempfile.TemporaryDirectory(prefix="jupyter-mlops-report-") as folder:
            html = Path(folder) / (Path(output).stem + ".html")
            render_report(Path(output), html)
            self.client.log_artifact(self.run_id, str(html), artifact_path="notebook")

    def _log_cost(
        self, metrics: dict[str, float], tags: dict[str, str], ended: float | None
    ) -> None:
        if not metrics and not tags:
            return
        from mlflow.entities import Metric, RunTag

        stamp = int((ended or time.time()) * 1000)
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )

    def _end_left(self, result: ExecutionResult) -> None:
        """End the runs MLflow made in the kernel and left RUNNING, with the execution's status.

        The kernel is shut down without running its exit handlers (``immediate``),
        so MLflow cannot end them itself; they carry ``mlops.pipeline.execution``
        (:mod:`jupyter_mlops.core.tracking.mlflow_context`).
        """
        from jupyter_mlops.core.tracking.mlflow_context import EXECUTION_TAG, running_runs

        left = running_runs(self.client, f"tags.`{EXECUTION_TAG}` = '{self.run_id}'")
        status = result.status if result.status in ("FINISHED", "FAILED", "KILLED") else "KILLED"
        for run in left:
            self.client.set_terminated(run.info.run_id, status)

    def _read_metrics(self, result: ExecutionResult) -> None:
        run = self.client.get_run(self.run_id)
        result.metrics = {str(k): float(v) for k, v in run.data.metrics.items()}
