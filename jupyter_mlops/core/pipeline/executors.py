"""Where executions run: a local process pool or Dask distributed.

Both call :func:`run_execution` (which calls
:func:`jupyter_mlops.core.pipeline.execute.execute`) in a worker process, one
execution per worker at a time, so papermill's process-wide ``cwd`` and the
kernel's environment never mix. The runner submits at most ``workers``
executions at once, so a submitted execution is a started one.

Kernels and cancellation: ``jupyter_client`` starts each kernel in a session of
its own (``start_new_session``), so a process-group kill of a worker would miss
it; instead :meth:`kill` kills every worker *and its descendants* (psutil),
and a kernel whose parent worker dies anyway exits on its own (ipykernel's
parent poller watches ``JPY_PARENT_PID``). Local workers call ``os.setpgrp()``
so a terminal's Ctrl-C reaches only the runner, which then cancels cleanly.
A remote Dask scheduler's workers cannot be killed from here: their tasks are
cancelled and the runs marked KILLED.

Each worker starts a kernel fork server (:mod:`.forkserver`): its kernels are
forked with ipykernel and the notebook's imports already loaded, and are still
the worker's children (a kill of the worker's tree reaches them).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, Protocol

from jupyter_mlops.core.pipeline.model import FAILED, KILLED, Execution, ExecutionResult
from jupyter_mlops.exceptions import UsageError

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "kill_trees", "make_executor"]

DASK_HINT = "pip install 'distributed>=2024.1' (jupyter-mlops's [dask] extra)"


def _failed(execution: Execution, error: str) -> ExecutionResult:
    """FAILED ``error`` for ``execution``: the executor, not the notebook, went wrong."""
    return ExecutionResult(
        index=execution.index, status=FAILED, reason="error", error=error, output=execution.output
    )


def run_execution(execution: Execution) -> ExecutionResult:
    """Run one execution in this (worker) process; never raises.

    The worker's kernel fork server (:mod:`.forkserver`) imports what the
    notebook imports first, so this execution's kernel and the next ones are
    forked with those modules loaded.
    """
    try:
        from jupyter_mlops.core.pipeline import forkserver
        from jupyter_mlops.core.pipeline.execute import execute

        server = forkserver.ensure()
        if server is not None and execution.kernel_name in (None, "", "python3"):
            server.preload(forkserver.notebook_modules(execution.notebook, [execution.cwd]))
        result = execute(execution)
        if server is not None:
            forkserver.reap_orphans()  # what a kernel left behind, adopted by this worker
        return result
    except BaseException as exc:  # the worker must always answer
        return _failed(execution, f"{type(exc).__name__}: {exc}")


def _worker_init() -> None:  # pragma: no cover - runs in the pool's workers
    """Leave the terminal's process group (Ctrl-C goes to the runner only); start the
    worker's kernel fork server, which imports ipykernel meanwhile.

    jsonschema (under nbformat) compiles the grammar of ``rfc3987_syntax`` when
    imported, about 1.4 s of CPU, only to check the ``iri`` string formats;
    nothing in a worker checks formats (nbformat validates without a format
    checker), so a worker leaves that optional module out.

    A pool started by a cost booker (the Jupyter server, which meters the kernels
    of its kernel manager only) is not covered by it: the worker forgets the
    booker, so its executions book their own cost (``cost.booking``). A pool in a
    process that is itself covered (a kernel's ``!jupyter mlops run``) stays
    covered.
    """
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    from jupyter_mlops.core.cost.booking import leave_parent_booker

    leave_parent_booker()
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    from jupyter_mlops.core.pipeline import forkserver

    forkserver.ensure()


def warm_up(tracking_uri: str | None) -> int:  # pragma: no cover - runs in the pool's workers
    """Import papermill, nbclient and MLflow and open the store: a worker's one-time costs.

    Submitted once per worker when the pool starts, so they overlap the
    runner's own start (creating the runs) instead of delaying the first
    executions. A SQLite store that does not exist yet is left alone: the
    runner creates it (MLflow's migrations must not run twice at once).
    Best effort: a failure here shows up again in the execution.
    """
    with contextlib.suppress(Exception):
        from jupyter_mlops.core.pipeline import forkserver

        forkserver.ensure()
        importlib.import_module("jupyter_mlops.core.pipeline.execute")
        importlib.import_module("papermill")
        importlib.import_module("nbclient")
        importlib.import_module("nbconvert")  # the execution's HTML report
        new_sqlite = (tracking_uri or "").startswith("sqlite:///") and not os.path.exists(
            (tracking_uri or "")[len("sqlite:///") :].split("?", 1)[0]
        )
        if tracking_uri and not new_sqlite:
            from jupyter_mlops.core.tracking.store import get_client

            get_client(tracking_uri)
    return os.getpid()


def kill_trees(pids: Iterable[int], reap_wait: float = 1.0) -> None:
    """SIGKILL each process in ``pids`` and all of its descendants (kernels included).

    Deepest first, each level given up to ``reap_wait`` seconds to be reaped by
    its parent (still alive then) before the parents go: a process whose parent
    died first is reaped by init, and its CPU time is lost to the runner's count.
    """
    import psutil

    levels: list[list[psutil.Process]] = [[]]
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            levels[0].append(psutil.Process(pid))
    while levels[-1]:
        below: list[psutil.Process] = []
        for process in levels[-1]:
            with contextlib.suppress(psutil.Error):
                below += process.children()
        levels.append(below)
    for depth, level in reversed(list(enumerate(levels))):
        for process in level:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(level, timeout=reap_wait if depth else 5)


def _lost(execution: Execution, detail: str) -> ExecutionResult:
    return ExecutionResult(
        index=execution.index,
        status=KILLED,
        reason="worker_lost",
        error=f"the worker running this execution was lost: {detail}",
        output=execution.output,
    )


def _checked(result: object, execution: Execution) -> ExecutionResult:
    if not isinstance(result, ExecutionResult):
        return _failed(
            execution, f"the executor returned {type(result).__name__}, not an ExecutionResult"
        )
    result.index = execution.index
    return result


class Executor(Protocol):
    """What the runner's scheduler needs from an executor."""

    def start(self, tracking_uri: str | None) -> None: ...
    def submit(self, execution: Execution) -> Any: ...
    def done(self, handles: list[Any], timeout: float) -> list[Any]: ...
    def outcome(self, handle: Any, execution: Execution) -> ExecutionResult: ...
    def kill(self) -> None: ...
    def close(self) -> None: ...


class LocalExecutor:
    """A ``ProcessPoolExecutor`` of spawned workers (the caller may have threads: never fork)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None

    def start(self, tracking_uri: str | None) -> None:
        """Spawn the workers now and warm them up (:func:`warm_up`) in the background."""
        if self._pool is None:
            self._pool = self._new_pool()
            for _ in range(self.workers):
                self._pool.submit(warm_up, tracking_uri)

    def _new_pool(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
        )

    def submit(self, execution: Execution) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        if self._pool is None:
            self._pool = self._new_pool()
        try:
            return self._pool.submit(run_execution, execution)
        except BrokenProcessPool:  # a worker died earlier: start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            return self._pool.submit(run_execution, execution)

    def done(self, handles: list[Any], timeout: float) -> list[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        finished, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return [h for h in handles if h in finished]

    def outcome(self, handle: Any, execution: Execution) -> ExecutionResult:
        from concurrent.futures import CancelledError
        from concurrent.futures.process import BrokenProcessPool

        try:
            return _checked(handle.result(), execution)
        except BrokenProcessPool as exc:
            return _lost(execution, str(exc) or "the process pool broke")
        except CancelledError:
            return _lost(execution, "cancelled")
        except Exception as exc:  # pickling problems and the like
            return _failed(execution, f"{type(exc).__name__}: {exc}")

    def _pids(self) -> list[int]:
        processes = getattr(self._pool, "_processes", None) or {}
        return [int(pid) for pid in processes]

    def kill(self) -> None:
        if self._pool is None:
            return
        kill_trees(self._pids())
        self.close()

    def close(self) -> None:
        """Stop the workers; they are idle (every result is in), so they are killed.

        Waiting for each spawned interpreter to tear down (thousands of modules)
        took a second or more; an idle worker has nothing left to write.
        """
        if self._pool is not None:
            kill_trees(self._pids())
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """Dask distributed: an embedded ``LocalCluster``, or the scheduler at ``scheduler``."""

    def __init__(self, workers: int, scheduler: str | None) -> None:
        try:
            dask: Any = importlib.import_module("dask")
            distributed: Any = importlib.import_module("distributed")
        except ImportError as exc:
            raise UsageError(
                "the dask executor needs the 'distributed' package", hint=DASK_HINT
            ) from exc
        self.cluster: Any = None
        self._pids: list[int] = []
        self._futures: list[Any] = []
        try:
            if scheduler:
                self.client: Any = distributed.Client(scheduler, timeout=30)
            else:
                # a lost worker fails its task (KILLED worker_lost) instead of rerunning it
                with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                    self.cluster = distributed.LocalCluster(
                        n_workers=workers,
                        processes=True,
                        threads_per_worker=1,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                self.client = distributed.Client(self.cluster)
                self._pids = [int(pid) for pid in self.client.run(os.getpid).values()]
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            where = f"the Dask scheduler {scheduler!r}" if scheduler else "a local Dask cluster"
            raise UsageError(
                f"cannot start or reach {where}: {exc}",
                hint="check the address (tcp://HOST:8786) and that the scheduler is running",
            ) from exc

    def start(self, tracking_uri: str | None) -> None:
        """Warm the workers up (:func:`warm_up`) while the runner creates the runs."""
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.client.run(warm_up, tracking_uri, wait=False)

    def submit(self, execution: Execution) -> Any:
        key = f"mlops-execution-{execution.run_id or os.urandom(8).hex()}"
        future = self.client.submit(run_execution, execution, pure=False, key=key)
        self._futures.append(future)
        return future

    def done(self, handles: list[Any], timeout: float) -> list[Any]:
        distributed: Any = importlib.import_module("distributed")
        with contextlib.suppress(TimeoutError):
            distributed.wait(handles, timeout=timeout, return_when="FIRST_COMPLETED")
        return [h for h in handles if h.done()]

    def outcome(self, handle: Any, execution: Execution) -> ExecutionResult:
        if handle.status == "cancelled":
            return _lost(execution, "the Dask task was cancelled")
        if handle.status == "error":
            exc = handle.exception()
            name = type(exc).__name__
            if name in ("KilledWorker", "CommClosedError", "FutureCancelledError"):
                return _lost(execution, f"{name}: {exc}")
            return _failed(execution, f"{name}: {exc}")
        return _checked(handle.result(), execution)

    def kill(self) -> None:
        if self.cluster is not None:
            kill_trees(self._pids)
        else:  # a remote scheduler: its tasks are cancelled, its workers are not ours to kill
            with contextlib.suppress(Exception):
                self.client.cancel([f for f in self._futures if not f.done()], force=True)
        self.close()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):  # after a kill the workers are gone already
                client.close()
        if self.cluster is not None:
            # our own workers, idle now: a nanny waits seconds for a worker to exit by itself
            kill_trees(self._pids)
            with contextlib.suppress(Exception):
                self.cluster.close()
            self.cluster = None


def make_executor(kind: str, workers: int, scheduler: str | None) -> Executor:
    """The executor named ``kind`` (``local`` or ``dask``) with ``workers`` workers."""
    if workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    if kind == "local":
        if scheduler:
            raise UsageError("--scheduler needs --executor dask")
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise UsageError(f"unknown executor {kind!r}", hint="use 'local' or 'dask'")
