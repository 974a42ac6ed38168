"""Fault injection: killed kernels, a killed server, a tracking-server outage, culled and
crash-looping kernels, a timed-out pipeline and stale lock/spool files. Nothing acknowledged
is lost and no run stays RUNNING.

Every test injects a real fault into real components (``jupyter server`` and ipykernel
processes, ``mlflow server``, SQLite stores, ``jupyter mlops run``) and records its figures
for the promise table (``section="faults"``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_tools import (
    ServerProcess,
    acked,
    child_env,
    execute,
    free_port,
    kernel_client,
    start_logging,
    wait_for,
)
from notebooks import write_notebook
from promises import enabled as promise_run
from promises import record

pytestmark = pytest.mark.slow

RECOVERY_DEADLINE = 60.0  # the promise: KILLED within 60 s


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _all_runs(client: Any) -> list[Any]:
    ids = [e.experiment_id for e in client.search_experiments()]
    return list(client.search_runs(ids, max_results=1000)) if ids else []


def _steps(client: Any, run_id: str, key: str = "m") -> set[int]:
    return {m.step for m in client.get_metric_history(run_id, key)}


def _kernel_pid(server: ServerProcess, connection_file: Path) -> int:
    import psutil

    for pid in server.kernel_pids():
        try:
            if any(connection_file.name in arg for arg in psutil.Process(pid).cmdline()):
                return pid
        except psutil.NoSuchProcess:
            continue
    raise AssertionError(f"no kernel process uses {connection_file}")


def test_sigkilled_kernel_run_is_killed_with_metrics_and_cost(
    server_process: Callable[[], ServerProcess], tmp_path: Path
) -> None:
    from jupyter_mlops.core.cost import Ledger

    server = server_process()
    server.start()
    kid, connection = server.start_kernel()
    ack = tmp_path / "acked.txt"
    client = kernel_client(connection)
    try:
        start_logging(client, ack)
        run_id = wait_for(lambda: acked(ack)[0], 60, "the kernel started its run")

        def labelled() -> bool:  # the server books the kernel's cost under the run
            code, body = server.request("GET", "/jupyter-mlops/api/cost")
            target = body["targets"].get(kid) if code == 200 else None
            return bool(target and target.get("run_id") == run_id and len(acked(ack)[1]) > 100)

        wait_for(labelled, 90, "the kernel's cost is labelled with its run")
        pid = _kernel_pid(server, connection)
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        client.stop_channels()
    time.sleep(0.2)  # the kernel is gone; its file holds every acknowledged step
    _, steps = acked(ack)
    store = _client(server.tracking_uri)
    status = wait_for(
        lambda: (s := store.get_run(run_id).info.status) != "RUNNING" and s,
        RECOVERY_DEADLINE,
        "the killed kernel's run is no longer RUNNING",
    )
    latency = time.monotonic() - killed_at
    stored = _steps(store, run_id)
    missing = set(steps) - stored
    ledger = Ledger(server.ledger_url)
    try:
        cost = wait_for(
            lambda: ledger.totals(run_id=run_id).cost_allocated,
            60,
            "the killed kernel's cost is in the ledger under its run",
        )
        code, health = server.request("GET", "/jupyter-mlops/api/health")
        kept = ledger.totals(run_id=run_id).cost_allocated  # still there once the run ended
    finally:
        ledger.close()
    ok = status == "KILLED" and not missing and kept >= cost > 0 and code == 200
    record(
        "faults",
        "SIGKILL of a kernel mid-run: run KILLED within 60 s, acknowledged metrics stored, "
        "cost kept",
        ok=ok,
        injected="SIGKILL kernel",
        acknowledged=len(steps),
        stored=len(stored),
        missing=len(missing),
        final_status=status,
        seconds_to_terminal=round(latency, 1),
        cost_usd=kept,
    )
    assert status == "KILLED"
    assert len(steps) > 100
    assert not missing, sorted(missing)[:10]
    assert kept >= cost > 0
    assert code == 200, health


def test_sigkilled_server_loses_nothing_and_leaves_no_run_running(
    server_process: Callable[[], ServerProcess], tmp_path: Path
) -> None:
    server = server_process()
    server.start()
    acks = [tmp_path / "acked-0.txt", tmp_path / "acked-1.txt"]
    clients = []
    try:
        for ack in acks:
            _, connection = server.start_kernel()
            clients.append(kernel_client(connection))
            start_logging(clients[-1], ack, pause=0.01)
        for ack in acks:
            wait_for(lambda a=ack: len(acked(a)[1]) > 50, 90, "both kernels log")
        killed = server.sigkill()  # the server and its kernels, as when its process group dies
    finally:
        for client in clients:
            client.stop_channels()
    time.sleep(0.2)
    logged = [acked(ack) for ack in acks]
    store = _client(server.tracking_uri)
    assert all(store.get_run(run_id).info.status == "RUNNING" for run_id, _ in logged)

    server.start()  # same root, store and spool
    restarted_at = time.monotonic()

    def settled() -> bool:
        return all(store.get_run(run_id).info.status != "RUNNING" for run_id, _ in logged)

    wait_for(settled, RECOVERY_DEADLINE, "no run of the dead kernels stays RUNNING")
    latency = time.monotonic() - restarted_at
    statuses = [store.get_run(run_id).info.status for run_id, _ in logged]
    missing = {run_id: set(steps) - _steps(store, run_id) for run_id, steps in logged}
    running = [r.info.run_id for r in _all_runs(store) if r.info.status == "RUNNING"]
    code, _ = server.request("GET", "/jupyter-mlops/api/health")
    acknowledged = sum(len(steps) for _, steps in logged)
    record(
        "faults",
        "SIGKILL of the Jupyter server while 2 kernels log: after restart nothing acknowledged "
        "is missing, no run RUNNING",
        ok=not any(missing.values()) and not running and statuses == ["KILLED", "KILLED"],
        injected=f"SIGKILL server + {len(killed) - 1} kernel processes",
        acknowledged=acknowledged,
        stored=sum(len(_steps(store, run_id)) for run_id, _ in logged),
        missing=sum(len(m) for m in missing.values()),
        final_status=statuses,
        seconds_to_terminal_after_restart=round(latency, 1),
    )
    assert statuses == ["KILLED", "KILLED"]
    assert all(len(steps) > 50 for _, steps in logged)
    assert not any(missing.values()), {k: sorted(v)[:10] for k, v in missing.items()}
    assert running == []
    assert code == 200


# -- the tracking server goes away ------------------------------------------------------


def _outage_seconds() -> float:
    """How long the tracking server stays away: a minute in the promise-table run."""
    default = "60" if promise_run() else "15"
    return float(os.environ.get("MLOPS_FAULT_OUTAGE_SECONDS", default))


class MlflowServer:
    """``mlflow server`` on a SQLite backend in a folder of its own; stop and start it again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.folder / f"mlflow-{self.starts}.log", "wb")  # noqa: SIM115
        backend = f"sqlite:///{self.folder / 'mlflow.db'}"
        argv = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", "1", "--backend-store-uri", backend]
        argv += ["--default-artifact-root", str(self.folder / "artifacts")]
        self.proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(), start_new_session=True
        )
        log.close()
        import urllib.request

        def up() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, self.log_text()
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=5) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(up, 120, "mlflow server answers", pause=0.3)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        """Kill the whole server (its gunicorn/uvicorn workers too)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def test_tracking_server_outage_delivers_everything_and_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from jupyter_mlops.core.tracking.tracker import Tracker

    mlflow_server = MlflowServer(tmp_path)
    mlflow_server.start()
    outage = _outage_seconds()
    caplog.set_level(logging.WARNING)
    tracker = Tracker(mlflow_server.uri, tmp_path / "spool", flush_interval=0.2)
    stop = threading.Event()
    logged: list[int] = []
    try:
        tracker.wait_for_recovery(30)
        tracker.record_environment = False
        info = tracker.start_run(experiment="outage")

        def log_loop() -> None:
            step = 0
            while not stop.is_set():
                tracker.log_metric("m", float(step), step=step)
                logged.append(step)  # acknowledged: log_metric returned
                step += 1
                time.sleep(0.01)

        logger = threading.Thread(target=log_loop, daemon=True)
        logger.start()
        wait_for(lambda: len(logged) > 50, 60, "the tracker logs")
        tracker.flush(timeout=60)
        mlflow_server.stop()
        down_at = time.monotonic()
        time.sleep(outage)  # the logger keeps logging meanwhile
        during = len(logged)
        mlflow_server.start()
        back_in = time.monotonic() - down_at
        time.sleep(1.0)
        stop.set()
        logger.join(30)
        tracker.flush(timeout=180)
        delivered_in = time.monotonic() - down_at - back_in
        tracker.end_run()
    finally:
        stop.set()
        tracker.close()
        mlflow_server.stop()
    store = _client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    stored = _steps(store, info.run_id)
    missing = set(logged) - stored
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    down = [r for r in warnings if "cannot deliver" in r.getMessage()]
    status = store.get_run(info.run_id).info.status
    record(
        "faults",
        "tracking server away while metrics are logged: nothing lost, all delivered after it "
        "returns, the user warned once",
        ok=not missing and len(down) == 1 and status == "FINISHED",
        injected=f"mlflow server killed for {back_in:.0f} s",
        acknowledged=len(logged),
        acknowledged_during_outage=during,
        stored=len(stored),
        missing=len(missing),
        outage_warnings=len(down),
        other_warnings=len(warnings) - len(down),
        seconds_to_deliver_after_return=round(delivered_in, 1),
        final_status=status,
    )
    assert not missing, sorted(missing)[:10]
    assert len(down) == 1, [r.getMessage() for r in down]
    # one warning when it went away, one when it came back: nothing else reached the user
    other = [r.getMessage() for r in warnings if r not in down]
    assert len(other) <= 1, other
    assert all("reachable again" in m for m in other), other
    assert status == "FINISHED"


# -- culled, crash-looping and timed-out kernels -----------------------------------------


def test_culled_idle_kernel_leaves_no_run_running(
    server_process: Callable[[], ServerProcess],
) -> None:
    server = server_process()
    server.extra_config = (
        "c.MappingKernelManager.cull_idle_timeout = 3\n"
        "c.MappingKernelManager.cull_interval = 1\n"
        "c.MappingKernelManager.cull_connected = True\n"
    )
    server.start()
    kid, connection = server.start_kernel()
    client = kernel_client(connection)
    try:
        execute(client, "%load_ext jupyter_mlops")
        execute(client, "%mlops start --experiment culled\n%mlops log m=1 --step 0")
        execute(client, "import jupyter_mlops; print(jupyter_mlops.active_run().run_id)")
    finally:
        client.stop_channels()
    store = _client(server.tracking_uri)
    (run,) = _all_runs(store)
    run_id = run.info.run_id

    def culled() -> bool:
        code, body = server.request("GET", "/api/kernels")
        return code == 200 and kid not in {k["id"] for k in body}

    wait_for(culled, 60, "the idle kernel is culled")
    culled_at = time.monotonic()
    status = wait_for(
        lambda: (s := store.get_run(run_id).info.status) != "RUNNING" and s,
        RECOVERY_DEADLINE,
        "the culled kernel's run is no longer RUNNING",
    )
    stored = _steps(store, run_id)
    record(
        "faults",
        "culled idle kernel: its run ends terminal, not RUNNING",
        ok=status == "FINISHED" and stored == {0},
        injected="cull_idle_timeout=3 s",
        acknowledged=1,
        stored=len(stored),
        final_status=status,
        seconds_to_terminal=round(time.monotonic() - culled_at, 1),
    )
    # culling shuts the idle kernel down gracefully: its tracker ends the active run as at
    # any interpreter exit (FINISHED, as MLflow does; recorded in the spool first, so a
    # kernel killed during that shutdown is recovered FINISHED too), never left RUNNING
    assert status == "FINISHED"
    assert stored == {0}


STORM_KERNEL = """
import os, sys
import jupyter_mlops
run = jupyter_mlops.start_run(experiment="storm")
jupyter_mlops.log_metric("m", 1.0, step=0)
jupyter_mlops.flush()
with open(os.environ["STORM_LOG"], "a") as f:
    f.write(run.info.run_id + "\\n")
