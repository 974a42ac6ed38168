"""Load driver: many panel clients against a Jupyter server (``python panel_clients.py SPEC.json``).

Runs in its own process, so the clients never share an event loop (or a GIL)
with the server. Raw HTTP/1.1 over asyncio sockets, keep-alive, the token in
an ``Authorization`` header, as the browser sends it. Three kinds of client:

* ``active``: polls what the panel polls (``experiments`` and ``runs`` for the
  Runs view, ``cost`` for the status bar, ``pipelines/runs``) every
  ``interval`` seconds, starting at a random offset; every request's latency
  (request written -> whole body read) is recorded;
* ``partial``: sends half a request header and never finishes it;
* ``unread``: sends requests for the biggest page of runs and never reads;
* ``slow``: asks for the biggest page of runs and reads one byte a second.

Prints one JSON object: latencies (ms) per path, errors, requests made.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

RUNS = "runs?max_results=100&order_by=start_time+DESC"
POLLED = ("experiments", RUNS, "cost", "pipelines/runs")


class Client:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.host, self.port = "127.0.0.1", spec["port"]
        self.token = spec["token"]
        self.base = spec["base"].rstrip("/")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def request(self, path: str) -> bytes:
        return (
            f"GET {self.base}/{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: token {self.token}\r\nAccept: application/json\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode()

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            await self.connect()
        assert self.reader is not None
        assert self.writer is not None
        self.writer.write(self.request(path))
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
        }
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
        return status, body


async def active(spec: dict[str, Any], stop: float, out: dict[str, Any]) -> None:
    client = Client(spec)
    interval = spec["interval"]
    await asyncio.sleep(random.uniform(0, interval))
    while time.monotonic() < stop:
        started = time.monotonic()
        for path in POLLED:
            t0 = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(client.get(path), 30)
            except Exception as exc:
                out["errors"].append(f"{path}: {type(exc).__name__}: {exc}"[:200])
                client.writer = None
                continue
            ms = (time.perf_counter() - t0) * 1000
            out["latencies"].setdefault(path.split("?")[0], []).append(ms)
            if status != 200:
                out["errors"].append(f"{path}: HTTP {status}")
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


async def partial(spec: dict[str, Any], stop: float, out: dict[str, Any]) -> None:
    client = Client(spec)
    await client.connect()
    assert client.writer is not None
    client.writer.write(client.request(RUNS)[:40])  # half a header, never finished
    await client.writer.drain()
    await asyncio.sleep(max(0.0, stop - time.monotonic()))
    out["stalled"] += 1


async def unread(spec: dict[str, Any], stop: float, out: dict[str, Any]) -> None:
    client = Client(spec)
    await client.connect()
    assert client.writer is not None
    for _ in range(50):  # pipelined requests whose answers nobody reads
        client.writer.write(client.request(RUNS))
    await asyncio.sleep(max(0.0, stop - time.monotonic()))
    out["stalled"] += 1


async def slow(spec: dict[str, Any], stop: float, out: dict[str, Any]) -> None:
    client = Client(spec)
    await client.connect()
    assert client.reader is not None
    assert client.writer is not None
    client.writer.write(client.request(RUNS))
    while time.monotonic() < stop:
        if not await client.reader.read(1):
            break
        await asyncio.sleep(1.0)
    out["stalled"] += 1


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": {}, "errors": [], "stalled": 0}
    stop = time.monotonic() + spec["duration"]
    kinds = {"active": active, "partial": partial, "unread": unread, "slow": slow}
    tasks = [
        asyncio.create_task(kinds[kind](spec, stop, out))
        for kind, count in spec["clients"].items()
        for _ in range(count)
    ]
    Path(spec["started"]).touch()  # the test samples the server's memory from now on
    results = await asyncio.gather(*tasks, return_exceptions=True)
    out["errors"] += [f"{type(r).__name__}: {r}"[:200] for r in results if isinstance(r, Exception)]
    return out


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(main_async(spec))))


if __name__ == "__main__":
    main()
