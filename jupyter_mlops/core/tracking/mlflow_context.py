"""MLflow's own runs in a kernel: our context tags, an owner, and never left RUNNING.

MLflow calls every registered *run context provider* (entry point group
``mlflow.run_context_provider``, a public MLflow extension point) when its
fluent API creates a run: ``mlflow.start_run()``, ``mlflow.log_metric`` without
a run, ``autolog``. In a Jupyter kernel, our provider
(:class:`jupyter_mlops.mlflow_plugin.KernelRunContext`) adds

* our context tags (notebook path, git, user, host, kernel id, project), so a
  run that MLflow made is as findable in the panel as one of ours;
* ``mlops.owner`` = ``host:pid:start time`` of the kernel process, which
  :func:`end_orphaned_runs` uses to end the run ``KILLED`` once that process
  is gone (a kernel that died or was SIGKILLed runs no exit handler);
* under ``jupyter mlops run``: ``mlflow.parentRunId`` (the execution's run,
  unless the user chose a parent) and ``mlops.pipeline.execution``, so the
  executor can end what the notebook left running.

At a clean exit, MLflow ends only the innermost active run; the handler
registered here ends the others too (``FINISHED``, as MLflow does).
Outside a kernel nothing changes.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import sys
import threading
from typing import Any

from jupyter_mlops.core import tags as mlops_tags

__all__ = [
    "EXECUTION_TAG",
    "OWNER_TAG",
    "end_orphaned_runs",
    "in_kernel",
    "kernel_run_tags",
    "owner_tag",
    "running_runs",
]

OWNER_TAG = mlops_tags.OWNER
EXECUTION_TAG = mlops_tags.PIPELINE_EXECUTION
_log = logging.getLogger("jupyter_mlops.tracking")
_exit_hook = threading.Lock()
_exit_registered = False


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (ipykernel) or a pipeline execution's kernel."""
    if os.environ.get("JUPYTER_MLOPS_RUN_ID"):
        return True
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None:
        return False
    try:
        return bool(kernelapp.IPKernelApp.initialized())
    except Exception:
        return False


def owner_tag() -> str:
    """``host:pid:create_time`` of this process."""
    import psutil

    return f"{socket.gethostname()}:{os.getpid()}:{psutil.Process().create_time():.3f}"


def _end_all_at_exit() -> None:
    """End every MLflow run still active in the main thread (MLflow's own hook ends one)."""
    mlflow = sys.modules.get("mlflow")
    if mlflow is None:
        return
    for _ in range(64):
        try:
            if mlflow.active_run() is None:
                return
            mlflow.end_run()
        except Exception:  # the store is gone: recovery ends the rest later
            return


def _register_exit_hook() -> None:
    global _exit_registered
    with _exit_hook:
        if not _exit_registered:
            atexit.register(_end_all_at_exit)
            _exit_registered = True


def kernel_run_tags() -> dict[str, str]:
    """The tags :class:`jupyter_mlops.mlflow_plugin.KernelRunContext` adds (see module doc)."""
    from jupyter_mlops.core.tracking import context

    _register_exit_hook()
    tags: dict[str, str] = {}
    try:
        project = os.environ.get("JUPYTER_MLOPS_PROJECT") or None
        tags.update(context.run_context_tags(project=project))
    except Exception as exc:  # context is a bonus; never fail MLflow's start_run
        _log.debug("jupyter-mlops: no context tags for MLflow's run: %s", exc)
    try:
        tags[OWNER_TAG] = owner_tag()
    except Exception as exc:
        _log.debug("jupyter-mlops: no owner tag for MLflow's run: %s", exc)
    execution = os.environ.get("JUPYTER_MLOPS_RUN_ID", "").strip()
    if execution:
        tags["mlflow.parentRunId"] = execution
        tags[EXECUTION_TAG] = execution
    return tags


def _owner_gone(owner: str, host: str) -> bool:
    from jupyter_mlops.core.tracking.recovery import owner_alive

    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host:
        return False  # another machine's process: not ours to judge
    try:
        pid, started = int(parts[1]), float(parts[2])
    except ValueError:
        return False
    return not owner_alive(pid, started)


def running_runs(client: Any, tag_filter: str, *, max_runs: int = 1000) -> list[Any]:
    """The RUNNING runs of every experiment that match ``tag_filter`` (an MLflow filter)."""
    ids = [str(e.experiment_id) for e in client.search_experiments()]
    if not ids:
        return []
    return list(
        client.search_runs(
            ids,
            filter_string=f"attributes.status = 'RUNNING' and {tag_filter}",
            max_results=max_runs,
        )
    )


def end_orphaned_runs(client: Any, *, max_runs: int = 1000) -> list[str]:
    """End ``KILLED`` the RUNNING runs made by MLflow in kernels of this host that are gone.

    Returns their ids. Runs whose owner is another host, or alive, are left alone.
    """
    host = socket.gethostname()
    pattern = host.replace("'", "") + ":%"
    runs = running_runs(client, f"tags.`{OWNER_TAG}` LIKE '{pattern}'", max_runs=max_runs)
    ended: list[str] = []
    for run in runs:
        owner = run.data.tags.get(OWNER_TAG, "")
        if _owner_gone(owner, host):
            client.set_tag(run.info.run_id, mlops_tags.KILLED_REASON, "process_died")
            client.set_terminated(run.info.run_id, "KILLED")
            ended.append(str(run.info.run_id))
    return ended
