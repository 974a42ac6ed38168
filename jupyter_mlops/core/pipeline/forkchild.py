"""The fork server's own process: its request loop and the forked kernel (see :mod:`.forkserver`).

Runs as ``python -c "...; serve(FD)"`` with one end of a socket pair. Requests
and replies are JSON lines, answered in order:

==================================================  =======================================
request                                             reply
==================================================  =======================================
``{"op": "import", "modules": [...]}``              ``{"imported": [...], "failed": [...]}``
``{"op": "fork", "args", "env", "cwd", "parent"}``  ``{"pid": N}`` or ``{"error": "..."}``
==================================================  =======================================

The server runs no thread (a fork copies only the forking thread: a lock held
by another one would stay locked in the kernel) and creates no ZeroMQ context;
a fork is refused once an import has started a thread. A kernel is forked
through a middle process that exits at once, so the kernel is adopted by the
worker (``parent``, a child subreaper) and is its child like a launched kernel.
The server exits when the socket closes.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import socket
import sys
import threading
from typing import Any

__all__ = ["serve"]


class _Server:
    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.buffer = b""

    def run(self) -> None:
        """Answer requests until the socket closes."""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            self.buffer += data
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                reply = self._handle(json.loads(line))
                self.sock.sendall(json.dumps(reply).encode() + b"\n")

    def _handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "import":
            return self._import(request.get("modules") or [])
        if op == "fork":
            return self._fork(request)
        return {"error": f"unknown request {op!r}"}

    def _import(self, modules: list[str]) -> dict[str, Any]:
        imported, failed = [], []
        for name in modules:
            try:
                importlib.import_module(str(name))
                imported.append(name)
            except BaseException:  # any failure: that module is not preloaded
                failed.append(name)
        return {"imported": imported, "failed": failed}

    def _unsafe(self) -> str | None:
        """Why forking now would be unsafe, or None."""
        if threading.active_count() > 1:
            names = ", ".join(t.name for t in threading.enumerate()[:5])
            return f"a preloaded module started a thread ({names})"
        zmq = sys.modules.get("zmq")
        if zmq is not None and getattr(zmq.Context, "_instance", None) is not None:
            return "a preloaded module created a ZeroMQ context"
        return None

    def _fork(self, request: dict[str, Any]) -> dict[str, Any]:
        """Fork the kernel through a short-lived middle process, so the worker adopts it."""
        why = self._unsafe()
        if why is not None:
            return {"error": why}
        ready_r, ready_w = os.pipe()
        middle = os.fork()
        if middle == 0:
            os.close(ready_r)
            if os.fork() == 0:  # the kernel; never returns
                _child(request, ready_w, self.sock.detach())
            os._exit(0)
        os.close(ready_w)
        try:
            os.waitpid(middle, 0)
            text = os.read(ready_r, 32)  # its pid, once it leads a session and process group
        finally:
            os.close(ready_r)
        if not text.isdigit():
            return {"error": "the forked kernel ended at once"}
        return {"pid": int(text)}


def _child(request: dict[str, Any], ready: int, sock: int) -> None:
    """The forked kernel: its session, environment and cwd, then ipykernel; exits."""
    code: Any = 1
    try:
        os.setsid()
        os.close(sock)
        os.write(ready, str(os.getpid()).encode())
        os.close(ready)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        _reseed()
        _await_adoption(int(request["parent"]))
        code = _kernel([str(arg) for arg in request["args"]], int(request["parent"]))
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # reported on stderr, the kernel exits 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _exit(code)


def _await_adoption(parent: int, timeout: float = 10.0) -> None:
    """Wait until the worker (a child subreaper) adopted this process: ipykernel's parent
    poller must see the worker as its parent from the start."""
    import time

    deadline = time.monotonic() + timeout
    while os.getppid() != parent:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the worker {parent} did not adopt the forked kernel")
        time.sleep(0.0005)


def _reseed() -> None:
    """Forked kernels must not share random state (``random`` reseeds itself at fork)."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with contextlib.suppress(Exception):
            numpy_random.seed()


def _kernel(args: list[str], parent: int) -> int:
    """``python -m ipykernel_launcher ARGS``, in this process; its parent is the server."""
    from importlib.util import find_spec

    spec = find_spec("ipykernel_launcher")
    sys.argv = [spec.origin if spec is not None and spec.origin else "ipykernel_launcher", *args]
    kernelapp: Any = importlib.import_module("ipykernel.kernelapp")
    kernelapp.IPKernelApp.launch_instance(parent_handle=parent)
    return 0


def _exit(code: Any) -> None:
    """Run the kernel's exit handlers and flush, then end the process (not the server's code)."""
    import atexit

    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            if stream is not None:
                stream.flush()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        code = 1
    os._exit(code)


def serve(fd: int) -> None:
    """The server's main: imports come by request; runs until the socket closes."""
    # `python -c` put "" (the worker's folder) first: imports resolve to installed modules
    # only, never to a file there; a kernel gets "" back from IPython (InteractiveShellApp)
    sys.path[:] = [p for p in sys.path if p != ""]
    with contextlib.suppress(OSError):  # the worker went away (killed, cancelled): done
        _Server(fd).run()
    os._exit(0)
