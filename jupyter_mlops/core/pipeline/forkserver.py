"""A kernel fork server: pipeline kernels forked from a process that has already imported.

::

    server = forkserver.ensure()            # this process's server (a worker starts it once)
    server.preload(["sklearn", "pandas"])   # the notebooks' imports, imported there once
    kernel = server.fork_kernel(argv, env=env, cwd=cwd)   # a fresh ipykernel, ~no import cost
    kernel.pid, kernel.poll(), kernel.send_signal(signal.SIGINT), kernel.kill()

Starting a kernel costs a new interpreter plus the imports of ipykernel, IPython
and what the notebook imports (scikit-learn: about 1.5 s of CPU); a sweep pays it
for every execution. The fork server is a process of its own (started by each
pipeline worker, see :mod:`.executors`) that imports all that **once**, with no
thread running, then forks one kernel per execution. Each kernel is a fresh
fork of the never-used server: a new user namespace, nothing left by an earlier
execution (the modules are only imported; no notebook code ever runs in the
server). In the forked child (:mod:`.forkchild`): a session of its own, the
execution's ``os.environ`` and cwd, the server's socket closed, stdin
``/dev/null``, the legacy NumPy random state reseeded, then ``IPKernelApp``
starts with the connection file the kernel manager wrote and runs
``$PYTHONSTARTUP`` from the execution's environment, as a launched kernel does.

Processes: the worker is a *child subreaper* (Linux ``prctl``), and the kernel
is forked through a middle process that exits at once, so the kernel is the
worker's child exactly like a launched one: the worker reaps it (its CPU time
counts as the worker's children's), ipykernel's parent poller watches the
worker (``JPY_PARENT_PID``), and killing the worker's process tree reaches it.
Signals go to the kernel's process group (it leads a session).

Only ``python -m ipykernel_launcher`` of this very interpreter is forked
(:func:`forkable`), on Linux; another kernel, another system, an interpreter
variable (``$PYTHONPATH``...) that differs from the server's, or a server that
fails or has started a thread (an import did) means the normal launch. Modules
that read the environment when imported see the worker's environment, not the
execution's (their import happened in the server).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "BASE_MODULES",
    "ForkServer",
    "ForkServerError",
    "ForkedKernel",
    "current",
    "ensure",
    "forkable",
    "notebook_modules",
    "reap_orphans",
    "shutdown",
]

_log = logging.getLogger("jupyter_mlops.pipeline")

BASE_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.comm",
    "ipykernel.debugger",  # debugpy and pydevd: most of what a kernel imports as it starts
    "IPython.core.completer",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "sqlite3",
    "tornado.gen",
    "tornado.platform.asyncio",
    "tornado.queues",
    "jupyter_mlops.core.tracking.fluent",  # pipeline_startup.py's resume hook
)
"""What every kernel imports: the server imports it before the first fork."""

# read when an interpreter starts: a kernel whose value differs cannot be a fork of the server
_INTERPRETER_VARS = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSAFEPATH",
    "PYTHONNOUSERSITE",
    "PYTHONHASHSEED",
)
_SKIP = frozenset({"antigravity", "this", "__future__", "__main__"})
_START_TIMEOUT = 120.0  # a reply (a preload of heavy modules included)
_PR_SET_CHILD_SUBREAPER = 36


class ForkServerError(RuntimeError):
    """The fork server could not fork a kernel (the caller launches one normally)."""


def forkable(kernel_name: str | None, argv: Sequence[str]) -> bool:
    """Whether ``argv`` launches this interpreter's ipykernel (what a fork server runs)."""
    if not hasattr(os, "fork") or sys.platform == "win32":
        return False
    if kernel_name not in (None, "", "python3"):
        return False
    if len(argv) < 3 or list(argv[1:3]) != ["-m", "ipykernel_launcher"]:
        return False
    found = shutil.which(argv[0]) if os.sep not in argv[0] else argv[0]
    # not realpath: a virtual environment's python links to the base interpreter
    return found is not None and os.path.abspath(found) == os.path.abspath(sys.executable)


