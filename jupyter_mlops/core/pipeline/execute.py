"""Execute one notebook of a pipeline run: :func:`execute` (in a worker process).

::

    result = execute(execution)      # never raises; an ExecutionResult
    result.status, result.reason     # FINISHED, FAILED (cell_error, error), KILLED (timeout, ...)

One call runs papermill in this process (a process-pool or Dask worker runs
one execution at a time and many in its life). The status comes from
papermill's outcome only, never from the notebook's metadata (which can claim
success after a crash):

==============================  =========  =================================================
papermill                       status     reason
==============================  =========  =================================================
returns                         FINISHED
``PapermillExecutionError``     FAILED     ``cell_error`` (``error``: "ename: evalue")
the watchdog killed the kernel  KILLED     ``timeout``
``DeadKernelError``             KILLED     ``kernel_died``
anything else                   FAILED     ``error`` (``error``: "ExceptionType: message")
==============================  =========  =================================================

``cell_index`` is the index of the failing cell in the *source* notebook (0-based;
papermill's injected parameters cell is not counted).

The kernel (see :mod:`.kernel`) uses IPC sockets in a private folder (no port
races between parallel workers), gets ``execution.env`` added to its
environment, and is killed at ``execution.timeout`` (wall clock of the whole
execution). Its shutdown is immediate (no graceful stall): whatever the notebook
logged through jupyter-mlops is in its durable spool and is delivered here.

While it runs, the cell being executed and the last lines of its output go to
``execution.progress_file`` (when set; see :mod:`.progress`).

Tracking (when ``execution.run_id`` and ``execution.tracking_uri`` are set; the
run already exists and the caller sets its terminal status from the result):
see :mod:`.execute_tracking`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.pipeline.model import FAILED, FINISHED, KILLED, ExecutionResult

if TYPE_CHECKING:
    from jupyter_mlops.core.pipeline.execute_tracking import ExecutionTracking
    from jupyter_mlops.core.pipeline.model import Execution

__all__ = ["execute"]

_log = logging.getLogger("jupyter_mlops.pipeline")
_MAX_ERROR = 2000


def _startup_env() -> dict[str, str]:
    """``$PYTHONSTARTUP`` for a tracked execution's kernel (the user's own is chained)."""
    startup = Path(__file__).resolve().parents[2] / "kernel" / "pipeline_startup.py"
    env = {"PYTHONSTARTUP": str(startup)}
    user = os.environ.get("PYTHONSTARTUP")
    if user and Path(user) != startup:
        env["JUPYTER_MLOPS_USER_STARTUP"] = user
    return env


def _brace_safe(path: str) -> str:
    """``path`` unchanged by papermill's ``str.format`` of paths with the parameters."""
    return path.replace("{", "{{").replace("}", "}}")


def _source_cell_index(output: str, index: int | None) -> int | None:
    """Index ``index`` of the executed notebook as an index of the source notebook."""
    if index is None:
        return None
    import json

    try:
        with open(output, encoding="utf-8") as f:
            cells = json.load(f).get("cells", [])
    except (OSError, ValueError):
        return index

    def tags(cell: dict[str, Any]) -> list[str]:
        return list(cell.get("metadata", {}).get("tags") or [])

    # papermill's index is before it added its error marker cells; the injected cell is ours
    cells = [cell for cell in cells if "papermill-error-cell-tag" not in tags(cell)]
    injected = sum(1 for cell in cells[:index] if "injected-parameters" in tags(cell))
    return max(0, index - injected)


def _classify(exc: BaseException, timed_out: bool, output: str) -> tuple[str, str, str, int | None]:
    """``(status, reason, error, cell_index)`` of a failed execution."""
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if timed_out:
        return KILLED, "timeout", "the execution ran past its timeout; its kernel was killed", None
    if isinstance(exc, PapermillExecutionError):
        error = f"{exc.ename}: {exc.evalue}" if exc.evalue else str(exc.ename)
        return FAILED, "cell_error", error[:_MAX_ERROR], _source_cell_index(output, exc.cell_index)
    if isinstance(exc, DeadKernelError) or "kernel died" in str(exc).lower():
        return KILLED, "kernel_died", f"the kernel died: {exc}"[:_MAX_ERROR], None
    return FAILED, "error", f"{type(exc).__name__}: {exc}"[:_MAX_ERROR], None


def _ensure_output(execution: Execution) -> bool:
    """Write the parameterized, unexecuted notebook if papermill wrote none; whether one exists."""
    if os.path.exists(execution.output):
        return True
    try:
        import papermill

        papermill.execute_notebook(
            _brace_safe(execution.notebook),
            _brace_safe(execution.output),
            parameters=dict(execution.parameters),
            kernel_name=execution.kernel_name,
            prepare_only=True,
            progress_bar=False,
        )
    except Exception as exc:
        _log.warning("jupyter-mlops: no output notebook for %s: %s", execution.notebook, exc)
    return os.path.exists(execution.output)


def execute(execution: Execution) -> ExecutionResult:
    """Run ``execution`` with papermill in this process and track it; never raises.

    Every failure (bad input, a missing kernel, a store that is down) becomes
    the result's status, reason and error; tracking failures are only warned
    about (the notebook's outcome decides the status).
    """
    started = time.time()
    result = ExecutionResult(
        index=execution.index, status=FAILED, started=started, attempt=execution.attempt
    )
    tracking: ExecutionTracking | None = None
    session: Any = None
    try:
        if execution.run_id and execution.tracking_uri:
            from jupyter_mlops.core.pipeline.execute_tracking import ExecutionTracking

            tracking = ExecutionTracking.begin(execution)
        Path(execution.output).parent.mkdir(parents=True, exist_ok=True)
        kernel_env = {str(k): str(v) for k, v in execution.env.items()}
        if tracking is not None:
            from jupyter_mlops.core.cost.booking import booker_env

            kernel_env.setdefault("JUPYTER_MLOPS_SPOOL_DIR", str(tracking.spool_dir))
            kernel_env.update(_startup_env())
            kernel_env.update(booker_env())  # the execution books the kernel's cost
        from jupyter_mlops.core.pipeline.kernel import KernelSession

        session = KernelSession(
            kernel_env,
            timeout=execution.timeout,
            on_start=tracking.kernel_started if tracking is not None else None,
            # an untracked execution inside a tracked kernel or an MLflow run
            unset=("JUPYTER_MLOPS_RUN_ID", "MLFLOW_RUN_ID"),
        )
        session.start_watchdog()
        import papermill

        from jupyter_mlops.core.pipeline.progress import ProgressWriter

        with ProgressWriter(execution.progress_file) as progress:
            if tracking is not None:
                tracking.on_cost = progress.set_cost  # the live cost a spend cap counts
            papermill.execute_notebook(
                _brace_safe(execution.notebook),
                _brace_safe(execution.output),
                parameters=dict(execution.parameters),
                cwd=execution.cwd,
                kernel_name=execution.kernel_name,
                progress_bar=False,
                kernel_manager_class=session.manager_class(),
                shutdown_kernel="immediate",
                **progress.engine_kwargs(),
            )
        result.status = FINISHED
    except Exception as exc:
        timed_out = session is not None and session.timed_out
        result.status, result.reason, result.error, result.cell_index = _classify(
            exc, timed_out, execution.output
        )
    finally:
        if session is not None:
            session.close()
    result.ended = time.time()
    if _ensure_output(execution):
        result.output = execution.output
    if tracking is not None:
        tracking.finish(result)
    return result
