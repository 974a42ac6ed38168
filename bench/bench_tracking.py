"""Benchmark: metric points into MLflow's SQLite store, ours against a plain ``mlflow.log_metric`` loop.

Both sides log the same ``--points`` points (default 10,000) to a fresh
SQLite store of their own, in this same process:

* baseline: what a user writes without us -- ``mlflow.set_tracking_uri(...)``,
  ``mlflow.start_run()``, ``for ...: mlflow.log_metric(...)``; timed from the
  first call until the loop ends (each call is synchronous, so it is stored).
* ours: ``jupyter_mlops.start_run()``, ``for ...: jupyter_mlops.log_metric(...)``
  then ``jupyter_mlops.flush()``; timed from the first call until ``flush``
  returns, i.e. until every point is committed to the SQLite store.

Store creation, migrations, ``import mlflow`` and ``start_run`` are outside
both timings. Each side's store is checked afterwards: every point must be
in ``get_metric_history``. For reference the script also times the fastest
plain MLflow way, ``MlflowClient.log_batch`` in chunks of 1000 (not part of
the verdict), and the cost of one ``log_metric`` call on each side.

Verdict: ``ratio = ours / baseline`` (time) must be at most 1/50 (50x faster),
and the median of one of our ``log_metric`` calls under 20 us.

    python bench/bench_tracking.py [--points 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SPEEDUP_TARGET = 50.0
CALL_MEDIAN_TARGET_US = 20.0
ENV_NAMES = ("MLFLOW_TRACKING_URI", "JUPYTER_MLOPS_SPOOL_DIR", "JUPYTER_MLOPS_PROJECT")


def _fresh_store(folder: Path) -> str:
    """A migrated, empty SQLite store (created outside any timing)."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()
    return uri


def _count(uri: str, run_id: str, key: str) -> int:
    from mlflow import MlflowClient

    return len(MlflowClient(uri).get_metric_history(run_id, key))


@contextlib.contextmanager
def _our_env(uri: str, spool: Path) -> Iterator[Any]:
    """The public API pointed at ``uri``; the environment is restored afterwards."""
    from jupyter_mlops.kernel import api

    saved = {name: os.environ.get(name) for name in ENV_NAMES}
    os.environ.update(
        MLFLOW_TRACKING_URI=uri, JUPYTER_MLOPS_SPOOL_DIR=str(spool), JUPYTER_MLOPS_PROJECT="bench"
    )
    api._reset_for_tests()
    try:
        yield api
    finally:
        api._reset_for_tests()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def bench_ours(points: int, root: Path) -> dict[str, Any]:
    """Public API loop + flush; also the per-call cost over a second run."""
    import jupyter_mlops as mlops

    uri = _fresh_store(root / "ours")
    with _our_env(uri, root / "ours-spool"):
        run = mlops.start_run(experiment="bench")
        log_metric = mlops.log_metric
        start = time.perf_counter()
        for step in range(points):
            log_metric("loss", 1.0 / (step + 1), step=step)
        mlops.flush(timeout=None)
        elapsed = time.perf_counter() - start
        mlops.end_run()
        stored = _count(uri, run.run_id, "loss")

        mlops.start_run(experiment="bench-calls")
        calls = []
        clock = time.perf_counter_ns
        for step in range(points):
            t0 = clock()
            log_metric("loss", 0.5, step=step)
            calls.append(clock() - t0)
        mlops.end_run()
    calls.sort()
    return {
        "seconds": elapsed,
        "stored": stored,
        "call_median_us": calls[len(calls) // 2] / 1000,
        "call_p99_us": calls[int(len(calls) * 0.99)] / 1000,
    }


def bench_baseline(points: int, root: Path) -> dict[str, Any]:
    """``mlflow.log_metric`` loop, each call timed (it is milliseconds, the clock is not)."""
    import mlflow

    uri = _fresh_store(root / "baseline")
    mlflow.set_tracking_uri(uri)
    run = mlflow.start_run()
    calls = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for step in range(points):
        t0 = clock()
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        calls.append(clock() - t0)
    elapsed = time.perf_counter() - start
    mlflow.end_run()
    return {
        "seconds": elapsed,
        "stored": _count(uri, run.info.run_id, "loss"),
        "call_median_us": statistics.median(calls) / 1000,
    }


def bench_log_batch(points: int, root: Path) -> float:
    """Reference: ``MlflowClient.log_batch`` in chunks of 1000 (seconds)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    uri = _fresh_store(root / "log-batch")
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("bench")).info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, points, 1000):
        chunk = [
            Metric("loss", 1.0 / (s + 1), now, s) for s in range(first, min(first + 1000, points))
        ]
        client.log_batch(run_id, metrics=chunk)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return ``{name, ours, baseline, ratio, target, ok, ...}`` (seconds)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--points", type=int, default=10_000, help="metric points per side")
    args = parser.parse_args(argv)
    import mlflow  # noqa: F401  (imported before any timing)

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # store creation chatter
    logging.getLogger("alembic").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-tracking-") as tmp:
        root = Path(tmp)
        ours = bench_ours(args.points, root)
        baseline = bench_baseline(args.points, root)
        log_batch = bench_log_batch(args.points, root)
    for side, data in (("ours", ours), ("baseline", baseline)):
        if data["stored"] != args.points:
            raise RuntimeError(f"{side}: {data['stored']} of {args.points} points stored")

    n = args.points
    ratio = ours["seconds"] / baseline["seconds"]
    speedup = baseline["seconds"] / ours["seconds"]
    call_ok = ours["call_median_us"] < CALL_MEDIAN_TARGET_US
    result = {
        "name": "tracking",
        "ours": round(ours["seconds"], 4),
        "baseline": round(baseline["seconds"], 4),
        "ratio": round(ratio, 5),
        "target": round(1 / SPEEDUP_TARGET, 5),
        "ok": speedup >= SPEEDUP_TARGET and call_ok,
        "points": n,
        "speedup": round(speedup, 1),
        "ours_points_per_s": round(n / ours["seconds"]),
        "baseline_points_per_s": round(n / baseline["seconds"]),
        "log_batch_points_per_s": round(n / log_batch),
        "call_median_us": round(ours["call_median_us"], 2),
        "call_p99_us": round(ours["call_p99_us"], 2),
        "baseline_call_median_us": round(baseline["call_median_us"], 1),
    }
    print(
        f"{n} points until stored in SQLite: ours {ours['seconds']:.3f} s "
        f"({result['ours_points_per_s']:,} points/s), mlflow.log_metric loop "
        f"{baseline['seconds']:.2f} s ({result['baseline_points_per_s']:,} points/s): "
        f"{speedup:.0f}x faster (target >= {SPEEDUP_TARGET:.0f}x)\n"
        f"  reference, MlflowClient.log_batch by 1000: {log_batch:.3f} s "
        f"({result['log_batch_points_per_s']:,} points/s, {baseline['seconds'] / log_batch:.0f}x)\n"
        f"  one log_metric call: ours median {ours['call_median_us']:.2f} us, "
        f"p99 {ours['call_p99_us']:.2f} us (target median < {CALL_MEDIAN_TARGET_US:.0f} us); "
        f"mlflow.log_metric median {baseline['call_median_us']:.0f} us\n"
        f"  {'OK' if result['ok'] else 'FAIL'}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