class ForkedKernel:
    """A kernel the fork server forked for this process: what ``subprocess.Popen`` offers
    jupyter_client. This process adopted it (its child); ``pid`` is also its process group.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its status is unknown
                self.returncode = -signal.SIGKILL
            else:
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0.0)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except OSError:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.send_signal(signal.SIGTERM)


class ForkServer:
    """One fork server process and this process's end of its socket (thread-safe)."""

    def __init__(self, modules: Iterable[str] = BASE_MODULES) -> None:
        self._env = dict(os.environ)
        ours, theirs = socket.socketpair()
        code = f"from jupyter_mlops.core.pipeline.forkchild import serve; serve({theirs.fileno()})"
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # pydevd's "frozen modules" warning, printed when it is imported: no debugger
                # attaches to a pipeline kernel (a kernel's own environment is the execution's)
                env={**self._env, "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
            )
        finally:
            theirs.close()
        self._sock = ours
        self._buffer = b""
        self._lock = threading.Lock()
        self._pending = 0  # replies to requests sent without waiting
        self.broken: str | None = None
        self.imported: set[str] = set()
        # reap the server whenever it ends (its CPU then counts as this process's child's)
        threading.Thread(
            target=self.process.wait, name="jupyter-mlops-forkserver", daemon=True
        ).start()
        self.preload(modules)
        atexit.register(self.close)

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def _request(self, message: dict[str, Any], wait: bool = True) -> dict[str, Any]:
        with self._lock:
            if self.broken is not None:
                raise ForkServerError(self.broken)
            try:
                self._sock.sendall(json.dumps(message).encode() + b"\n")
                if not wait:
                    self._pending += 1
                    return {}
                while self._pending:
                    self._pending -= 1
                    self._read()
                reply = self._read()
            except (OSError, ValueError) as exc:
                self.broken = f"the fork server is gone: {exc}"
                raise ForkServerError(self.broken) from exc
        if "error" in reply:
            raise ForkServerError(str(reply["error"]))
        return reply

    def _read(self) -> dict[str, Any]:
        self._sock.settimeout(_START_TIMEOUT)
        while b"\n" not in self._buffer:
            data = self._sock.recv(65536)
            if not data:
                raise OSError("connection closed")
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def preload(self, modules: Iterable[str], wait: bool = False) -> None:
        """Import ``modules`` in the server (errors ignored), before the next fork."""
        new = sorted({m for m in modules if m not in self.imported and m not in _SKIP})
        if not new:
            return
        self.imported.update(new)
        with contextlib.suppress(ForkServerError):
            self._request({"op": "import", "modules": new}, wait=wait)

    def fork_kernel(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> ForkedKernel:
        """Fork a kernel that runs ``argv``'s ipykernel arguments in ``env`` and ``cwd``."""
        for name in _INTERPRETER_VARS:
            if env.get(name) != self._env.get(name):
                raise ForkServerError(f"the kernel's ${name} differs from the fork server's")
        parent = os.getpid()
        env = {**env, "JPY_PARENT_PID": str(parent)}
        request = {"op": "fork", "args": list(argv[3:]), "env": env, "cwd": cwd, "parent": parent}
        return ForkedKernel(int(self._request(request)["pid"]))

    def close(self) -> None:
        """Close the socket: the server exits (its kernels are not its own); wait for it."""
        with self._lock:
            self.broken = self.broken or "closed"
            with contextlib.suppress(OSError):
                self._sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)


_server: ForkServer | None = None
_server_lock = threading.Lock()


def current() -> ForkServer | None:
    """This process's fork server, if :func:`ensure` started one that still works."""
    server = _server
    if server is None or server.broken is not None or server.process.poll() is not None:
        return None
    return server


def _adopt_orphans() -> bool:
    """Make this process a child subreaper (Linux): orphaned descendants become its children."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def ensure() -> ForkServer | None:
    """This process's fork server, started now if needed; None where it cannot work."""
    global _server
    with _server_lock:
        if _server is None and not _adopt_orphans():
            return None
        if current() is None:
            if _server is not None:
                _server.close()
            try:
                _server = ForkServer()
            except OSError as exc:
                _log.info("jupyter-mlops: no kernel fork server (%s); kernels start normally", exc)
                _server = None
        return current()


def reap_orphans() -> None:
    """Reap this process's children that ended (orphans it adopted); never the server."""
    import psutil

    keep = _server.pid if _server is not None else None
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if child.pid != keep and child.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(child.pid, os.WNOHANG)


def shutdown() -> None:
    """Stop this process's fork server (its kernels too)."""
    global _server
    with _server_lock:
        server, _server = _server, None
    if server is not None:
        server.close()


_modules_cache: dict[tuple[str, float], list[str]] = {}


def _imported_names(source: str) -> list[str]:
    """Dotted names ``source`` imports (``from a.b import c``: ``a.b`` and ``a.b.c``)."""
    import ast

    from jupyter_mlops.core.pipeline.requirements import _python_source

    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names += [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
    return names


def _installed(name: str, folders: set[str]) -> bool:
    """Whether top-level module ``name`` is installed (not stdlib, not a notebook's helper)."""
    from importlib.util import find_spec

    if name in sys.stdlib_module_names or name in _SKIP:
        return False
    for folder in folders:
        if os.path.exists(os.path.join(folder, name)) or os.path.exists(
            os.path.join(folder, name + ".py")
        ):
            return False  # the notebook's own helper: each kernel imports it fresh
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def notebook_modules(path: str, local_dirs: Iterable[str] = ()) -> list[str]:
    """What ``path``'s code cells import from installed packages, submodules included
    (``from sklearn.ensemble import X``: ``sklearn.ensemble``); stdlib and local left out."""
    from jupyter_mlops.core.pipeline.notebook import cell_source, read_notebook

    try:
        key = (os.path.abspath(path), os.stat(path).st_mtime)
        if key not in _modules_cache:
            cells = read_notebook(path).get("cells", [])
            names = [
                name
                for cell in cells
                if cell.get("cell_type") == "code"
                for name in _imported_names(cell_source(cell))
            ]
            folders = {os.path.dirname(key[0]), *local_dirs}
            tops = {top for top in {n.split(".")[0] for n in names} if _installed(top, folders)}
            _modules_cache[key] = sorted({n for n in names if n.split(".")[0] in tops})
        return list(_modules_cache[key])
    except Exception:  # best effort: nothing preloaded
        return []
