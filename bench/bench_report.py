"""Benchmark: ``%mlops end`` with the notebook report against ``%mlops end`` without it.

When a run ends it gets the notebook as saved and an nbconvert HTML report;
the rendering happens in a detached worker, so the kernel's ``%mlops end``
must return about as fast as before: at most 50 ms more (median). Both arms
run in one IPython shell on one SQLite store, interleaved, on a 40-cell
notebook with outputs; each ends a run that logged 200 points. The figure is
the median of ``--repeat`` ends per arm; the workers' renderings are waited
for at the end (and their uploads checked) so nothing is left running.

    python bench/bench_report.py [--repeat 8]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 50.0


def _notebook(path: Path, cells: int = 40) -> None:
    def cell(i: int) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "metadata": {},
            "execution_count": i,
            "source": f"x{i} = sum(range({i} * 1000))\nprint(x{i})",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": f"{i * 999}\n" * 20}],
        }

    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [cell(i) for i in range(cells)],
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    notebook = folder / "analysis.ipynb"
    _notebook(notebook)
    os.environ.update(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
            "JUPYTER_MLOPS_SPOOL_DIR": str(folder / "spool"),
            "JUPYTER_MLOPS_ROOT_DIR": str(folder),
            "JPY_SESSION_NAME": str(notebook),
            "MLFLOW_LOGGING_LEVEL": "WARNING",
        }
    )
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_mlops.kernel import api

    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("jupyter_mlops")
    tracker = api.get_tracker()
    times: dict[bool, list[float]] = {True: [], False: []}
    reported: list[str] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(2 * args.repeat + 2):
        with_report = i % 2 == 0
        tracker.record_notebook = with_report
        info = api.start_run(experiment="bench-report").info
        for step in range(200):
            api.log_metric("loss", 1.0 / (step + 1), step=step)
        start = time.perf_counter()
        shell.run_line_magic("mlops", "end")
        elapsed = time.perf_counter() - start
        if i >= 2:  # the first of each arm warms imports up
            times[with_report].append(elapsed)
        if with_report:
            reported.append(info.run_id)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    ours = statistics.median(times[True]) * 1000
    baseline = statistics.median(times[False]) * 1000
    # wait for the detached workers so nothing is left running, and check their work
    client = api.get_tracker().artifacts  # noqa: F841 - keep the tracker alive
    from mlflow import MlflowClient

    store = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    deadline = time.monotonic() + 60 * args.repeat
    missing = list(reported)
    while missing and time.monotonic() < deadline:
        missing = [
            r
            for r in missing
            if "notebook/analysis.html" not in {a.path for a in store.list_artifacts(r, "notebook")}
        ]
        time.sleep(1)
    result = {
        "ours": f"{ours:.1f} ms",
        "baseline": f"{baseline:.1f} ms",
        "ratio": ours / baseline if baseline else None,
        "target": f"+{TARGET_MS:.0f} ms at most",
        "ok": ours - baseline <= TARGET_MS and not missing,
        "added_ms": round(ours - baseline, 1),
        "reports_rendered": f"{len(reported) - len(missing)}/{len(reported)}",
        "cpu_s_in_kernel": round(
            (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), 2
        ),
        "load_avg": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
