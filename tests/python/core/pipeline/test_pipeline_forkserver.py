"""Kernels forked by the workers' fork servers: clean, separate, killable, and a fallback.

Every test runs real executions in real pool workers (``run_plan`` or a
``LocalExecutor``), whose kernels a fork server forks. A forked kernel is told
apart from a launched one by its command line: it keeps the fork server's
(``...forkchild import serve...``), a launched one reads ``-m ipykernel_launcher``.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.pipeline import plan_run, run_plan
from jupyter_mlops.core.pipeline.executors import LocalExecutor
from jupyter_mlops.core.pipeline.model import Execution, ExecutionResult, ProgressEvent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kernels fork on Linux"),
]

# what each execution's kernel saw, written to report-<n>.json in its cwd
REPORT = textwrap.dedent(
    """\
    import json, os, sys
    import psutil
    seen_global = globals().get("leak")
    seen_module = getattr(psutil, "_mlops_leak", None)
    leak = n
    psutil._mlops_leak = n
    report = {
        "global": seen_global, "module": seen_module, "cwd": os.getcwd(),
        "foo": os.environ.get("FOO"), "run_id": os.environ.get("JUPYTER_MLOPS_RUN_ID"),
        "pid": os.getpid(), "ppid": os.getppid(), "cmdline": " ".join(psutil.Process().cmdline()),
        "startup": os.environ.get("PYTHONSTARTUP"), "mlflow_run_id": os.environ.get("MLFLOW_RUN_ID"),
    }
    json.dump(report, open(f"report-{n}.json", "w"))
    """
)


def _report(folder: Path, n: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / f"report-{n}.json").read_text())
    return data


def _forked(report: dict[str, Any]) -> bool:
    return "forkchild" in report["cmdline"] and "ipykernel_launcher" not in report["cmdline"]


def _in_one_worker(executions: list[Execution]) -> list[ExecutionResult]:
    """Run ``executions`` one after the other in one pool worker (as the runner does)."""
    pool = LocalExecutor(1)
    pool.start(None)
    try:
        results = []
        for execution in executions:
            handle = pool.submit(execution)
            while not pool.done([handle], 1.0):
                pass
            results.append(pool.outcome(handle, execution))
        return results
    finally:
        pool.close()


def _execution(nb: Path, index: int, cwd: Path, **fields: Any) -> Execution:
    return Execution(
        index=index,
        trial=index,
        step="step",
        notebook=str(nb),
        output=str(cwd / "out" / f"out-{index}.ipynb"),
        cwd=str(cwd),
        parameters=fields.pop("parameters", {"n": index}),
        **fields,
    )


def _gone(pids: list[int], timeout: float = 10.0) -> bool:
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_each_execution_starts_clean_in_its_own_kernel(tmp_path: Path, mlflow_store: Any) -> None:
    write_notebook(tmp_path / "clean.ipynb", notebook("n = 0", REPORT))
    plan = plan_run("clean.ipynb", root=tmp_path, grid={"n": [1, 2, 3]})
    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=1)
    assert result.status == "FINISHED", [r.error for r in result.results]
    reports = [_report(Path(e.cwd), e.parameters["n"]) for e in result.executions]
    assert all(_forked(r) for r in reports), reports[0]["cmdline"]
    # nothing of an earlier execution: neither its globals nor what it did to a module
    assert [(r["global"], r["module"]) for r in reports] == [(None, None)] * 3
    assert len({r["pid"] for r in reports}) == 3
    assert len({r["ppid"] for r in reports}) == 1  # the one worker is every kernel's parent
    # the run's own environment: its run id, and the pipeline's start-up file runs per kernel
    run_ids = [e.run_id for e in result.executions]
    assert [r["run_id"] for r in reports] == run_ids
    assert all(r["startup"] and r["startup"].endswith("pipeline_startup.py") for r in reports)
    assert _gone([r["pid"] for r in reports] + [reports[0]["ppid"]])


def test_each_forked_kernel_gets_its_environment_and_folder(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "env.ipynb", notebook("n = 0", REPORT))
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    runs = [
        _execution(nb, i + 1, folder, env={"FOO": f"foo-{i + 1}"})
        for i, folder in enumerate(folders)
    ]
    results = _in_one_worker(runs)
    assert [r.status for r in results] == ["FINISHED", "FINISHED"]
    first, second = _report(folders[0], 1), _report(folders[1], 2)
    assert _forked(first)
    assert _forked(second)
    assert (first["cwd"], first["foo"]) == (str(folders[0]), "foo-1")
    assert (second["cwd"], second["foo"]) == (str(folders[1]), "foo-2")
    assert first["mlflow_run_id"] is None  # untracked: nothing of a tracked run leaks in


def test_timeout_kills_the_forked_kernel(tmp_path: Path) -> None:
    body = "import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(300)"
    nb = write_notebook(tmp_path / "slow.ipynb", notebook("n = 0", body))
    (result,) = _in_one_worker([_execution(nb, 1, tmp_path, timeout=8.0)])
    assert (result.status, result.reason) == ("KILLED", "timeout")
    assert _gone([int((tmp_path / "pid").read_text())])


@pytest.mark.parametrize(
    "body",
    ["import os\nos._exit(3)", "import ctypes\nctypes.string_at(0)"],
    ids=["os._exit", "segfault"],
)
def test_a_dying_forked_kernel_is_kernel_died(tmp_path: Path, body: str) -> None:
    nb = write_notebook(tmp_path / "die.ipynb", notebook("n = 0", REPORT, body, "never = 1"))
    (result,) = _in_one_worker([_execution(nb, 1, tmp_path)])
    assert (result.status, result.reason) == ("KILLED", "kernel_died")
    report = _report(tmp_path, 1)
    assert _forked(report)
    assert _gone([report["pid"]])


def test_cancel_kills_workers_servers_and_kernels(tmp_path: Path, mlflow_store: Any) -> None:
    body = "import os, time\nopen(f'pid-{n}', 'w').write(str(os.getpid()))\ntime.sleep(300)"
    write_notebook(tmp_path / "sleep.ipynb", notebook("n = 0", body))
    cancel = threading.Event()
    tree: list[int] = []

    def cancel_when_running(event: ProgressEvent) -> None:
        if event.kind != "started" or tree:
            return

        def wait() -> None:
            pids = [tmp_path / f"pid-{n}" for n in (1, 2)]
            while not all(p.exists() and p.read_text() for p in pids):
                time.sleep(0.1)
            for path in pids:  # each kernel, its worker and everything under that worker
                kernel = psutil.Process(int(path.read_text()))
                worker = kernel.parent()
                assert worker is not None
                tree.extend(p.pid for p in [worker, *worker.children(recursive=True)])
            cancel.set()

        threading.Thread(target=wait, daemon=True).start()

    plan = plan_run("sleep.ipynb", root=tmp_path, grid={"n": [1, 2]})
    result = run_plan(
        plan, tracking_uri=mlflow_store.uri, workers=2, on_event=cancel_when_running, cancel=cancel
    )
    assert [(r.status, r.reason) for r in result.results] == [("KILLED", "cancelled")] * 2
    assert len(tree) >= 6  # 2 workers, 2 fork servers, 2 kernels
    assert _gone(tree)


def test_another_kernel_is_launched_not_forked(
    tmp_path: Path, mlflow_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "jupyter" / "kernels" / "other"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "Other", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    write_notebook(tmp_path / "other.ipynb", notebook("n = 0", REPORT))
    plan = plan_run("other.ipynb", root=tmp_path, grid={"n": [1, 2]}, kernel_name="other")
    result = run_plan(plan, tracking_uri=mlflow_store.uri, workers=1)
    assert result.status == "FINISHED", [r.error for r in result.results]
    reports = [_report(Path(e.cwd), e.parameters["n"]) for e in result.executions]
    assert not any(_forked(r) for r in reports)
    assert all("ipykernel_launcher" in r["cmdline"] for r in reports)


INTERRUPT = """
import asyncio
from jupyter_mlops.core.pipeline import forkserver
from jupyter_mlops.core.pipeline.kernel import KernelSession

async def main():
    forkserver.ensure()
    session = KernelSession({})
    manager = session.manager_class()(kernel_name="python3")
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    client.execute("import time\\ntime.sleep(120)")
    await asyncio.sleep(2.0)
    await manager.interrupt_kernel()
    reply = await client.get_shell_msg(timeout=60)
    print(type(manager.provisioner.process).__name__, reply["content"].get("ename"))
    client.stop_channels()
    await manager.shutdown_kernel(now=True)
    session.close()

asyncio.run(main())
"""


def test_interrupt_reaches_the_forked_kernel() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ForkedKernel", "KeyboardInterrupt"]
