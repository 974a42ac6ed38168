"""A brand-new embedded store is safe to share from its first second (issue 10, item 10).

MLflow creates and migrates a SQLite store's schema the first time a process
opens it; several processes doing that at once used to fail ("duplicate column
name: step", "Online migration expected to match one row"). Here many real
processes, and a real Jupyter server with a real kernel, first-use a store that
does not exist yet, at the same moment: nobody sees an error.

A second test starts a real Jupyter server (``ServerProcess`` of the fault
tests) on a new empty folder and, as soon as it answers, three kernels that
each run ``%load_ext jupyter_mlops`` + ``%mlops start``, all at the moment the
server's warm-up creates the store file (when the kernels are ready before it
does; on a slow machine they may come after the warm-up: then they just pass).

Run as a script (``python test_new_store.py SPEC.json``) this file is the
driver of :func:`test_16_processes_first_use_a_new_store_at_once`: the parent
imports MLflow and jupyter_mlops once, forks one child per opener, releases
them all at once through a barrier file, and prints ``{"exit_codes": {...}}``.
Each child opens the store for the first time in its process (the parent never
opens it) in one of three ways: a ``Tracker`` (``tracker``), the public
``jupyter_mlops.start_run/log_metric/end_run`` (``api``), or plain
``MlflowClient.create_run`` on the client of ``get_client`` (``client``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from forks import BARRIER_TIMEOUT, wait_barrier

EXPERIMENT = "new-store"
KINDS = ("tracker", "api", "client")


def _open_and_run(kind: str, name: str, uri: str, spool_dir: Path) -> str:
    """First use of the store in this process, one of three ways; the run id (FINISHED)."""
    if kind == "tracker":
        from jupyter_mlops.core.tracking.tracker import Tracker

        tracker = Tracker(uri, spool_dir, flush_interval=0.1)
        info = tracker.start_run(experiment=EXPERIMENT, run_name=name)
        tracker.log_metric("m", 1.0, step=0)
        tracker.end_run()
        return info.run_id
    if kind == "api":
        import jupyter_mlops

        run = jupyter_mlops.start_run(experiment=EXPERIMENT, run_name=name)
        jupyter_mlops.log_metric("m", 1.0, step=0)
        jupyter_mlops.end_run()
        return str(run.run_id)
    from jupyter_mlops.core.tracking.store import experiment_id, get_client

    client = get_client(uri)
    created = client.create_run(experiment_id(client, EXPERIMENT, uri), run_name=name)
    client.log_metric(created.info.run_id, "m", 1.0, step=0)
    client.set_terminated(created.info.run_id)
    return str(created.info.run_id)


def _child(spec: dict[str, Any], kind: str, name: str) -> int:
    out = Path(spec["out"])
    err = open(out / f"{name}.err", "w")  # noqa: SIM115 - the child's stderr until it exits
    os.dup2(err.fileno(), 2)
    try:
        (out / f"{name}.ready").touch()
        wait_barrier(Path(spec["barrier"]), interval=0.002)
        run_id = _open_and_run(kind, name, spec["uri"], Path(spec["spool_dir"]))
        (out / f"{name}.json").write_text(json.dumps({"run_id": run_id}))
        return 0
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stderr.flush()


def _drive(spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    os.environ["MLFLOW_TRACKING_URI"] = spec["uri"]  # what ``jupyter_mlops.start_run`` uses
    os.environ["JUPYTER_MLOPS_SPOOL_DIR"] = spec["spool_dir"]
    os.environ["JUPYTER_MLOPS_COST_ENABLED"] = "0"
    import mlflow  # noqa: F401 - imported once, before the fork, never used to open the store

    import jupyter_mlops  # noqa: F401
    import jupyter_mlops.core.tracking.tracker as tracking

    tracking.Tracker.record_cost = False
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    pids: dict[int, str] = {}
    for index in range(spec["processes"]):
        kind = KINDS[index % len(KINDS)]
        name = f"{kind}-{index}"
        pid = os.fork()
        if pid == 0:
            os._exit(_child(spec, kind, name))
        pids[pid] = name
    names = list(pids.values())
    wait_barrier(out, 10, interval=0.002)
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while not all((out / f"{n}.ready").exists() for n in names):
        assert time.monotonic() < deadline, "children not ready"
        time.sleep(0.01)
    Path(spec["barrier"]).touch()
    codes = {}
    for pid, name in pids.items():
        _, status = os.waitpid(pid, 0)
        codes[name] = os.waitstatus_to_exitcode(status)
    print(json.dumps({"exit_codes": codes}))


if __name__ == "__main__":
    _drive(Path(sys.argv[1]))
else:
    from concurrent.futures import ThreadPoolExecutor

    import pytest
    from promises import record

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
    from fault_tools import ServerProcess, kernel_client

    pytestmark = pytest.mark.slow

    def test_16_processes_first_use_a_new_store_at_once(tmp_path: Path) -> None:
        db = tmp_path / "store" / "mlflow.db"
        db.parent.mkdir()
        uri = f"sqlite:///{db}"
        spec = {
            "uri": uri,
            "spool_dir": str(tmp_path / "spool"),
            "out": str(tmp_path / "out"),
            "barrier": str(tmp_path / "barrier"),
            "processes": 16,
        }
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ)
        env.pop("MLFLOW_TRACKING_URI", None)
        proc = subprocess.run(
            [sys.executable, __file__, str(spec_path)],
            capture_output=True,
            text=True,
            timeout=400,
            env=env,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, f"driver failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
        codes = json.loads(proc.stdout.strip().splitlines()[-1])["exit_codes"]
        out = tmp_path / "out"
        errors = {name: (out / f"{name}.err").read_text(errors="replace") for name in codes}
        failed = {
            name: errors[name].strip().splitlines()[-1:] for name, code in codes.items() if code
        }
        assert not failed, f"{len(failed)} of 16 processes failed: {failed}"
        for name, text in errors.items():  # nobody logged an error either (MLflow's or ours)
            assert "Traceback" not in text, f"{name}: {text[-2000:]}"
            assert "ERROR" not in text, f"{name}: {text[-2000:]}"

        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(EXPERIMENT)
        assert experiment is not None
        runs = client.search_runs([experiment.experiment_id], max_results=100)
        assert len(runs) == 16
        assert {r.info.run_name for r in runs} == set(codes)
        assert {r.info.status for r in runs} == {"FINISHED"}
        assert len(client.search_experiments()) == 2  # Default and ours, each created once
        record(
            "load",
            "16 processes first-use a brand-new SQLite store at once: 0 failures",
            ok=True,
            processes=16,
            failures=0,
            finished_runs=len(runs),
        )

    START_CELL = """
