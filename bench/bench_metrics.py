"""Benchmark: p99 of ``GET /jupyter-mlops/metrics`` with 20 kernels and a week of ledger.

A cost ledger is filled with a week of per-minute rows of ``--kernels`` (default
20) kernels (``bench_cost_history._fill``: 201,600 rows), then one real
``jupyter server`` (a subprocess on localhost, a token; ``bench_cost_endpoint``'s
helpers) opens it and ``--kernels`` real kernels are started over REST. Once the
scrape shows the counters and every kernel's gauges, the same keep-alive
``http.client`` connection times, in alternating blocks of 20:

* ours: ``GET /jupyter-mlops/metrics``, the Prometheus text: counters kept in
  memory (loaded once from the ledger's rollup, advanced by the flushes), kernel
  gauges from the sampler's snapshot, cached budgets and run counts;
* baseline: what a user would otherwise scrape for the same totals,
  ``GET /jupyter-mlops/api/cost/report?by=project,user,notebook&since=1970-01-01``:
  ``build_report`` (the engine of ``jupyter mlops cost report``) grouping the
  whole week of minutes on every request.

and, for scale, ``GET /jupyter-mlops/api/cost`` (the sampler's last snapshot as
JSON, the cheapest route of the extension): what the server answers at all under
the machine's load. The server's CPU seconds (psutil, the server process only)
are summed per side.
Verdict: ours p99 under ``TARGET_MS`` (20 ms); ``ratio`` = baseline p99 / ours p99.

    python bench/bench_metrics.py [--kernels 20] [--days 7] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_cost_endpoint import _Client, _free_port, _start_server, _stop_server, _summary, _wait
from bench_cost_history import _fill

TARGET_MS = 20.0
OURS_PATH = "/jupyter-mlops/metrics"
BASELINE_PATH = "/jupyter-mlops/api/cost/report?by=project,user,notebook&since=1970-01-01"
REFERENCE_PATH = "/jupyter-mlops/api/cost"
BLOCK = 20
SIDES = (("ours", OURS_PATH), ("baseline", BASELINE_PATH), ("reference", REFERENCE_PATH))


def _server_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _ready(client: _Client, kernels: list[str]) -> bool:
    """The scrape has the counters and a cost gauge of every kernel."""
    status, body = client.request("GET", OURS_PATH)
    if status != 200:
        return False
    text = body.decode()
    return "jupyter_mlops_cost_total{" in text and all(f'kernel_id="{k}"' in text for k in kernels)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; ``{name, ours, baseline, ratio, target, ok}`` (p99 ms, ratio = speed-up)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--kernels", type=int, default=20, help="kernels tracked (and in the ledger)"
    )
    parser.add_argument("--days", type=int, default=7, help="days of per-minute ledger rows")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per side")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds for each start-up")
    args = parser.parse_args([] if argv is None else argv)

    from jupyter_mlops.core.cost.ledger import Ledger

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        with Ledger(f"sqlite:///{tmp / 'cost.db'}", retention_days=None) as ledger:
            rows = _fill(ledger, args.days, args.kernels, int(time.time()) // 60 * 60)
        fill_s = time.monotonic() - started
        port = _free_port()
        server = _start_server(tmp, port, token)  # its ledger: tmp/cost.db
        client: _Client | None = None
        try:
            client = c = _Client(port, token)
            _wait("the server", lambda: c.json("GET", "/api/status"), args.timeout, server)
            kernels = [
                c.json("POST", "/api/kernels", {"name": "python3"})["id"]
                for _ in range(args.kernels)
            ]
            _wait("counters and kernel gauges", lambda: _ready(c, kernels), args.timeout, server)
            times: dict[str, list[float]] = {side: [] for side, _ in SIDES}
            cpu = dict.fromkeys(times, 0.0)
            bodies: dict[str, bytes] = {}
            for _, path in SIDES:  # warm-up
                c.timed_get(path)
            for block in range(len(SIDES) * -(-args.requests // BLOCK)):
                side, path = SIDES[block % len(SIDES)]
                before = _server_cpu(server.pid)
                for _ in range(BLOCK):
                    elapsed, bodies[side] = c.timed_get(path)
                    times[side].append(elapsed)
                cpu[side] += _server_cpu(server.pid) - before
            for kid in kernels:
                c.request("DELETE", f"/api/kernels/{kid}")
        except Exception:
            log = (tmp / "server.log").read_text(errors="replace")
            print(f"server log (tail):\n{log[-3000:]}", file=sys.stderr)
            raise
        finally:
            _stop_server(server, client)
            if client is not None:
                client.close()

    o, b = _summary("ours", times["ours"]), _summary("baseline", times["baseline"])
    r = _summary("reference", times["reference"])
    ours, baseline = o["ours_p99_ms"], b["baseline_p99_ms"]
    ratio = baseline / ours if ours > 0 else float("inf")
    text = bodies["ours"].decode()
    report = json.loads(bodies["baseline"])
    result: dict[str, Any] = {
        "name": "metrics_endpoint",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ratio, 2),
        "target": TARGET_MS,
        "ok": ours < TARGET_MS,
        **o,
        **b,
        **r,
        "ours_server_cpu_s": round(cpu["ours"], 3),
        "baseline_server_cpu_s": round(cpu["baseline"], 3),
        "kernels": args.kernels,
        "ledger_rows": rows,
        "requests": len(times["ours"]),
        "ours_bytes": len(bodies["ours"]),
        "series": sum(1 for line in text.splitlines() if line and not line.startswith("#")),
        "report_rows": len(report["rows"]),
        "fill_s": round(fill_s, 1),
    }
    print(
        f"ledger: {rows} minute rows ({args.days} days x {args.kernels} kernels, filled in"
        f" {fill_s:.0f} s); {args.kernels} live kernels; scrape {len(bodies['ours'])} bytes,"
        f" {result['series']} series; report {len(report['rows'])} rows"
    )
    print(
        f"ours {OURS_PATH}: p50 {o['ours_p50_ms']:.2f} ms p99 {ours:.2f} ms, server CPU"
        f" {cpu['ours']:.2f} s for {len(times['ours'])} scrapes"
    )
    print(
        f"baseline cost/report per scrape: p50 {b['baseline_p50_ms']:.2f} ms p99 {baseline:.2f} ms,"
        f" server CPU {cpu['baseline']:.2f} s for {len(times['baseline'])}"
    )
    print(
        f"reference {REFERENCE_PATH}: p50 {r['reference_p50_ms']:.2f} ms p99"
        f" {r['reference_p99_ms']:.2f} ms, server CPU {cpu['reference']:.2f} s"
    )
    print(
        f"baseline/ours p99 {ratio:.1f}x; target: ours p99 < {TARGET_MS} ms ->"
        f" {'OK' if result['ok'] else 'FAIL'}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
