"""A real Jupyter server in a child process, with jupyter-mlops, and code run in its kernels.

::

    server = LiveServer.start(tmp_path / "a", env, config="c.MlopsConfig.cost_interval = 0.5")
    kernel_id = server.new_session("train.ipynb")          # POST /api/sessions
    text = server.execute(kernel_id, "print(1 + 1)")       # through the kernel's connection file
    server.stop()                                          # SIGTERM: the extension stops cleanly
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["LiveServer", "free_port", "stop_server", "wait_for_http"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_http(
    url: str, timeout: float = 120.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until ``url`` answers 200 (or ``proc`` exits: then fail)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(0.25)


def stop_server(server: subprocess.Popen[Any], log: IO[Any]) -> None:
    """Terminate ``server`` (kill it if it lingers 30 s), then close its ``log``."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(30)
    log.close()


@dataclass
class LiveServer:
    """A ``jupyter server`` on ``root`` (see the module doc)."""

    root: Path
    proc: subprocess.Popen[Any]
    log: IO[Any]
    port: int
    token: str
    runtime: Path

    @classmethod
    def start(cls, root: Path, env: dict[str, str], config: str = "") -> LiveServer:
        """Start it in ``root`` (created) with ``env``; ``config`` adds lines to its config file."""
        root.mkdir(parents=True, exist_ok=True)
        home = root.parent / f".jupyter-{root.name}"
        home.mkdir(exist_ok=True)
        port, token = free_port(), secrets.token_hex(16)
        cfg = home / "jupyter_server_config.py"
        cfg.write_text(
            "c.ServerApp.ip = '127.0.0.1'\n"
            f"c.ServerApp.port = {port}\n"
            "c.ServerApp.port_retries = 0\n"
            f"c.ServerApp.root_dir = {str(root)!r}\n"
            "c.ServerApp.open_browser = False\n"
            "c.ServerApp.allow_root = True\n"
            "c.ServerApp.jpserver_extensions = {'jupyter_mlops': True, "
            "'jupyter_server_terminals': False}\n" + config
        )
        runtime = home / "runtime"
        env = {
            **env,
            "JUPYTER_TOKEN": token,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(runtime),
        }
        log = (home / "server.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={cfg}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
        server = cls(root, proc, log, port, token, runtime)
        try:
            wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", proc=proc)
        except AssertionError:
            server.stop()
            raise
        return server

    def request(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """``GET`` (or ``POST`` ``body``) ``path`` under the server's base URL; the JSON reply."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=data,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            method="GET" if body is None else "POST",
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return json.loads(reply.read() or b"null")

    def new_session(self, path: str) -> str:
        """A notebook session on ``path`` (a new python3 kernel); its kernel id."""
        body = {"path": path, "type": "notebook", "name": path, "kernel": {"name": "python3"}}
        return str(self.request("/api/sessions", body)["kernel"]["id"])

    def execute(self, kernel_id: str, code: str, timeout: float = 120.0) -> str:
        """Run ``code`` in the kernel; its stdout (an error in the cell fails the test)."""
        from jupyter_client import BlockingKernelClient

        client = BlockingKernelClient(
            connection_file=str(self.runtime / f"kernel-{kernel_id}.json")
        )
        client.load_connection_file()
        # No heartbeat channel: its 1 s time-to-dead calls a kernel on a loaded 2-core machine
        # "died" while it is still starting; without it, readiness is the kernel_info reply.
        client.start_channels(hb=False)
        try:
            try:
                client.wait_for_ready(timeout=timeout)
            except RuntimeError as e:
                raise AssertionError(f"{e}; the server's log:\n{self.log_tail()}") from e
            out: list[str] = []
            reply = client.execute_interactive(
                code,
                timeout=timeout,
                output_hook=lambda msg: (
                    out.append(msg["content"].get("text", ""))
                    if msg["msg_type"] == "stream"
                    else None
                ),
            )
            assert reply["content"]["status"] == "ok", reply["content"]
            return "".join(out)
        finally:
            client.stop_channels()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log (for a failure's message)."""
        self.log.flush()
        path = Path(self.log.name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        stop_server(self.proc, self.log)
