"""Batch work books its cost in the ledger under the run's project and tags, exactly once.

Real processes throughout: plain IPython running ``%mlops start --project P --tag
epic=E``, the same cells under papermill, and a ``jupyter mlops run`` execution
whose notebook does the same. Each burns a known amount of CPU; the ledger's
report by project and by ``tag:epic`` must show P and E with that CPU time
(within 10%) and a non-zero cost, and nothing booked twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from child_python import project_env

from jupyter_mlops.core.cost.booking import (
    booked_elsewhere,
    cost_labels,
    leave_parent_booker,
    user_tags,
)

pytestmark = pytest.mark.timeout(240)

BURN_S = 2.5

# what every workload runs: the store opened (migrated) first, so the run's window holds
# the burn and little else; the CPU of this process tree between the start and the end
SETUP = (
    "import os, time, json\n"
    "import mlflow\n"
    "mlflow.MlflowClient().search_experiments()\n"
    "%load_ext jupyter_mlops\n"
)
RUN = (
    "%mlops start --project retention --tag epic=EPIC-7 --tag team=churn\n"
    "t = os.times(); c0 = t.user + t.system + t.children_user + t.children_system\n"
    f"end = time.process_time() + {BURN_S}\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "%mlops end\n"
    "t = os.times(); c1 = t.user + t.system + t.children_user + t.children_system\n"
    "print('CPU-IN-RUN', json.dumps(c1 - c0))\n"
)


def _run(root: Path, env: dict[str, str], *args: str) -> str:
    """``python -m ARGS`` in ``root``; it must succeed; its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, cwd=root,
        timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _report(root: Path, env: dict[str, str], by: str, ledger: str | None = None) -> dict:
    args = ["jupyter_mlops.cli", "cost", "report", "--by", by, "--format", "json", "--since", "1d"]
    return json.loads(_run(root, env, *args, *(["--ledger", ledger] if ledger else [])))


def _row(report: dict, key: str, value: str) -> dict:
    rows = [r for r in report["rows"] if r[key] == value]
    assert rows, f"no {key}={value!r} in {report['rows']}"
    return rows[0]


def _cpu_in_run(text: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith("CPU-IN-RUN"))
    return float(line.split()[1])


def _assert_booked(root: Path, env: dict[str, str], cpu: float) -> None:
    """Project ``retention`` and ``epic`` EPIC-7 hold the run's CPU within 10%, priced."""
    by_project = _report(root, env, "project")
    row = _row(by_project, "project", "retention")
    booked = row["cpu_core_hours"] * 3600
    assert booked == pytest.approx(cpu, rel=0.10), (booked, cpu, by_project)
    assert row["cost"] > 0
    # nothing booked twice: the whole ledger holds this one run's work
    assert by_project["total"]["cpu_core_hours"] * 3600 == pytest.approx(cpu, rel=0.10)
    by_tag = _report(root, env, "tag:epic")
    tagged = _row(by_tag, "tag:epic", "EPIC-7")
    assert tagged["cost"] == pytest.approx(row["cost"], rel=1e-6)
    both = _report(root, env, "project,tag:team")
    combined = [r for r in both["rows"] if r["project"] == "retention" and r["tag:team"] == "churn"]
    assert combined
    assert combined[0]["cost"] == pytest.approx(row["cost"], rel=1e-6)


def test_plain_ipython_run_books_its_cost_beside_the_store(tmp_path: Path) -> None:
    """No server, no ledger setting: the run books into mlops-cost.db beside mlflow.db."""
    env = project_env(tmp_path)
    del env["JUPYTER_MLOPS_COST_LEDGER"]  # the default: beside the embedded store
    env["JUPYTER_MLOPS_NOTEBOOK_REPORT"] = "0"
    script = tmp_path / "work.ipy"
    script.write_text(SETUP + RUN)
    out = _run(tmp_path, env, "IPython", "--no-banner", "--quick", str(script))
    assert (tmp_path / "mlops-cost.db").is_file()
    _assert_booked(tmp_path, env, _cpu_in_run(out))


def _notebook(path: Path) -> Path:
    from notebooks import write_notebook

    return write_notebook(path, "", [SETUP, RUN])


