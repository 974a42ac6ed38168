"""Benchmark: p99 latency of ``GET /jupyter-mlops/api/cost`` against jupyter-resource-usage's metrics.

One real ``jupyter server`` (a subprocess on localhost, a random free port, a
token, a temporary root, MLflow tracking and the cost ledger in temporary
SQLite files) runs both server extensions, ``jupyter_mlops`` and
``jupyter_resource_usage``. ``--kernels`` (default 5) real kernels are started
through ``POST /api/kernels``; once ``/jupyter-mlops/api/cost`` lists them all,
the same keep-alive ``http.client`` connection alternates requests:

* ours: ``GET /jupyter-mlops/api/cost``, every kernel's last sample (CPU, RSS,
  GPU devices and memory) with its live cost, read from the sampler's snapshot;
* baseline: ``GET /api/metrics/v1`` of jupyter-resource-usage 1.3.0, the
  server's whole process tree summed into one RSS (and PSS) measured on each
  request, no per-kernel, GPU or cost data. Its defaults are kept (no CPU
  percent: ``track_cpu_percent`` is off); ``--baseline-cpu`` turns that on,
  which adds a thread-pool hop and a ``cpu_percent()`` per process.

After ``--warmup`` (default 20) requests each, ``--requests`` (default 300)
each are timed (the order within a pair flips every round). The figures are the
p99 latencies in milliseconds; p50s are reported too.

Verdict: ``ratio`` = ours p99 / baseline p99 at most ``target`` = 1.0.

    python bench/bench_cost_endpoint.py [--kernels 5] [--requests 300] [--warmup 20]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 1.0  # ours p99 / baseline p99
OURS_PATH = "/jupyter-mlops/api/cost"
BASELINE_PATH = "/api/metrics/v1"  # jupyter_resource_usage/server_extension.py


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (``pct`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class _Client:
    """One keep-alive HTTP/1.1 connection to the server, token in the header."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"token {token}", "Connection": "keep-alive"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            self.conn.close()  # the server dropped the connection: one retry on a new one
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=payload, headers=headers)
            resp = self.conn.getresponse()
        return resp.status, resp.read()

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.request(method, path, body)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data) if data else None

    def timed_get(self, path: str) -> tuple[float, bytes]:
        start = time.perf_counter()
        status, data = self.request("GET", path)
        elapsed = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {data[:300]!r}")
        return elapsed, data

    def close(self) -> None:
        self.conn.close()


def _start_server(
    tmp: Path, port: int, token: str, *, baseline_cpu: bool = False
) -> subprocess.Popen[bytes]:
    root = tmp / "root"
    root.mkdir()
    env = dict(os.environ)
    env.update(
        {
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
            "JUPYTER_MLOPS_COST_LEDGER": f"sqlite:///{tmp / 'cost.db'}",
            "JUPYTER_MLOPS_SPOOL_DIR": str(tmp / "spool"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTER_MLOPS_COST_BUDGETS": "[]",
        }
    )
    extensions = {"jupyter_mlops": True, "jupyter_resource_usage": True}
    cmd = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.jpserver_extensions={extensions!r}",
        "--ServerApp.log_level=WARN",
    ]
    if baseline_cpu:
        cmd.append("--ResourceUseDisplay.track_cpu_percent=True")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers
    log = (tmp / "server.log").open("wb")
    return subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
    )


def _wait(what: str, check: Any, timeout: float, server: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}) while waiting for {what}")
        try:
            out = check()
        except (OSError, RuntimeError, http.client.HTTPException, ValueError):
            out = None
        if out:
            return out
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _stop_server(server: subprocess.Popen[bytes], client: _Client | None) -> None:
    """``POST /api/shutdown`` (it shuts the kernels down), then end the process group."""
    if server.poll() is None and client is not None:
        with contextlib.suppress(Exception):
            client.request("POST", "/api/shutdown")
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(15)
    if server.poll() is None:
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # whatever of the group is left (kernels)
    if server.poll() is None:
        server.wait(10)


