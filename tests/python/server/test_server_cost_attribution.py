"""Real servers, real kernels: whose cost lands where, by default and with a shared ledger.

* A kernel's cost rows follow its run: ``%mlops start --project P --tag epic=E`` in
  a server's kernel books under P and E while the run is active (and only once:
  the kernel does not book its own run when the server books it).
* Two servers on two folders with the default settings: each report (run in its
  folder) shows only its own notebooks; with one shared ledger URL, both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from child_python import clean_env
from live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FAST = (
    "c.MlopsConfig.cost_interval = 0.5\n"
    "c.MlopsExtensionApp.cost_sync_interval = 0.5\n"
    "c.MlopsExtensionApp.warm_up = True\n"
)
BURN = (
    "import os, time\n"
    "t = os.times(); c0 = t.user + t.system\n"
    "end = time.process_time() + {seconds}\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "time.sleep(1.5)\n"  # two sampler ticks and a runs sync see the work done
    "t = os.times(); print('CPU', t.user + t.system - c0)\n"
)


def _env() -> dict[str, str]:
    env = clean_env()  # no MLFLOW_*, no JUPYTER_MLOPS_*: every default
    env["MLFLOW_LOGGING_LEVEL"] = "WARNING"
    env["JUPYTER_MLOPS_NOTEBOOK_REPORT"] = "0"
    return env


def _report(cwd: Path, by: str, *extra: str) -> dict:
    args = [sys.executable, "-m", "jupyter_mlops.cli", "cost", "report", "--by", by]
    args += ["--format", "json", "--since", "1d", *extra]
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(), cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _start_both(tmp_path: Path, config: str) -> tuple[LiveServer, LiveServer]:
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda n: LiveServer.start(tmp_path / n, _env(), FAST + config), "ab")
    return a, b


def _work(server: LiveServer, notebook: str) -> str:
    """Burn CPU in a new session's kernel; return once the server has sampled it since, under
    the notebook's name (a loaded machine may delay the sampler, never mislabel its rows)."""
    kernel = server.new_session(notebook)
    server.execute(kernel, BURN.format(seconds=0.5))
    burned = time.time()
    deadline = burned + 60
    while time.time() < deadline:
        status = server.request("/jupyter-mlops/api/cost")
        target = status["targets"].get(kernel) or {}
        if (status["time"] or 0) > burned:
            sessions = server.request("/api/sessions")
            assert target.get("notebook") == notebook, (kernel, status["targets"], sessions)
            return kernel
        time.sleep(0.25)
    raise AssertionError(f"the server sampled no cost of {notebook} in 60 s")


def test_two_folders_report_their_own_work_unless_the_ledger_is_shared(tmp_path: Path) -> None:
    a, b = _start_both(tmp_path, "")
    try:
        _work(a, "sub/train.ipynb")
        _work(b, "sub/train.ipynb")
    finally:
        a.stop()
        b.stop()
    assert (tmp_path / "a" / "mlops-cost.db").is_file()
    assert (tmp_path / "b" / "mlops-cost.db").is_file()
    for name in "ab":
        rows = _report(tmp_path / name, "notebook")["rows"]
        assert [r["notebook"] for r in rows] == ["sub/train.ipynb"], rows
        assert rows[0]["cost"] > 0
        projects = [r["project"] for r in _report(tmp_path / name, "project")["rows"]]
        assert projects == [name], projects  # the folder's name: the default project

    shared = f"sqlite:///{tmp_path / 'team-ledger.db'}"
    a, b = _start_both(tmp_path, f"c.MlopsConfig.cost_ledger_url = {shared!r}\n")
    try:
        _work(a, "a.ipynb")
        _work(b, "b.ipynb")
    finally:
        a.stop()
        b.stop()
    rows = _report(tmp_path, "project,notebook", "--ledger", shared)["rows"]
    assert sorted((r["project"], r["notebook"]) for r in rows) == [
        ("a", "a.ipynb"),
        ("b", "b.ipynb"),
    ]


def test_a_kernels_cost_follows_its_run_project_and_tags(tmp_path: Path) -> None:
    server = LiveServer.start(tmp_path / "lab", _env(), FAST)
    try:
        kernel = server.new_session("churn/train.ipynb")
        server.execute(kernel, BURN.format(seconds=0.3))  # outside a run: the default project
        server.execute(
            kernel,
            "%load_ext jupyter_mlops\n"
            "%mlops start --project retention --tag epic=EPIC-12\n"
            "import time; time.sleep(2.0)",  # the server's runs sync labels the kernel
        )
        out = server.execute(kernel, BURN.format(seconds=2.0))
        server.execute(kernel, "%mlops end")
    finally:
        server.stop()
    burned = float(out.split()[-1])
    root = tmp_path / "lab"
    projects = {r["project"]: r for r in _report(root, "project")["rows"]}
    assert set(projects) == {"lab", "retention"}, projects
    in_run = projects["retention"]["cpu_core_hours"] * 3600
    # the run's burn is booked under its project, once (the kernel does not book it too)
    assert burned * 0.9 <= in_run <= burned * 1.3 + 0.5, (in_run, burned)
    epics = {r["tag:epic"]: r for r in _report(root, "tag:epic")["rows"]}
    assert epics["EPIC-12"]["cost"] == pytest.approx(projects["retention"]["cost"], rel=1e-6)
    assert epics["(none)"]["cost"] == pytest.approx(projects["lab"]["cost"], rel=1e-6)


def test_run_tags_are_written_to_the_ledger_once_per_change(tmp_path: Path) -> None:
    """The server's runs sync (every few seconds) writes a run's tags only when they change."""
    import itertools

    from mlflow import MlflowClient

    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.server.cost import RunLabels, running_runs_by_kernel

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e")
    tags = {"mlops.kernel_id": "k1", "mlops.project": "retention", "epic": "E-1"}
    run = client.create_run(experiment, tags=tags).info.run_id
    ticks = itertools.count(1000)
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}", clock=lambda: float(next(ticks)))
    tagged: dict[str, dict[str, str]] = {}

    def written() -> float:
        t = ledger.schema.tags
        with ledger.engine.connect() as conn:
            return float(conn.execute(ledger._sa.select(t.c.updated)).scalar_one())

    assert running_runs_by_kernel(client, ledger, tagged) == {"k1": RunLabels(run, "retention")}
    first = written()
    running_runs_by_kernel(client, ledger, tagged)
    assert written() == first  # unchanged tags: no write
    client.set_tag(run, "epic", "E-2")
    running_runs_by_kernel(client, ledger, tagged)
    assert ledger.run_tags(run) == {"epic": "E-2"}
    assert written() > first
    client.set_terminated(run)
    running_runs_by_kernel(client, ledger, tagged)
    assert tagged == {}  # ended runs are forgotten
    ledger.close()