os._exit(1)  # dies during start-up, before the kernel ever answers
"""


def test_restart_storm_past_the_restart_limit_leaves_terminal_runs(
    server_process: Callable[[], ServerProcess], tmp_path: Path
) -> None:
    kernels = tmp_path / "jupyter-path" / "kernels" / "storm"
    kernels.mkdir(parents=True)
    script = tmp_path / "storm_kernel.py"
    script.write_text(STORM_KERNEL)
    spec = {
        "argv": [sys.executable, str(script), "-f", "{connection_file}"],
        "display_name": "storm",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    storm_log = tmp_path / "storm.txt"
    server = server_process()
    server.extra_env = {"JUPYTER_PATH": str(tmp_path / "jupyter-path"), "STORM_LOG": str(storm_log)}
    server.extra_config = (
        "c.KernelRestarter.restart_limit = 2\nc.KernelRestarter.time_to_dead = 1\n"
    )
    server.start()
    code, body = server.request("POST", "/api/kernels", {"name": "storm"})
    assert code == 201, body
    kid = body["id"]

    def given_up() -> bool:
        code, body = server.request("GET", "/api/kernels")
        return code == 200 and kid not in {k["id"] for k in body}

    wait_for(given_up, 120, "the server gives up restarting the kernel")
    store = _client(server.tracking_uri)
    created = [line for line in storm_log.read_text().split("\n") if line]

    def settled() -> bool:
        return all(store.get_run(r).info.status != "RUNNING" for r in created)

    wait_for(settled, RECOVERY_DEADLINE, "no run of the crash-looping kernel stays RUNNING")
    statuses = [store.get_run(r).info.status for r in created]
    stored = [len(_steps(store, r)) for r in created]
    health, _ = server.request("GET", "/jupyter-mlops/api/health")
    status, _ = server.request("GET", "/api/status")
    alive = server.proc is not None and server.proc.poll() is None
    record(
        "faults",
        "restart storm past the kernel restart limit: every run terminal, server healthy",
        ok=len(created) >= 3 and set(statuses) == {"KILLED"} and health == status == 200,
        injected=f"kernel exits at start-up, {len(created)} starts (restart_limit=2)",
        acknowledged=len(created),
        stored=sum(stored),
        final_status=sorted(set(statuses)),
    )
    assert len(created) >= 3  # the first start and two restarts
    assert set(statuses) == {"KILLED"}
    assert stored == [1] * len(created)
    assert alive
    assert health == 200
    assert status == 200


TIMEOUT_NB_BODY = (
    "import time, jupyter_mlops\n"
    "for step in range(5):\n"
    "    jupyter_mlops.log_metric('m', float(step), step=step)\n"
    "jupyter_mlops.flush()\n"
    "open('logged.txt', 'w').write('5')\n"
    "time.sleep(300)\n"
)


def test_timed_out_pipeline_execution_is_killed_and_keeps_its_metrics(tmp_path: Path) -> None:
    """Extends ``test_cli_run.py::test_timeout_kills``: what was logged before the timeout stays."""
    root = tmp_path / "project"
    root.mkdir()

    write_notebook(root / "sleepy.ipynb", "x = 1\n", [TIMEOUT_NB_BODY])
    uri = f"sqlite:///{root / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "sleepy.ipynb", "--timeout", "20"],
        cwd=root,
        env=child_env(MLFLOW_TRACKING_URI=uri, JUPYTER_MLOPS_SPOOL_DIR=str(tmp_path / "spool")),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    store = _client(uri)
    runs = _all_runs(store)
    parent = [r for r in runs if r.data.tags.get("mlops.runType") == "pipeline"]
    children = [r for r in runs if r not in parent]
    statuses = {
        "parent": [r.info.status for r in parent],
        "execution": [r.info.status for r in children],
    }
    child_steps = _steps(store, children[0].info.run_id) if len(children) == 1 else set()
    record(
        "faults",
        "pipeline execution that times out: child KILLED (timeout), parent not RUNNING, exit 1, "
        "metrics logged before the timeout kept",
        ok=done.returncode == 1 and child_steps == set(range(5)),
        injected="--timeout 20 on a notebook that sleeps 300 s",
        acknowledged=5,
        stored=len(child_steps),
        final_status=statuses,
        also="tests/python/test_cli_run.py::test_timeout_kills",
    )
    assert done.returncode == 1, done.stderr
    assert (root / "logged.txt").exists(), done.stdout + done.stderr
    assert "KILLED (timeout)" in done.stdout
    assert len(parent) == 1, statuses
    assert len(children) == 1, statuses
    assert parent[0].info.status == "KILLED"
    assert children[0].info.status == "KILLED"
    assert children[0].data.tags["mlops.status.reason"] == "timeout"
    assert child_steps == set(range(5))


# -- stale lock and spool files ----------------------------------------------------------

STALE_OWNER = """
import fcntl, os, sys, time
from pathlib import Path
from jupyter_mlops.core.tracking.tracker import Tracker
spool = Path(sys.argv[2])
tracker = Tracker(sys.argv[1], spool, flush_interval=3600)  # nothing delivered before the kill
tracker.record_environment = False
tracker.wait_for_recovery(30)
info = tracker.start_run(experiment="stale")
for step in range(200):
    tracker.log_metric("m", float(step), step=step)
