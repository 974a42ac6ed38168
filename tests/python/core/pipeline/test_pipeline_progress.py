"""Live progress: cell k of n and the last output lines, from a real kernel through the runner
to ``on_event`` and to a :class:`LaunchRegistry`'s Launch; plus the writer's line handling."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.cli.run import progress_text
from jupyter_mlops.core.pipeline import plan_run, run_plan
from jupyter_mlops.core.pipeline.launches import LaunchRegistry
from jupyter_mlops.core.pipeline.model import LaunchRequest, ProgressEvent
from jupyter_mlops.core.pipeline.progress import LINES, ProgressWriter, read_progress

# four cells that print and pause (long enough for the runner's 1 s reads to see several)
CELLS = [f"import time\nprint('cell {i} says hi')\ntime.sleep(1.5)" for i in range(1, 5)]


def code_cells(output: str) -> int:
    cells = json.loads(Path(output).read_text())["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip())


@pytest.mark.slow
def test_progress_events_follow_the_cells(tmp_path: Path, mlflow_store: Any) -> None:
    write_notebook(tmp_path / "talk.ipynb", notebook("n = 1", *CELLS))
    events: list[ProgressEvent] = []
    result = run_plan(
        plan_run("talk.ipynb", root=tmp_path), tracking_uri=mlflow_store.uri, on_event=events.append
    )
    assert result.status == "FINISHED", [r.error for r in result.results]
    progress = [e for e in events if e.kind == "progress"]
    assert len(progress) >= 2, [e.kind for e in events]
    kinds = [e.kind for e in events]
    assert kinds.index("started") < kinds.index("progress") < kinds.index("finished")
    snapshots = [e.progress for e in progress if e.progress is not None]
    cells = [s["cell"] for s in snapshots]
    assert cells == sorted(cells)
    assert len(set(cells)) >= 2
    # before the kernel runs its first cell a snapshot may carry only the cost so far
    started = [s for s in snapshots if s["cells"]]
    assert all(s["cell"] == 0 and not s["lines"] for s in snapshots if not s["cells"])
    assert {s["cells"] for s in started} == {code_cells(result.results[0].output or "")}
    assert [progress_text(s) for s in snapshots if not s["cells"]] == ["starting"] * (
        len(snapshots) - len(started)
    )
    assert progress_text(started[-1]).startswith(f"cell {started[-1]['cell']}/")
    for snapshot in snapshots:  # code cell k (the parameters cell is 1) prints "cell k-1"
        said = [int(line.split()[1]) for line in snapshot["lines"]]
        assert said == sorted(said)
        assert all(1 <= n <= snapshot["cell"] - 1 for n in said), snapshot
    assert any(s["lines"] for s in snapshots)
    assert all(e.execution is not None and e.execution.run_id for e in progress)
    folder = Path(progress[0].execution.progress_file or "").parent  # type: ignore[union-attr]
    assert not folder.exists()  # removed with the run


@pytest.mark.slow
def test_a_launch_shows_progress_attempt_and_cache_hit(tmp_path: Path, mlflow_store: Any) -> None:
    write_notebook(tmp_path / "talk.ipynb", notebook("n = 1", *CELLS[:3]))
    registry = LaunchRegistry(tmp_path, tracking_uri=mlflow_store.uri)
    request = LaunchRequest.from_json({"path": "talk.ipynb"})
    launch = registry.start(registry.plan(request), request)
    (entry,) = launch["executions"]
    assert (entry["attempt"], entry["cache_hit"], entry["progress"]) == (1, None, None)
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while launch["status"] not in ("FINISHED", "FAILED", "KILLED"):
        assert time.monotonic() < deadline, launch
        time.sleep(0.2)
        launch = registry.get(launch["id"])
        progress = launch["executions"][0]["progress"]
        if progress is not None and launch["status"] == "RUNNING":
            seen.append(progress)
    assert launch["status"] == "FINISHED", launch
    assert seen, "no progress while it ran"
    assert set(seen[-1]) == {"cell", "cells", "lines", "updated"}
    assert any("says hi" in line for s in seen for line in s["lines"])
    done = launch["executions"][0]
    assert (done["attempt"], done["cache_hit"]) == (1, None)
    json.dumps(launch)  # the REST body


def test_writer_keeps_the_last_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    writer = ProgressWriter(str(path))
    with writer:
        writer.notebook_start(
            notebook=type("Nb", (), {"cells": [{"cell_type": "markdown", "source": "# t"}]})()
        )
        writer.add_output("".join(f"line {i}\n" for i in range(30)))
        writer.add_output("partial")
        writer.cell_execute(cell=None, cell_index=3)
    snapshot = read_progress(str(path))
    assert snapshot is not None
    assert snapshot["lines"][-1] == "partial"
    assert snapshot["lines"][0] == f"line {30 - LINES + 1}"
    assert len(snapshot["lines"]) == LINES
    assert (snapshot["cell"], snapshot["cells"]) == (1, 0)
    assert ProgressWriter(None).engine_kwargs() == {}
    path.write_text("{not json")
    assert read_progress(str(path)) is None
