"""The public Python API (``jupyter_mlops.start_run``, ``log_metric``, ...).

A process-wide :class:`~jupyter_mlops.core.tracking.tracker.Tracker` is built on first
use from :class:`~jupyter_mlops.config.MlopsConfig` (tracking URI, spool folder
and project from config and environment, which the server exports to its
kernels). Importing this module is cheap: MLflow is imported by the first
``start_run``, IPython is never imported here (only used if already loaded).

::

    import jupyter_mlops as mlops

    with mlops.start_run(experiment="churn") as run:
        mlops.log_param("lr", 0.01)
        for epoch in range(10):
            mlops.log_metric("loss", loss, step=epoch)
"""

from __future__ import annotations

import logging
import numbers
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tracking import context
from jupyter_mlops.core.tracking.tracker import RunInfo, Tracker
from jupyter_mlops.core.tracking.validation import MAX_PARAM_LENGTH
from jupyter_mlops.exceptions import MlopsError

if TYPE_CHECKING:
    from jupyter_mlops.config import MlopsConfig
    from jupyter_mlops.core.cost.pricing import PricingModel

__all__ = [  # the public Python API: exactly what ``jupyter_mlops`` re-exports (the one list)
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
]

_tracker: Tracker | None = None
_tracker_lock = threading.Lock()
_log = logging.getLogger("jupyter_mlops.api")
_MAX_DEPTH = 4


def get_tracker() -> Tracker:
    """The process-wide tracker, built from ``MlopsConfig()`` on first use."""
    global _tracker
    with _tracker_lock:
        if _tracker is None:
            from jupyter_mlops.config import MlopsConfig

            config = MlopsConfig()
            _tracker = Tracker(
                config.resolved_tracking_uri(),
                Path(config.spool_dir),
                flush_interval=config.flush_interval,
                project=config.resolved_project(),
                pricing=lambda: kernel_pricing(config),
                cost_interval=config.cost_interval,
                cost_ledger_url=config.cost_ledger_url,
            )
            if not config.cost_enabled:
                _tracker.record_cost = False
            _tracker.record_notebook = config.notebook_report
        return _tracker


def kernel_pricing(config: MlopsConfig | None = None) -> PricingModel:
    """The pricing the ``cost_*`` settings describe (catalogue, mode, currency), for this process."""
    from jupyter_mlops.config import MlopsConfig, cost_settings
    from jupyter_mlops.core.cost.engine import build_pricing

    return build_pricing(cost_settings(config or MlopsConfig()))


def _reset_for_tests() -> None:
    """Close the process-wide tracker (ending its run) so the next use reads the config again."""
    global _tracker
    with _tracker_lock:
        tracker, _tracker = _tracker, None
    if tracker is not None:
        tracker.close()


class ActiveRun:
    """A started run; as a context manager it ends the run on exit.

    ``with start_run(...) as run:`` ends ``FINISHED`` when the block completes,
    ``FAILED`` when it raises (``KILLED`` on ``KeyboardInterrupt``); the
    exception propagates. Nothing happens on exit if the run was already ended.
    """

    def __init__(self, info: RunInfo) -> None:
        self.info = info

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self.info.run_id

    def __repr__(self) -> str:
        return f"<ActiveRun {self.info.run_name!r} run_id={self.info.run_id}>"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        current = active_run()
        if current is None or current.run_id != self.info.run_id:
            return
        if exc_type is None:
            end_run("FINISHED")
            return
        status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
        try:
            end_run(status)
        except MlopsError as error:  # do not hide the user's exception behind ours
            _log.warning("jupyter-mlops: could not end run %s: %s", self.info.run_id, error)


def _json_like(value: object, depth: int = 0) -> bool:
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, numbers.Real):
        return True
    if depth >= _MAX_DEPTH:
        return False
    if isinstance(value, list | tuple):
        return all(_json_like(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v, depth + 1) for k, v in value.items())
    return False


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def notebook_parameters() -> dict[str, object]:
    """Values of the notebook's parameters, from the IPython user namespace.

    Names come from the notebook's ``parameters`` cell and, under papermill,
    from the injected ``# Parameters`` cell in the input history. Only
    JSON-like values (numbers, strings, None, lists, dicts of them) whose text
    fits an MLflow param are kept. Empty outside IPython.
    """
    ipython_module = sys.modules.get("IPython")
    shell = ipython_module.get_ipython() if ipython_module is not None else None
    if shell is None:
        return {}
    names: list[str] = []
    nb_file = context.notebook_file()
    if nb_file is not None and nb_file.suffix == ".ipynb":
        names.extend(context.parameter_names_from_notebook(nb_file))
    user_ns: Mapping[str, Any] = getattr(shell, "user_ns", {})
    history = user_ns.get("In")
    if isinstance(history, list):
        names.extend(context.parameter_names_from_history(history))
    found: dict[str, object] = {}
    for name in _unique(names):
        if name in user_ns:
            value = user_ns[name]
            try:
                if _json_like(value) and len(str(value)) <= MAX_PARAM_LENGTH:
                    found[name] = value
            except Exception as exc:  # a user object whose str() fails is skipped
                _log.debug("parameter %s skipped: %s", name, exc)
    return found


