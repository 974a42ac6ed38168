"""Benchmark: re-running an unchanged 2-step pipeline (all cache hits) against ``dvc repro``.

One export (``prep`` writes ``data/rows.txt``; ``train`` reads it and writes
``model.txt``) is copied twice inside one git + DVC repository: ``ours/`` and
``dvc/`` (the two tools write the same output files, so each gets its own copy
of the same folder). Each is run once to fill its cache (ours: ``run_plan``
into a SQLite store; DVC: ``dvc repro``, which writes ``dvc.lock``), then,
``--repeat`` times, alternating which goes first:

* ours: ``run_plan(plan_run("ours"))`` in this process, as the server and a
  schedule call it (planning, the store, the cache lookup, two hit runs
  recorded); every execution must be a cache hit (reason ``cached``);
* baseline: ``dvc repro`` in ``dvc/`` with nothing to do (it must say so);
* also timed, not in the verdict: ``jupyter mlops run ours`` as one subprocess,
  as a user types it: most of it is importing MLflow and opening its store
  (about 1.5 to 2 s on an idle machine), which no cache hit can skip since the
  hits are recorded as MLflow runs.

No notebook may run (the output notebooks keep their modification times).
Verdict: the median wall time of ours under :data:`TARGET_S` (2 s); the ratio
ours / baseline and CPU seconds (user + sys) of each are printed.

    python bench/bench_pipeline_cache.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_pipeline import _script, _subprocess_env
from pipeline_notebook import children_cpu, fresh_store, quiet
from verdict import verdict

TARGET_S = 2.0
PREP = "rows: int = 3\n"
PREP_BODY = (
    "import os\nos.makedirs('data', exist_ok=True)\nopen('data/rows.txt', 'w').write(str(rows))\n"
)
TRAIN = "learning_rate: float = 0.1\n"
TRAIN_BODY = (
    "n = int(open('data/rows.txt').read())\nopen('model.txt', 'w').write(str(n * learning_rate))\n"
)


def _write_notebook(path: Path, params: str, body: str, declared: dict[str, list[str]]) -> None:
    import nbformat

    cells = [
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    metadata = {"kernelspec": kernel, "jupyter_mlops": declared}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=metadata), path)


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (children) and output of ``argv``; raises when it fails."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, children_cpu() - cpu, done.stdout + done.stderr


def _project(root: Path, env: dict[str, str]) -> None:
    """``root``: a git + DVC repository with the export copied to ``ours/`` and ``dvc/``."""
    from jupyter_mlops.core.environment import take_snapshot
    from jupyter_mlops.core.pipeline import export_pipeline

    _write_notebook(root / "src" / "prep.ipynb", PREP, PREP_BODY, {"outputs": ["data/rows.txt"]})
    declared = {"inputs": ["data/rows.txt"], "outputs": ["model.txt"]}
    _write_notebook(root / "src" / "train.ipynb", TRAIN, TRAIN_BODY, declared)
    snapshot = take_snapshot(requested_only=True)
    export_pipeline(["src/prep.ipynb", "src/train.ipynb"], "ours", root=root, snapshot=snapshot)
    shutil.copytree(root / "ours", root / "dvc")
    _run(["git", "init", "-q"], root, env)
    _run([_script("dvc"), "init", "-q"], root, env)


def _env(tmp: Path, uri: str) -> dict[str, str]:
    """bench_pipeline's subprocess environment, with the venv on PATH (DVC's stage commands
    run ``python``) and a git identity."""
    env = _subprocess_env(tmp, uri)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "bench"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "bench@example.invalid"
    return env


def _cli(root: Path, env: dict[str, str]) -> tuple[float, float]:
    argv = [_script("jupyter"), "mlops", "run", "ours", "--format", "json"]
    wall, cpu, out = _run(argv, root, env)
    result = json.loads(out[: out.rindex("}") + 1])
    reasons = [r["reason"] for r in result["results"]]
    if reasons != ["cached", "cached"]:
        raise RuntimeError(f"ours: not all cache hits: {reasons}")
    return wall, cpu


def _baseline(root: Path, env: dict[str, str]) -> tuple[float, float]:
    wall, cpu, out = _run([_script("dvc"), "repro"], root / "dvc", env)
    if "up to date" not in out:
        raise RuntimeError(f"dvc repro had work to do:\n{out[-2000:]}")
    return wall, cpu


def _ours(root: Path, uri: str) -> tuple[float, float]:
    """Wall and CPU seconds (this process; no worker starts) of one all-hit ``run_plan``."""
    from jupyter_mlops.core.pipeline import plan_run, run_plan

    cpu = time.process_time() + children_cpu()
    start = time.perf_counter()
    result = run_plan(plan_run(root / "ours", root=root), tracking_uri=uri)
    wall = time.perf_counter() - start
    if [r.reason for r in result.results] != ["cached", "cached"]:
        raise RuntimeError("run_plan: not all cache hits")
    return wall, time.process_time() + children_cpu() - cpu


def bench(root: Path, repeat: int) -> dict[str, Any]:
    uri, store_init = fresh_store(root / "store")
    env = _env(root, uri)
    project = root / "project"
    _project(project, env)
    log = project / "ours" / "outputs"
    fill = _run([_script("jupyter"), "mlops", "run", "ours"], project, env)[0]
    _run([_script("dvc"), "repro"], project / "dvc", env)
    executed = sorted(p.stat().st_mtime_ns for p in log.glob("*.ipynb"))
    _ours(project, uri)  # imports MLflow and opens the store in this process (not timed)
    ours_runs: list[tuple[float, float]] = []
    base_runs: list[tuple[float, float]] = []
    cli_runs: list[tuple[float, float]] = []
    for i in range(repeat):
        pair = [
            lambda: ours_runs.append(_ours(project, uri)),
            lambda: base_runs.append(_baseline(project, env)),
        ]
        for side in pair if i % 2 else reversed(pair):
            side()
        cli_runs.append(_cli(project, env))
    if sorted(p.stat().st_mtime_ns for p in log.glob("*.ipynb")) != executed:
        raise RuntimeError("ours: an output notebook was written again (a notebook ran)")
    ours = statistics.median(w for w, _ in ours_runs)
    baseline = statistics.median(w for w, _ in base_runs)
    ours_cpu = statistics.median(c for _, c in ours_runs)
    base_cpu = statistics.median(c for _, c in base_runs)
    cli, cli_cpu = (statistics.median(r[k] for r in cli_runs) for k in (0, 1))
    ratio = ours / baseline
    result = verdict(
        "pipeline_cache",
        ours,
        baseline,
        ratio=ratio,
        target=f"ours < {TARGET_S} s",
        ok=ours < TARGET_S,
        digits=3,
        repeat=repeat,
        ours_cpu_s=round(ours_cpu, 2),
        baseline_cpu_s=round(base_cpu, 2),
        cli_s=round(cli, 3),
        cli_cpu_s=round(cli_cpu, 2),
        first_run_s=round(fill, 2),
        load_avg_1m=round(os.getloadavg()[0], 2),
        store_init_s=round(store_init, 3),
    )
    print(
        f"unchanged 2-step pipeline, median of {repeat}: run_plan (all cache hits) "
        f"{ours:.3f} s, `dvc repro` (nothing to do) {baseline:.2f} s: ratio {ratio:.2f}; "
        f"target ours < {TARGET_S} s {'OK' if result['ok'] else 'FAIL'}\n"
        f"  CPU seconds (user + sys): ours {ours_cpu:.2f}, dvc {base_cpu:.2f}; "
        f"`jupyter mlops run` as a subprocess {cli:.2f} s ({cli_cpu:.2f} CPU s, mostly importing "
        f"MLflow); first run (executes) {fill:.2f} s; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="runs per side (default 5)")
    args = parser.parse_args([] if argv is None else argv)
    quiet()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-cache-") as tmp:
        result = bench(Path(tmp), args.repeat)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