def _summary(name: str, times: list[float]) -> dict[str, float]:
    ms = [1000.0 * t for t in times]
    return {
        f"{name}_p50_ms": round(statistics.median(ms), 3),
        f"{name}_p99_ms": round(_percentile(ms, 99), 3),
        f"{name}_mean_ms": round(statistics.fmean(ms), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return ``{name, ours, baseline, ratio, target, ok}`` (p99, ms).

    ``argv`` are this benchmark's options (``None``: defaults, not ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kernels", type=int, default=5, help="kernels to start")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per endpoint")
    parser.add_argument(
        "--baseline-cpu",
        action="store_true",
        help="also have jupyter-resource-usage measure CPU (track_cpu_percent; off by default)",
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds for each start-up")
    args = parser.parse_args([] if argv is None else argv)

    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="bench-cost-endpoint-") as tmp_name:
        tmp = Path(tmp_name)
        port = _free_port()
        server = _start_server(tmp, port, token, baseline_cpu=args.baseline_cpu)
        client: _Client | None = None
        try:
            client = _Client(port, token)
            c = client
            _wait("the server", lambda: c.json("GET", "/api/status"), args.timeout, server)
            kernels = [
                c.json("POST", "/api/kernels", {"name": "python3"})["id"]
                for _ in range(args.kernels)
            ]

            def listed() -> dict[str, Any] | None:
                body = c.json("GET", OURS_PATH)
                targets = body.get("targets", {})
                if all(k in targets and "cost" in targets[k] for k in kernels):
                    return dict(body)
                return None

            started = time.monotonic()
            _wait(f"{args.kernels} kernels in {OURS_PATH}", listed, args.timeout, server)
            listed_s = time.monotonic() - started

            ours_t: list[float] = []
            base_t: list[float] = []
            ours_body = base_body = b""
            for i in range(args.warmup + args.requests):
                pair = [(OURS_PATH, ours_t), (BASELINE_PATH, base_t)]
                for path, times in pair if i % 2 == 0 else reversed(pair):
                    elapsed, body = c.timed_get(path)
                    if i >= args.warmup:
                        times.append(elapsed)
                    if path == OURS_PATH:
                        ours_body = body
                    else:
                        base_body = body

            for kid in kernels:
                c.request("DELETE", f"/api/kernels/{kid}")
        except Exception:
            log = (tmp / "server.log").read_text(errors="replace")
            print(f"server log (tail):\n{log[-3000:]}", file=sys.stderr)
            raise
        finally:
            if client is not None:
                _stop_server(server, client)
                client.close()
            else:
                _stop_server(server, None)

    ours_json = json.loads(ours_body)
    base_json = json.loads(base_body)
    o = _summary("ours", ours_t)
    b = _summary("baseline", base_t)
    ours, baseline = o["ours_p99_ms"], b["baseline_p99_ms"]
    ratio = ours / baseline if baseline > 0 else float("inf")
    result: dict[str, Any] = {
        "name": "cost_endpoint",
        "ours": ours,
        "baseline": baseline,
        "ratio": round(ratio, 3),
        "target": TARGET,
        "ok": ratio <= TARGET,
        **o,
        **b,
        "kernels": args.kernels,
        "requests": args.requests,
        "ours_bytes": len(ours_body),
        "baseline_bytes": len(base_body),
        "listed_s": round(listed_s, 2),
    }

    targets = ours_json.get("targets", {})
    first = next(iter(targets.values()), {})
    print(
        f"ours {OURS_PATH}: {len(ours_body)} bytes, {len(targets)} targets,"
        f" gpu_available={ours_json.get('gpu_available')}, gpus={len(ours_json.get('gpus', []))},"
        f" currency={ours_json.get('currency')}"
    )
    print(f"  per-kernel fields: {sorted(first)}")
    print(f"  per-kernel cost fields: {sorted(first.get('cost', {}))}")
    for tid, entry in targets.items():
        cost = entry.get("cost", {})
        shown = {k: v for k, v in cost.items() if isinstance(v, int | float)}
        print(
            f"  {tid[:8]}: pid={entry.get('pid')} cpu%={entry.get('cpu_percent')}"
            f" rss={entry.get('rss_bytes')} gpus={entry.get('gpus')} cost={shown}"
        )
    print(f"baseline {BASELINE_PATH}: {len(base_body)} bytes: {json.dumps(base_json)}")
    print(
        f"ours p50 {o['ours_p50_ms']:.3f} ms p99 {ours:.3f} ms; baseline p50"
        f" {b['baseline_p50_ms']:.3f} ms p99 {baseline:.3f} ms ({args.requests} each,"
        f" {args.kernels} kernels)"
    )
    print(
        f"ours/baseline p99 {ratio:.3f}; target: <= {TARGET} -> {'OK' if result['ok'] else 'FAIL'}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