%load_ext jupyter_mlops
import mlflow, pathlib, time  # as in a kernel that imported MLflow already
_db = pathlib.Path({db!r})
_waited = not _db.exists()
while not _db.exists():  # the server's warm-up has begun to create the store
    time.sleep(0.001)
%mlops start --experiment first-second
print("waited" if _waited else "late")
"""

    def _ready_client(connection: Path, tries: int = 5) -> Any:
        """``kernel_client``, tried again when the kernel's heartbeat is not up yet (a busy machine)."""
        for attempt in range(tries):
            try:
                return kernel_client(connection)
            except RuntimeError:  # "Kernel died before replying": no heartbeat yet
                if attempt == tries - 1:
                    raise
                time.sleep(1)
        return None

    def _run_cell(client: Any, code: str, timeout: float = 180) -> tuple[str, str]:
        """Run ``code`` in the kernel: the reply status and everything it printed."""
        printed: list[str] = []

        def collect(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                printed.append(content["text"])
            elif msg["msg_type"] == "error":
                printed.append(f"{content['ename']}: {content['evalue']}")

        reply = client.execute_interactive(code, timeout=timeout, output_hook=collect)
        return str(reply["content"]["status"]), "".join(printed)

    def test_server_on_a_new_folder_whose_first_kernels_start_runs_at_once(
        tmp_path: Path,
    ) -> None:
        folder = tmp_path / "server"
        root = folder / "root"
        uri = f"sqlite:///{root.resolve() / 'mlflow.db'}"  # the default store of a new folder
        server = ServerProcess(folder, uri)
        assert not (root / "mlflow.db").exists()
        clients = []
        try:
            server.start()  # answers at once; warm-up and recovery open the store meanwhile
            for _ in range(3):
                _, connection = server.start_kernel()
                clients.append(_ready_client(connection))
            with ThreadPoolExecutor(len(clients)) as pool:  # all at the same moment
                cell = START_CELL.format(db=str(root / "mlflow.db"))
                outcomes = list(pool.map(lambda c: _run_cell(c, cell), clients))
            for status, printed in outcomes:
                assert status == "ok", printed
                assert "Error" not in printed, printed
            run_ids = []
            for c in clients:
                status, printed = _run_cell(
                    c, "import jupyter_mlops; print(jupyter_mlops.active_run().run_id)"
                )
                assert status == "ok", printed
                run_ids.append(printed.strip())
            code, health = server.request("GET", "/jupyter-mlops/api/runs")
        finally:
            for c in clients:
                c.stop_channels()
            server.stop()
        log = server.log_text()
        assert "not usable yet" not in log, log[-4000:]  # the warm-up opened the store
        assert "Traceback" not in log, log[-4000:]
        assert code == 200, health

        from mlflow import MlflowClient

        store = MlflowClient(tracking_uri=uri)
        assert {store.get_run(run_id).info.run_id for run_id in run_ids} == set(run_ids)
        assert len(set(run_ids)) == 3
        record(
            "load",
            "a server on a new folder whose first kernels start runs at once: 0 errors",
            ok=True,
            kernels=3,
            kernels_before_the_store_file=sum("waited" in printed for _, printed in outcomes),
            runs=len(set(run_ids)),
        )
