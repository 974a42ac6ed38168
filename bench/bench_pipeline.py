"""Benchmarks: a notebook sweep against a ``papermill`` CLI loop, and the per-execution overhead.

Two verdicts (two rows in ``bench/run_all.py``), on the same small notebook
(a ``parameters`` cell ``x = 1``, then about 0.2 s of numpy and Python work):

**pipeline_sweep**: 8 executions (``x = 1..8``).

* ours: ``jupyter mlops run NB --grid x=1,...,8 --workers 2``, exactly as a
  user types it, as one subprocess (its interpreter start-up, planning,
  tracking into MLflow and the two workers all inside the timing);
* baseline: a sequential loop of ``papermill NB out_i.ipynb -p x i`` CLI
  subprocesses, from the same virtual environment.

Verdict: ``ratio = ours / baseline`` (wall time) at most 0.65. Both sides use
a temporary bytecode cache (as an installed package has one), and ours a
SQLite store migrated before the timing (a user's store exists after its first
use): the migration is printed on its own line as a one-time cost.

**pipeline_overhead**: our tracked execution against bare papermill, in this
process: ``--executions`` pairs (default 8), interleaved (the order alternates
within each pair), after one warm-up of each side:

* baseline: ``papermill.execute_notebook(nb, out, parameters={"x": i}, progress_bar=False)``;
* ours: ``jupyter_mlops.core.pipeline.execute.execute(Execution(..., run_id=R, tracking_uri=U))``
  where ``R`` is a child run created beforehand with ``MlflowClient``
  (as the runner does) in a temporary SQLite store.

Verdict: the median of ours over the median of the baseline, minus one (the
overhead), under 10%. The one-time costs (store migration, the first
execution of each side, one ``create_run``) are printed on their own lines
and kept out of the verdict. ``--profile`` adds a cProfile of one ``execute``.

Both parts also print CPU seconds (user + sys, the kernels and workers
included), which a busy machine hardly changes, and the load average: on 2
cores the sweep's wall-time ratio depends on having both cores free, so a
ratio measured while other work runs is no verdict.

    python bench/bench_pipeline.py [--part sweep overhead] [--repeat 1] [--executions 8] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SWEEP_TARGET = 0.65
OVERHEAD_TARGET = 0.10
SWEEP_SIZE = 8
WORKERS = 2

WORK = """\
import numpy as np

rng = np.random.default_rng(x)
a = rng.standard_normal((200, 200))
total = 0.0
for _ in range(40):
    total += float(np.linalg.norm(a @ a.T))
checksum = sum(i * i % 7 for i in range(4_000_000 + x))
print(x, round(total, 3), checksum)
"""


def write_notebook(path: Path) -> Path:
    """The benchmark notebook: ``x = 1`` in a ``parameters`` cell, then :data:`WORK`."""

    def cell(source: str, tags: list[str] | None = None) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{len(source)}",
            "metadata": {"tags": tags} if tags else {},
            "outputs": [],
            "source": source,
        }

    nb = {
        "cells": [cell("x = 1\n", ["parameters"]), cell(WORK)],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def _fresh_store(folder: Path) -> tuple[str, float]:
    """A migrated SQLite store in ``folder`` and the seconds its creation took."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    start = time.perf_counter()
    MlflowClient(uri).search_experiments()
    return uri, time.perf_counter() - start


def _quiet() -> None:
    for name in ("mlflow", "alembic", "papermill", "traitlets", "jupyter_mlops"):
        logging.getLogger(name).setLevel(logging.WARNING)


# ----------------------------------------------------------------------------- sweep


def _script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise RuntimeError(f"{path} not found: run the benchmark with the project's venv python")
    return str(path)


