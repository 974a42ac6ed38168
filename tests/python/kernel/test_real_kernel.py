"""``%load_ext jupyter_mlops`` and ``%mlops`` in a real ipykernel process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_exec import execute
from mlflow import MlflowClient

CELLS = [
    "%load_ext jupyter_mlops",
    "%mlops start --experiment real-kernel --tag epic=MLOPS-12",
    "from jupyter_mlops.widgets import RunView\nview = RunView(refresh=0.1)\nview",
    "%mlops log acc=0.5 --step 1\n%mlops log acc=0.75 --step 2",
    "%mlops param lr=0.01",
    "%mlops end",
    "view._thread.join(60)\nprint(view.running, view.status, bytes(view._chart.value)[:4])",
    "%%mlops run --experiment real-kernel --run-name failing\n1 / 0",
    "%mlops log acc=abc",
    "%%mlops run --experiment real-kernel\nimport asyncio\nawait asyncio.sleep(0)",
]


@pytest.mark.slow
def test_magics_in_a_real_kernel(
    tmp_path: Path, child_env: dict[str, str], new_store: Callable[[Path], Any]
) -> None:
    uri = new_store(tmp_path).uri
    env = {
        **child_env,
        "MLFLOW_TRACKING_URI": uri,
        "JUPYTER_MLOPS_SPOOL_DIR": str(tmp_path / "spool"),
        "JUPYTER_MLOPS_ROOT_DIR": str(tmp_path),
    }
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        results = [execute(client, code) for code in CELLS]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    statuses = [status for status, _ in results]
    assert statuses == ["ok"] * 7 + ["error"] * 3, results
    started = "".join(o.get("text", "") for o in results[1][1])
    assert "Started: Run " in started
    (shown,) = results[2][1]
    assert "application/vnd.jupyter.widget-view+json" in shown["data"]
    stopped = "".join(o.get("text", "") for o in results[6][1])
    assert stopped.strip() == "False FINISHED b'\\x89PNG'"
    failing = results[7][1]
    assert [o["ename"] for o in failing if o["type"] == "error"] == [
        "ZeroDivisionError",
        "MlopsMagicError",
    ]
    bad = [o for o in results[8][1] if o["type"] == "error"]
    assert "Nothing was logged" in bad[0]["evalue"]
    assert not any("Traceback" in line for line in bad[0]["traceback"])
    awaiting = [o for o in results[9][1] if o["type"] == "error"]
    assert "top-level await" in awaiting[0]["evalue"]

    store = MlflowClient(uri)
    experiment = store.get_experiment_by_name("real-kernel")
    runs = {r.info.run_name: r for r in store.search_runs([experiment.experiment_id])}
    assert runs["failing"].info.status == "FAILED"
    (tracked,) = (r for name, r in runs.items() if name != "failing")
    assert tracked.info.status == "FINISHED"
    assert tracked.data.tags["epic"] == "MLOPS-12"
    assert tracked.data.params["lr"] == "0.01"
    history = store.get_metric_history(tracked.info.run_id, "acc")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.5), (2, 0.75)]
