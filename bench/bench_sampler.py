"""Benchmark: the cost sampler's CPU overhead at 1 Hz with 20 real idle kernel-like processes.

Twenty real child processes (``python -c "import time; time.sleep(...)"``, the
shape of an idle kernel: one process, its interpreter resident) are tracked
for ``--seconds`` (default 20) at ``--interval`` (default 1 s):

* ours: the real :class:`~jupyter_mlops.core.cost.sampler.Sampler` thread with
  its real sources (psutil process trees, NVML: absent here, quietly), and the
  :class:`~jupyter_mlops.core.cost.accounting.CostAccountant` subscribed to it,
  pricing every tick and booking a real SQLite ledger every 10 s, as the server
  runs it;
* baseline, in the same run on a thread of its own: the naive way a
  resource-usage extension measures the same 20 trees every tick
  (``children(recursive=True)``, then ``cpu_percent()`` and ``memory_info()``
  on every process, nothing kept between ticks but the ``Process`` objects).

Each figure is that thread's own CPU time (user + system: its CPU-time clock,
``pthread_getcpuclockid``, to the nanosecond; else ``/proc`` through psutil, in
10 ms clock ticks) divided by the wall time, in percent of one core.

Verdict: ``ours`` under ``target`` = 0.5% of one core (issue 12). ``ratio`` is
ours / baseline (lower is better), for reference.

    python bench/bench_sampler.py [--seconds 20] [--targets 20] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Target
from jupyter_mlops.core.cost.sampler import Sampler

TARGET = 0.5  # percent of one core


def _thread_cpu(thread: threading.Thread) -> float:
    """User + system CPU seconds of one thread of this process."""
    if hasattr(time, "pthread_getcpuclockid") and thread.ident is not None:
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    for t in psutil.Process().threads():
        if t.id == thread.native_id:
            return float(t.user_time + t.system_time)
    raise RuntimeError(f"thread {thread.native_id} not found")


class _Naive:
    """The baseline: walk each tree and call cpu_percent/memory_info on every process, every tick."""

    def __init__(self, pids: list[int], interval: float) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="naive-sampler", daemon=True)
        self.ticks = 0

    def _run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            for root in self.roots:
                try:
                    procs = [root, *root.children(recursive=True)]
                    for p in procs:
                        p.cpu_percent()
                        p.memory_info()
                except psutil.Error:
                    pass
            self.ticks += 1
            due += self.interval
            self.stop.wait(max(0.0, due - time.monotonic()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return ``{name, ours, baseline, ratio, target, ok}`` (% of one core).

    ``argv`` are this benchmark's options (``None``: defaults, not ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to sample")
    parser.add_argument("--targets", type=int, default=20, help="idle child processes")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between ticks")
    args = parser.parse_args([] if argv is None else argv)

    sleep = f"import time; time.sleep({args.seconds + 60})"
    children = [subprocess.Popen([sys.executable, "-c", sleep]) for _ in range(args.targets)]
    try:
        time.sleep(1.0)  # let the children finish starting
        with tempfile.TemporaryDirectory(prefix="bench-sampler-") as tmp:
            ledger = Ledger(f"sqlite:///{Path(tmp) / 'cost.db'}")
            sampler = Sampler(interval=args.interval)
            accountant = CostAccountant(PricingModel.per_resource(), ledger)
            sampler.subscribe(accountant.on_snapshot)
            for n, child in enumerate(children):
                sampler.add_target(
                    f"k{n}",
                    Target(child.pid, kernel_id=f"k{n}", notebook=f"nb{n}.ipynb", project="bench"),
                )
            naive = _Naive([c.pid for c in children], args.interval)

            sampler.start()
            naive.thread.start()
            assert sampler._thread is not None
            ours_thread, naive_thread = sampler._thread, naive.thread
            start = time.monotonic()
            ours_cpu0, naive_cpu0 = _thread_cpu(ours_thread), _thread_cpu(naive_thread)
            time.sleep(args.seconds)
            ours_cpu, naive_cpu = (
                _thread_cpu(ours_thread) - ours_cpu0,
                _thread_cpu(naive_thread) - naive_cpu0,
            )
            wall = time.monotonic() - start
            stats = sampler.stats()
            naive.stop.set()
            sampler.stop()
            naive.thread.join(5)
            accountant.close()
            booked = ledger.totals(project="bench")
            ledger.close()
    finally:
        for child in children:
            child.kill()
            child.wait()

    ours = 100.0 * ours_cpu / wall
    baseline = 100.0 * naive_cpu / wall
    ratio = ours / baseline if baseline > 0 else float("inf")
    result: dict[str, Any] = {
        "name": "sampler",
        "ours": round(ours, 4),
        "baseline": round(baseline, 4),
        "ratio": round(ratio, 3),
        "target": TARGET,
        "ok": ours < TARGET,
        "ticks": stats.ticks,
        "tick_ms": round(1000.0 * stats.cpu_seconds / max(1, stats.ticks), 3),
        "targets": args.targets,
    }
    print(
        f"sampler: {ours_cpu:.3f} s CPU over {wall:.1f} s wall = {ours:.3f}% of one core"
        f" ({stats.ticks} ticks, {result['tick_ms']} ms CPU per tick, {args.targets} targets,"
        f" ledger: {booked.wall_seconds:.0f} target-seconds booked)"
    )
    print(
        f"naive per-tick tree walk: {naive_cpu:.3f} s CPU = {baseline:.3f}% of one core"
        f" ({naive.ticks} ticks)"
    )
    print(
        f"ours/baseline {ratio:.2f}; target: ours < {TARGET}% -> {'OK' if result['ok'] else 'FAIL'}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