def _subprocess_env(tmp: Path, uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["MLFLOW_TRACKING_URI"] = uri
    env["JUPYTER_MLOPS_SPOOL_DIR"] = str(tmp / "spool")
    env["JUPYTER_MLOPS_COST_LEDGER"] = f"sqlite:///{tmp / 'cost.db'}"
    return env


_CPU: list[float] = [0.0]  # CPU seconds (user + sys) of the last _timed command and its children


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of ``argv``; its CPU seconds (children included) go to ``_CPU[0]``."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    _CPU[0] = _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv[:4])} ... exited {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    return elapsed


def _sweep_ours(nb: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one ``jupyter mlops run`` sweep."""
    values = ",".join(str(i) for i in range(1, SWEEP_SIZE + 1))
    argv = [_script("jupyter"), "mlops", "run", nb.name]
    argv += ["--grid", f"x={values}", "--workers", str(WORKERS)]
    return _timed(argv, nb.parent, env), _CPU[0]


def _sweep_baseline(nb: Path, env: dict[str, str], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the sequential ``papermill`` loop."""
    out.mkdir(parents=True, exist_ok=True)
    papermill = _script("papermill")
    cpu = 0.0
    start = time.perf_counter()
    for i in range(1, SWEEP_SIZE + 1):
        _timed([papermill, nb.name, str(out / f"out_{i}.ipynb"), "-p", "x", str(i)], nb.parent, env)
        cpu += _CPU[0]
    return time.perf_counter() - start, cpu


def _count_finished(uri: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, filter_string="attributes.status = 'FINISHED'", max_results=1000)
    return len(runs)


def bench_sweep(root: Path, repeat: int) -> dict[str, Any]:
    """Ours (``jupyter mlops run --grid --workers 2``) vs a sequential ``papermill`` loop."""
    uri, store_init = _fresh_store(root / "store")
    env = _subprocess_env(root, uri)
    nb = write_notebook(root / "project" / "sweep.ipynb")
    # warm the OS file cache and the bytecode cache of both command lines (not timed)
    _timed([_script("papermill"), nb.name, str(root / "warm.ipynb")], nb.parent, env)
    _timed([_script("jupyter"), "mlops", "run", "--help"], nb.parent, env)
    ours_runs: list[tuple[float, float]] = []
    baseline_runs: list[tuple[float, float]] = []
    for i in range(repeat):  # alternate which side goes first
        if i % 2 == 0:
            baseline_runs.append(_sweep_baseline(nb, env, root / f"baseline-{i}"))
            ours_runs.append(_sweep_ours(nb, env))
        else:
            ours_runs.append(_sweep_ours(nb, env))
            baseline_runs.append(_sweep_baseline(nb, env, root / f"baseline-{i}"))
    ours_all, baseline_all = [w for w, _ in ours_runs], [w for w, _ in baseline_runs]
    ours, baseline = statistics.median(ours_all), statistics.median(baseline_all)
    ours_cpu = statistics.median(c for _, c in ours_runs)
    baseline_cpu = statistics.median(c for _, c in baseline_runs)
    produced = list((nb.parent / "outputs").rglob("*.ipynb"))
    if len(produced) != SWEEP_SIZE * repeat:
        raise RuntimeError(f"ours: {len(produced)} executed notebooks, not {SWEEP_SIZE * repeat}")
    finished = _count_finished(uri)  # each sweep: SWEEP_SIZE child runs and their parent
    if finished != (SWEEP_SIZE + 1) * repeat:
        raise RuntimeError(f"ours: {finished} FINISHED runs, not {(SWEEP_SIZE + 1) * repeat}")
    ratio = ours / baseline
    result = {
        "name": "pipeline_sweep",
        "ours": round(ours, 3),
        "baseline": round(baseline, 3),
        "ratio": round(ratio, 3),
        "target": SWEEP_TARGET,
        "ok": ratio <= SWEEP_TARGET,
        "executions": SWEEP_SIZE,
        "workers": WORKERS,
        "repeat": repeat,
        "finished_runs": finished,
        "ours_cpu_s": round(ours_cpu, 2),
        "baseline_cpu_s": round(baseline_cpu, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "store_init_s": round(store_init, 3),
    }
    print(
        f"sweep of {SWEEP_SIZE} executions, median of {repeat}: "
        f"`jupyter mlops run --grid --workers {WORKERS}` {ours:.2f} s, "
        f"sequential `papermill` CLI loop {baseline:.2f} s: ratio {ratio:.3f} "
        f"(target <= {SWEEP_TARGET}) {'OK' if result['ok'] else 'FAIL'}\n"
        f"  each (s): ours {' '.join(f'{t:.2f}' for t in ours_all)} | "
        f"baseline {' '.join(f'{t:.2f}' for t in baseline_all)}\n"
        f"  CPU seconds (user + sys, children included; load-independent): ours {ours_cpu:.1f}, "
        f"baseline {baseline_cpu:.1f}; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} (a ratio measured on a busy machine is not the verdict)\n"
        f"  one-time, not in the timing: creating + migrating the SQLite store {store_init:.2f} s"
    )
    return result


# ----------------------------------------------------------------------------- overhead


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
        self.uri, self.store_init = _fresh_store(root / "store")
        self.client = MlflowClient(self.uri)
        self.experiment = self.client.create_experiment("bench-overhead")
        self.parent = self.client.create_run(self.experiment).info.run_id
        self.count = 0
        self.create_run_s: list[float] = []
        self.cpu: dict[str, list[float]] = {"bare": [], "ours": []}

    @staticmethod
    def _cpu() -> float:
        return time.process_time() + _children_cpu()

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


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmarks: one ``{name, ours, baseline, ratio, target, ok, ...}`` per part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--part",
        nargs="+",
        choices=("sweep", "overhead"),
        default=["sweep", "overhead"],
        help="which benchmarks to run (default: both)",
    )
    parser.add_argument(
        "--executions", type=int, default=8, help="overhead: executions per side (default 8)"
    )
    parser.add_argument("--profile", action="store_true", help="overhead: cProfile one execute()")
    parser.add_argument(
        "--repeat", type=int, default=1, help="sweep: sweeps per side, alternating (default 1)"
    )
    args = parser.parse_args([] if argv is None else argv)
    _quiet()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        if "sweep" in args.part:
            results.append(bench_sweep(root / "sweep", args.repeat))
        if "overhead" in args.part:
            results.append(bench_overhead(root / "overhead", args.executions, args.profile))
    for result in results:
        print(json.dumps(result))
    return results


if __name__ == "__main__":
    sys.exit(0 if all(r["ok"] for r in main(sys.argv[1:])) else 1)