fd = os.open(spool / ".recover.lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)  # as if killed while recovering
print(info.run_id, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_stale_lock_and_spool_of_a_dead_process_are_recovered(
    tmp_path: Path, new_store: Callable[[Path], Any]
) -> None:
    from jupyter_mlops.core.tracking.tracker import Tracker

    store = new_store(tmp_path / "store")
    spool = tmp_path / "spool"
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STALE_OWNER), store.uri, str(spool)],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert owner.stdout is not None
    run_id = owner.stdout.readline().strip()
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=30)
    assert run_id, "the owner did not start its run"
    left = sorted(p.name for p in spool.iterdir())
    assert f"{run_id}.jsonl" in left
    assert f"{run_id}.meta.json" in left
    assert ".recover.lock" in left
    assert store.client.get_run(run_id).info.status == "RUNNING"

    tracker = Tracker(store.uri, spool)  # a new kernel starts: its tracker recovers at start
    try:
        tracker.wait_for_recovery(60)
    finally:
        tracker.close()
    status = store.client.get_run(run_id).info.status
    stored = _steps(store.client, run_id)
    remaining = sorted(p.name for p in spool.iterdir() if p.name.startswith(run_id))
    record(
        "faults",
        "lock and spool files left by a SIGKILLed process are recovered automatically",
        ok=status == "KILLED" and stored == set(range(200)) and not remaining,
        injected="SIGKILL while holding .recover.lock with 200 undelivered metrics",
        acknowledged=200,
        stored=len(stored),
        final_status=status,
        files_left=remaining,
    )
    assert status == "KILLED"
    assert stored == set(range(200))
    assert remaining == []