def test_papermill_run_books_its_cost(tmp_path: Path) -> None:
    """A papermill job (a kernel nobody else books) books its run like plain IPython."""
    env = project_env(tmp_path)
    env["JUPYTER_MLOPS_NOTEBOOK_REPORT"] = "0"
    nb = _notebook(tmp_path / "train.ipynb")
    _run(tmp_path, env, "papermill", str(nb), str(tmp_path / "out.ipynb"), "--cwd", str(tmp_path))
    cells = json.loads((tmp_path / "out.ipynb").read_text())["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    _assert_booked(tmp_path, env, _cpu_in_run(text))


# the runner as the Jupyter server is: a cost booker (of its own kernels only) that starts
# the pool of pipeline workers
AS_BOOKER = (
    "import os, sys; from jupyter_mlops.cli.main import main; "
    "os.environ['JUPYTER_MLOPS_COST_BOOKER_PID'] = str(os.getpid()); "
    "sys.exit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("runner", ["cli", "booker"])
def test_pipeline_execution_is_booked_once_by_the_runner(tmp_path: Path, runner: str) -> None:
    """``jupyter mlops run``: the runner books the kernel; the notebook's run does not again.

    ``booker``: the runner is itself a booker, as the Jupyter server is when it starts a
    pipeline run or fires a schedule; its pool's worker still books the execution.
    """
    env = project_env(tmp_path)
    env["JUPYTER_MLOPS_NOTEBOOK_REPORT"] = "0"
    env["JUPYTER_MLOPS_PROJECT"] = "retention"
    nb = _notebook(tmp_path / "train.ipynb")
    if runner == "cli":
        _run(tmp_path, env, "jupyter_mlops.cli", "run", str(nb))
    else:
        proc = subprocess.run(
            [sys.executable, "-c", AS_BOOKER, "run", str(nb)], capture_output=True, text=True,
            env=env, cwd=tmp_path, timeout=180,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
    by_project = _report(tmp_path, env, "project")
    row = _row(by_project, "project", "retention")
    # the whole execution (kernel start, imports, the burn) is booked once: at least the
    # burn, and not twice the kernel's CPU (the notebook's own run books nothing)
    booked = row["cpu_core_hours"] * 3600
    assert BURN_S * 0.9 <= booked < 2 * BURN_S + 8, by_project
    assert len(by_project["rows"]) == 1, by_project
    tagged = _row(_report(tmp_path, env, "tag:epic"), "tag:epic", "EPIC-7")
    assert tagged["cost"] == pytest.approx(row["cost"], rel=1e-6)


def test_a_child_of_the_booker_is_covered_and_covers_its_children() -> None:
    environ = {"JUPYTER_MLOPS_COST_BOOKER_PID": str(os.getppid())}
    assert booked_elsewhere(environ)
    assert not booked_elsewhere({"JUPYTER_MLOPS_COST_BOOKER_PID": "1"}, ppid=os.getpid() + 1)
    assert not booked_elsewhere({})
    assert booked_elsewhere({"JUPYTER_MLOPS_COST_COVERED": "1"})


def test_a_pool_worker_of_a_booker_books_its_own_work() -> None:
    worker = {"JUPYTER_MLOPS_COST_BOOKER_PID": "41"}
    assert leave_parent_booker(worker, ppid=41)
    assert worker == {}
    assert not booked_elsewhere(worker, ppid=41)
    covered = {"JUPYTER_MLOPS_COST_BOOKER_PID": "41", "JUPYTER_MLOPS_COST_COVERED": "1"}
    assert not leave_parent_booker(covered, ppid=41)  # a pool inside a covered kernel
    assert booked_elsewhere(covered, ppid=41)
    other = {"JUPYTER_MLOPS_COST_BOOKER_PID": "7"}  # a booker further up is not forgotten
    assert not leave_parent_booker(other, ppid=41)
    assert other == {"JUPYTER_MLOPS_COST_BOOKER_PID": "7"}


def test_cost_labels_come_from_the_run_tags() -> None:
    tags = {
        "mlops.project": "retention",
        "mlops.notebook": "a/train.ipynb",
        "mlops.kernel_id": "k1",
        "mlflow.user": "ana",
        "epic": "EPIC-7",
    }
    assert cost_labels("r1", tags) == {
        "kernel_id": "k1",
        "run_id": "r1",
        "notebook": "a/train.ipynb",
        "project": "retention",
        "user": "ana",
    }
    assert cost_labels("r1", {}, default_project="p")["project"] == "p"
    assert user_tags(tags) == {"epic": "EPIC-7"}
