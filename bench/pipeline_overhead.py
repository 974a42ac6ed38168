"""The ``pipeline_overhead`` part of ``bench_pipeline.py`` (described there)."""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline_notebook import children_cpu, fresh_store, write_notebook

OVERHEAD_TARGET = 0.10


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Overhead:
    """Both sides of the overhead benchmark, sharing one notebook and one store."""

    def __init__(self, root: Path) -> None:
        from mlflow import MlflowClient

        self.root = root
        self.nb = write_notebook(root / "project" / "overhead.ipynb")
        self.uri, self.store_init = fresh_store(root / "store")
        self.client = MlflowClient(self.uri)
        self.experiment = self.client.create_experiment("bench-overhead")
        self.parent = self.client.create_run(self.experiment).info.run_id
        self.count = 0
        self.create_run_s: list[float] = []
        self.cpu: dict[str, list[float]] = {"bare": [], "ours": []}

    @staticmethod
    def _cpu() -> float:
        return time.process_time() + children_cpu()

    def bare(self, x: int) -> float:
        import papermill

        self.count += 1
        out = self.root / "bare" / f"out_{self.count}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        cpu, start = self._cpu(), time.perf_counter()
        papermill.execute_notebook(
            str(self.nb), str(out), parameters={"x": x}, progress_bar=False, cwd=str(self.nb.parent)
        )
        elapsed = time.perf_counter() - start
        self.cpu["bare"].append(self._cpu() - cpu)
        return elapsed

    def execution(self, x: int) -> Any:
        """An :class:`Execution` with a fresh child run (its creation is timed apart)."""
        from jupyter_mlops.core.pipeline.model import Execution

        self.count += 1
        start = time.perf_counter()
        run = self.client.create_run(
            self.experiment, tags={"mlflow.parentRunId": self.parent}, run_name=f"x={x}"
        )
        self.create_run_s.append(time.perf_counter() - start)
        return Execution(
            index=self.count,
            trial=self.count,
            step="overhead",
            notebook=str(self.nb),
            output=str(self.root / "ours" / f"out_{self.count}.ipynb"),
            cwd=str(self.nb.parent),
            parameters={"x": x},
            run_id=run.info.run_id,
            tracking_uri=self.uri,
        )

    def ours(self, x: int) -> float:
        from jupyter_mlops.core.pipeline.execute import execute

        execution = self.execution(x)
        cpu, start = self._cpu(), time.perf_counter()
        result = execute(execution)
        elapsed = time.perf_counter() - start
        self.cpu["ours"].append(self._cpu() - cpu)
        if result.status != "FINISHED":
            raise RuntimeError(f"ours: execution {x} {result.status}: {result.error}")
        self.client.set_terminated(execution.run_id, "FINISHED")
        return elapsed

    def profile(self) -> str:
        """cProfile of one ``execute``: the top functions by cumulative time."""
        from jupyter_mlops.core.pipeline.execute import execute

        execution = self.execution(0)
        profiler = cProfile.Profile()
        profiler.enable()
        execute(execution)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(40)
        return text.getvalue()


def bench_overhead(root: Path, executions: int, profile: bool) -> dict[str, Any]:
    """Median wall of our ``execute`` vs bare ``papermill.execute_notebook``, interleaved."""
    import mlflow  # noqa: F401  (imports before any timing)
    import papermill  # noqa: F401

    import jupyter_mlops.core.pipeline.execute  # noqa: F401

    with _environ(
        JUPYTER_MLOPS_SPOOL_DIR=str(root / "spool"),
        JUPYTER_MLOPS_COST_LEDGER=f"sqlite:///{root / 'cost.db'}",
    ):
        side = _Overhead(root)
        first_bare = side.bare(0)
        first_ours = side.ours(0)
        bare: list[float] = []
        ours: list[float] = []
        for i in range(1, executions + 1):
            if i % 2:
                bare.append(side.bare(i))
                ours.append(side.ours(i))
            else:
                ours.append(side.ours(i))
                bare.append(side.bare(i))
        profiled = side.profile() if profile else None
    ours_med, bare_med = statistics.median(ours), statistics.median(bare)
    overhead = ours_med / bare_med - 1
    create_run = statistics.median(side.create_run_s)
    # the warm-up's CPU is left out, like its wall time
    ours_cpu = statistics.median(side.cpu["ours"][1 : executions + 1])
    bare_cpu = statistics.median(side.cpu["bare"][1:])
    result = {
        "name": "pipeline_overhead",
        "ours": round(ours_med, 4),
        "baseline": round(bare_med, 4),
        "ratio": round(ours_med / bare_med, 4),
        "target": round(1 + OVERHEAD_TARGET, 2),
        "ok": overhead < OVERHEAD_TARGET,
        "executions": executions,
        "overhead_pct": round(overhead * 100, 1),
        "ours_min": round(min(ours), 4),
        "baseline_min": round(min(bare), 4),
        "first_ours_s": round(first_ours, 3),
        "first_baseline_s": round(first_bare, 3),
        "store_init_s": round(side.store_init, 3),
        "create_run_ms": round(create_run * 1000, 1),
        "ours_cpu_s": round(ours_cpu, 3),
        "baseline_cpu_s": round(bare_cpu, 3),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(
        f"one execution, median of {executions} (interleaved): ours execute() {ours_med:.3f} s, "
        f"bare papermill.execute_notebook {bare_med:.3f} s: overhead {overhead * 100:+.1f}% "
        f"(target < {OVERHEAD_TARGET * 100:.0f}%) {'OK' if result['ok'] else 'FAIL'}\n"
        f"  min: ours {min(ours):.3f} s, bare {min(bare):.3f} s; all (s): ours "
        f"{' '.join(f'{t:.2f}' for t in ours)} | bare {' '.join(f'{t:.2f}' for t in bare)}\n"
        f"  CPU seconds per execution (this process + kernel, median; load-independent): ours "
        f"{ours_cpu:.3f}, bare {bare_cpu:.3f} ({(ours_cpu / bare_cpu - 1) * 100:+.1f}%); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
        f"  one-time, not in the verdict: SQLite store creation + migration "
        f"{side.store_init:.2f} s; first execute() {first_ours:.2f} s; "
        f"first papermill {first_bare:.2f} s\n"
        f"  per execution, outside execute() (the runner's part): MlflowClient.create_run "
        f"{create_run * 1000:.0f} ms (median)"
    )
    if profiled:
        print(profiled)
    return result