def start_run(
    experiment: str | None = None,
    run_name: str | None = None,
    project: str | None = None,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, object] | None = None,
    nested: bool = False,
) -> ActiveRun:
    """Start a run and make it the active one (MLflow's too); use it as a context manager.

    If MLflow has an active run (``mlflow.start_run()``, ``$MLFLOW_RUN_ID``) it is
    adopted instead of starting another. ``nested=True`` starts a child of the
    active run. The notebook's parameters (its ``parameters`` cell, or
    papermill's injected cell) are logged as params; explicit ``params`` win.
    Raises :class:`~jupyter_mlops.exceptions.RunStateError` if a run is
    already active and ``nested`` is not set.
    """
    merged = {**notebook_parameters(), **(params or {})}
    info = get_tracker().start_run(
        experiment=experiment,
        run_name=run_name,
        project=project,
        tags=tags,
        params=merged,
        nested=nested,
    )
    return ActiveRun(info)


def is_pipeline_run(info: RunInfo) -> bool:
    """Whether ``info`` is the run of the pipeline execution this kernel belongs to."""
    from jupyter_mlops.core.tracking.attach import pipeline_run_id

    return info.run_id == pipeline_run_id()


def end_run(status: str = "FINISHED") -> RunInfo:
    """Flush the active run's metrics and end it with ``status`` (FINISHED, FAILED, KILLED)."""
    return get_tracker().end_run(status)


def active_run() -> RunInfo | None:
    """The active run of this process, or None (also after ``mlflow.end_run()`` ended it)."""
    tracker = _tracker
    return tracker.active if tracker is not None else None


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log one metric point to the active run (returns in microseconds; durable on return)."""
    (_tracker or get_tracker()).log_metric(key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log several metrics at one step; if one is invalid, none is logged."""
    (_tracker or get_tracker()).log_metrics(metrics, step)


def log_param(key: str, value: object) -> None:
    """Log a param (immutable: the same key with another value is an error)."""
    (_tracker or get_tracker()).log_param(key, value)


def log_params(params: Mapping[str, object]) -> None:
    """Log several params; if one is invalid, none is logged."""
    (_tracker or get_tracker()).log_params(params)


def set_tag(key: str, value: object) -> None:
    """Set a tag on the active run."""
    (_tracker or get_tracker()).set_tag(key, value)


def set_tags(tags: Mapping[str, object]) -> None:
    """Set several tags on the active run."""
    (_tracker or get_tracker()).set_tags(tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Log a local file as an artifact of the active run (as ``mlflow.log_artifact``).

    The file is copied into the durable spool and uploaded in the background: the
    call returns at once, a later change to the file does not matter, and nothing
    is lost if the store is away or the kernel dies (it is uploaded later).
    """
    (_tracker or get_tracker()).artifacts().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    """Log every file of a local folder as artifacts (as ``mlflow.log_artifacts``)."""
    (_tracker or get_tracker()).artifacts().log_artifacts(local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    """Log ``text`` as the artifact ``artifact_file`` (as ``mlflow.log_text``)."""
    (_tracker or get_tracker()).artifacts().log_text(text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Log a dict as JSON or YAML, by the file's extension (as ``mlflow.log_dict``)."""
    (_tracker or get_tracker()).artifacts().log_dict(dictionary, artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None
) -> None:
    """Log a matplotlib or plotly figure as ``artifact_file`` (as ``mlflow.log_figure``)."""
    (_tracker or get_tracker()).artifacts().log_figure(
        figure, artifact_file, save_kwargs=save_kwargs
    )


def flush(timeout: float | None = 30) -> None:
    """Wait until every metric logged so far is in the tracking store."""
    tracker = _tracker
    if tracker is not None:
        tracker.flush(timeout)