# -- two threads open MLflow at once ----------------------------------------------------

CONCURRENT_FIRST_USE = """
import sys, threading
from jupyter_mlops.core.tracking import query
from jupyter_mlops.core.tracking.recovery import recover_orphans
uri, spool = sys.argv[1], sys.argv[2]
assert "mlflow" not in sys.modules
start, results = threading.Barrier(2), {}
def warm_up():
    start.wait()
    try:
        query.connect(uri).search_experiments()
        results["warm-up"] = "ok"
    except Exception as exc:
        results["warm-up"] = repr(exc)
def sweep():
    start.wait()
    try:
        results["sweep"] = recover_orphans(spool, tracking_uri=uri)
    except Exception as exc:
        results["sweep"] = repr(exc)
threads = [threading.Thread(target=warm_up), threading.Thread(target=sweep)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(results)
"""


def test_store_warm_up_and_recovery_sweep_may_first_import_mlflow_at_once(
    tmp_path: Path, new_store: Callable[[Path], Any]
) -> None:
    """A restarted server's warm-up and first sweep both import MLflow: neither may break it.

    Before the fix, Python's import deadlock detection handed one thread a half-built
    ``mlflow`` and every later sweep of that server failed: the runs of dead kernels stayed
    RUNNING for good (found by the server SIGKILL test above).
    """
    from jupyter_mlops.core.tracking.spool import Spool
    from jupyter_mlops.core.tracking.spool_format import (
        SpoolMeta,
        format_metric,
        process_create_time,
    )

    store = new_store(tmp_path / "store")
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    experiment = store.client.create_experiment("race")
    run_id = store.client.create_run(experiment).info.run_id
    spool = Spool(spool_dir, run_id, store.uri, client=store.client)
    SpoolMeta(  # this pid, but a process start long ago: the owner is gone
        run_id=run_id,
        tracking_uri=store.uri,
        pid=os.getpid(),
        create_time=process_create_time() - 1000,
        host=socket.gethostname(),
        created_ms=0,
    ).write(spool.meta_path)
    spool.append(format_metric("m", 1.0, 1000, 0))
    spool.close()
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CONCURRENT_FIRST_USE), store.uri, str(spool_dir)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = done.stdout.strip().splitlines()[-1]
    status = store.client.get_run(run_id).info.status
    expected = (
        f"{{'warm-up': 'ok', 'sweep': ['{run_id}']}}",
        f"{{'sweep': ['{run_id}'], 'warm-up': 'ok'}}",
    )
    record(
        "faults",
        "first use of the store from two threads at once (warm-up and recovery sweep)",
        ok=results in expected and status == "KILLED",
        injected="concurrent first import of MLflow",
        final_status=status,
    )
    assert results in expected
    assert status == "KILLED"
    assert len(store.client.get_metric_history(run_id, "m")) == 1
