"""The kernel of one pipeline execution: IPC transport, its own environment, a deadline.

papermill (through nbclient) builds the kernel manager from the class given as
``kernel_manager_class``; :func:`kernel_manager_class` makes one per execution:

* **No port races.** The kernel talks over Unix sockets (ZMQ ``ipc`` transport)
  in a private temporary folder of the execution, instead of TCP ports that
  parallel workers could pick at the same time. The folder (connection file and
  sockets) is removed by :meth:`KernelSession.close`.
* **Its environment.** ``env`` is added to the kernel's environment at launch
  (the worker's own ``os.environ`` is never changed).
* **A forked kernel where possible.** In a pipeline worker, the default
  python3 kernel is forked by the worker's fork server (:mod:`.forkserver`),
  which has ipykernel and the notebooks' imports loaded already; any other
  kernel, or a fork server that fails, is launched normally (logged).
* **A wall-clock deadline.** :class:`KernelSession` runs a watchdog timer that
  kills the kernel's process tree (SIGKILL) when the execution's time is up;
  papermill then raises and the execution ends KILLED (timeout).

Nothing here imports jupyter_client at import time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["KernelSession", "kill_tree"]

_log = logging.getLogger("jupyter_mlops.pipeline")
_SOCKET_PATH_MAX = 90  # Unix socket paths: 104 (macOS) / 108 (Linux) bytes, with "-ipc-N"


def kill_tree(root: Any) -> None:
    """SIGKILL ``root`` (a ``psutil.Process`` or a pid) and all its descendants."""
    import psutil

    try:
        if not isinstance(root, psutil.Process):
            root = psutil.Process(root)
        if not root.is_running():  # gone, or its pid now belongs to another process
            return
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()


_PREFIX = "jmlops-"
_swept: set[str] = set()


def _sweep(base: str) -> None:
    """Remove folders in ``base`` left by dead workers (killed mid-execution); once per process."""
    if base in _swept:
        return
    _swept.add(base)
    uid = os.getuid() if hasattr(os, "getuid") else None
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            pid_text = entry.name[len(_PREFIX) :].split("-", 1)[0]
            if not entry.name.startswith(_PREFIX) or not pid_text.isdigit():
                continue
            with contextlib.suppress(OSError):
                if uid is not None and entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if not _pid_alive(int(pid_text)):
                    shutil.rmtree(entry.path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    import psutil

    return bool(psutil.pid_exists(pid))


def _private_dir() -> str:
    """A fresh folder (mode 0700) whose socket paths fit the Unix limit."""
    short = "/tmp"  # noqa: S108 (mkdtemp: a new folder, mode 0700, unguessable name)
    prefix = f"{_PREFIX}{os.getpid()}-"
    for base in (tempfile.gettempdir(), short):  # $TMPDIR can be long (macOS): then /tmp
        if len(base) + len(prefix) + 30 > _SOCKET_PATH_MAX and base != short:
            continue
        _sweep(base)
        return tempfile.mkdtemp(prefix=prefix, dir=base)
    raise AssertionError("unreachable")  # pragma: no cover


def _launch_forked(manager: Any, argv: list[str], kw: dict[str, Any]) -> bool:
    """Fork ``manager``'s kernel from this process's fork server; False: launch it normally."""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    from jupyter_mlops.core.pipeline import forkserver

    server = forkserver.current()
    if server is None or not isinstance(manager.provisioner, LocalProvisioner):
        return False
    if not forkserver.forkable(manager.kernel_name, argv):
        _log.info("jupyter-mlops: kernel %r is launched, not forked", manager.kernel_name)
        return False
    cwd = str(kw.get("cwd") or os.getcwd())
    try:
        process = server.fork_kernel(argv, env=kw.get("env") or os.environ, cwd=cwd)
    except forkserver.ForkServerError as exc:
        _log.info("jupyter-mlops: the kernel fork server failed (%s); launching normally", exc)
        return False
    provisioner: Any = manager.provisioner  # a Popen look-alike in place of a Popen
    provisioner.process = process
    provisioner.pid = provisioner.pgid = process.pid
    provisioner.cwd = cwd
    manager._reconcile_connection_info(provisioner.connection_info)
    return True


class KernelSession:
    """The kernel side of one execution: its private folder, environment, pid and deadline.

    ``on_start(pid)`` is called once the kernel process runs (the cost meter
    starts there). ``unset`` names variables of this process the kernel must
    not inherit (unless ``env`` sets them). :attr:`timed_out` tells whether
    the watchdog fired.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        timeout: float | None = None,
        on_start: Callable[[int], None] | None = None,
        unset: tuple[str, ...] = (),
    ) -> None:
        self.folder = _private_dir()
        self.env = dict(env)
        self.unset = tuple(name for name in unset if name not in self.env)
        self.timeout = timeout
        self.on_start = on_start
        self.pid: int | None = None
        self._proc: Any = None  # psutil.Process of the kernel: safe against pid reuse
        self.timed_out = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    # -- deadline -------------------------------------------------------------------------

    def start_watchdog(self) -> None:
        """Start the deadline clock (no-op without a timeout)."""
        if self.timeout is None:
            return
        self._timer = threading.Timer(max(0.0, self.timeout), self._expire)
        self._timer.daemon = True
        self._timer.name = "jupyter-mlops-execution-deadline"
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.timed_out = True
            proc = self._proc
        if proc is not None:
            _log.info("jupyter-mlops: execution timed out; killing kernel %d", proc.pid)
            kill_tree(proc)

    def _started(self, pid: int | None) -> None:
        import psutil

        proc = None
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
        with self._lock:
            self.pid, self._proc = pid, proc
            expired = self.timed_out
        if pid is None:
            return
        if expired:  # the deadline passed while the kernel was starting
            kill_tree(proc if proc is not None else pid)
            return
        if self.on_start is not None:
            try:
                self.on_start(pid)
            except Exception as exc:  # cost and the like are a bonus: never fail the kernel
                _log.warning("jupyter-mlops: kernel start hook failed: %s", exc)

    # -- the kernel manager ---------------------------------------------------------------

    def manager_class(self) -> type[Any]:
        """An ``AsyncKernelManager`` subclass bound to this session (for nbclient)."""
        from jupyter_client.manager import AsyncKernelManager

        session = self
        connection_file = os.path.join(self.folder, "kernel.json")

        class ExecutionKernelManager(AsyncKernelManager):
            """IPC sockets in the execution's folder; the execution's environment."""

            def __init__(self, **kwargs: Any) -> None:
                kwargs.setdefault("transport", "ipc")
                kwargs.setdefault("connection_file", connection_file)
                super().__init__(**kwargs)

            async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
                env = dict(kw.pop("env", None) or os.environ)
                for name in session.unset:
                    env.pop(name, None)
                env.update(session.env)
                kw["env"] = env
                await super().start_kernel(**kw)
                provisioner = self.provisioner
                pid = getattr(provisioner, "pid", None) if provisioner is not None else None
                session._started(pid if isinstance(pid, int) else None)

            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                if not _launch_forked(self, kernel_cmd, kw):
                    await super()._async_launch_kernel(kernel_cmd, **kw)

        return ExecutionKernelManager

    def close(self) -> None:
        """Stop the watchdog, kill a kernel still running, remove the private folder."""
        if self._timer is not None:
            self._timer.cancel()
        if self._proc is not None:
            kill_tree(self._proc)  # only if it still runs (nbclient normally shut it down)
        shutil.rmtree(self.folder, ignore_errors=True)
