"""Helpers for the fault-injection tests (``test_faults.py``, fixtures in ``conftest.py``): real servers, real kernels, acknowledged-step files.

* :class:`ServerProcess`: ``jupyter server`` in a subprocess of its own (own root,
  runtime and config folders, a token, the extension enabled, a short recovery
  sweep), with a tiny REST client; it can be SIGKILLed and started again on the
  same root and store.
* :func:`kernel_client`: a ``jupyter_client`` client on a kernel's connection file,
  to send code to kernels that a server started.
* :func:`acked`: the run id and acknowledged steps a logging kernel wrote to its file.
* :data:`LOGGER_CELLS`: ``%load_ext``, ``%mlops start``, then ``%mlops log`` in a loop,
  writing each step to a file once the magic has returned (acknowledged).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]

LOGGER_CELLS = (
    "%load_ext jupyter_mlops",
    "%mlops start --experiment faults",
    """
import itertools, time, jupyter_mlops
_ip = get_ipython()
with open({ack!r}, "w") as _f:
    _f.write(jupyter_mlops.active_run().run_id + "\\n")
    _f.flush()
    for _step in itertools.count():
        _ip.run_line_magic("mlops", f"log m={{_step}} --step {{_step}}")
        _f.write(f"{{_step}}\\n")  # written only once the magic returned: acknowledged
        _f.flush()
        time.sleep({pause})
""",
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], Any], timeout: float, what: str, pause: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy (returned); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"not reached within {timeout:.0f} s: {what}"
        time.sleep(pause)


def acked(path: Path) -> tuple[str, list[int]]:
    """``(run_id, acknowledged steps)`` from a logger's file (a torn last line is not counted)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return "", []
    lines = text.split("\n")[:-1]  # only complete lines
    if not lines:
        return "", []
    return lines[0], [int(line) for line in lines[1:]]


def child_env(**extra: str) -> dict[str, str]:
    """This environment with the source tree importable and MLflow quiet, plus ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    env.update(extra)
    return env


def kernel_client(connection_file: Path) -> Any:
    """A started ``BlockingKernelClient`` on the kernel of ``connection_file``, once it is ready."""
    from jupyter_client import BlockingKernelClient

    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    # no heartbeat: its 1 s time-to-dead calls a starting kernel on a loaded machine "died"
    client.start_channels(hb=False)
    # the kernel answers and IOPub is connected (a SUB socket misses what is sent before)
    client.wait_for_ready(timeout=120)
    return client


def execute(client: Any, code: str, timeout: float = 120) -> None:
    """Run ``code`` in the kernel and wait for its reply; fail if it did not succeed."""
    reply = client.execute_interactive(code, timeout=timeout, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]


def start_logging(client: Any, ack: Path, pause: float = 0.005) -> None:
    """Load the extension, start a run, then log a metric in a loop (does not wait for the loop)."""
    load, start, loop = LOGGER_CELLS
    execute(client, load)
    execute(client, start)
    client.execute(loop.format(ack=str(ack), pause=pause))


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants; their pids."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=30)
    return [p.pid for p in procs]


SERVER_CONFIG = """
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True
c.ServerApp.root_dir = {root!r}
c.ServerApp.jpserver_extensions = {{"jupyter_mlops": True, "jupyter_server_terminals": False}}
c.IdentityProvider.token = {token!r}
c.MlopsConfig.tracking_uri = {uri!r}
c.MlopsConfig.project = "faults"
c.MlopsConfig.cost_ledger_url = {ledger!r}
c.MlopsConfig.cost_interval = 0.5
c.MlopsExtensionApp.recover_interval = 1
c.MlopsExtensionApp.cost_sync_interval = 0.5
"""


class ServerProcess:
    """``jupyter server`` with jupyter_mlops in a subprocess; SIGKILL it and start it again."""

    def __init__(self, folder: Path, tracking_uri: str) -> None:
        self.folder = folder
        self.extra_config = ""  # more ``c.X.y = ...`` lines
        self.extra_env: dict[str, str] = {}
        self.root = folder / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.runtime = folder / "runtime"
        self.spool = folder / "spool"
        self.ledger_url = f"sqlite:///{folder / 'cost.db'}"
        self.tracking_uri = tracking_uri
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> None:
        """Start the server (same root, store, spool and port) and wait until it answers."""
        config = self.folder / "jupyter_server_config.py"
        config.write_text(
            SERVER_CONFIG.format(
                port=self.port,
                root=str(self.root),
                token=self.token,
                uri=self.tracking_uri,
                ledger=self.ledger_url,
            )
            + self.extra_config
        )
        env = child_env(
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_DIR=str(self.folder / "config"),
            JUPYTER_MLOPS_SPOOL_DIR=str(self.spool),
            **self.extra_env,
        )
        env.pop("MLFLOW_TRACKING_URI", None)
        self.starts += 1
        log = open(self.folder / f"server-{self.starts}.log", "wb")  # noqa: SIM115 - kept open
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={config}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.root,
        )
        log.close()

        def up() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, self.log_text()
            try:
                return self.request("GET", "/api/status")[0] == 200
            except OSError:
                return False

        wait_for(up, timeout, "the Jupyter server answers", pause=0.3)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log")))

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """``(status, JSON body)`` of one authenticated request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def start_kernel(self) -> tuple[str, Path]:
        """Start a python3 kernel over REST; its id and connection file."""
        code, body = self.request("POST", "/api/kernels", {"name": "python3"})
        assert code == 201, body
        kid = body["id"]
        path = self.runtime / f"kernel-{kid}.json"
        wait_for(path.exists, 60, "the kernel's connection file")
        return kid, path

    def kernel_pids(self) -> list[int]:
        """Pids of the processes the server started (its kernels)."""
        import psutil

        assert self.proc is not None
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sigkill(self) -> list[int]:
        """SIGKILL the server and every process it started, as when its process group dies."""
        assert self.proc is not None
        killed = kill_tree(self.proc.pid)
        self.proc.wait(timeout=30)
        return killed

    def stop(self) -> None:
        """Stop the server if it runs (SIGTERM, then SIGKILL), kernels included."""
        if self.proc is None or self.proc.poll() is not None:
            return
        import psutil

        children = self.kernel_pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_tree(self.proc.pid)
            self.proc.wait(timeout=30)
        for pid in children:
            if psutil.pid_exists(pid):
                kill_tree(pid)
