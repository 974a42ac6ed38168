"""A real HTTP webhook receiver on loopback, for apprise's ``json://`` notifications.

``with WebhookReceiver() as hook:`` serves ``http://127.0.0.1:<hook.port>/`` on a
thread; every POST is recorded in ``hook.received`` (path, JSON body, headers)
and answered 200. ``hook.hold`` (a cleared Event) makes it wait before answering,
to stand for a slow endpoint; ``hook.wait_for(n)`` waits until ``n`` arrived.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {"path": self.path, "body": json.loads(raw), "headers": dict(self.headers)}
                with receiver.arrived:
                    receiver.received.append(entry)
                    receiver.arrived.notify_all()
                receiver.hold.wait(30)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "hook", auth: str = "") -> str:
        """The apprise URL of this receiver (``json://[auth@]127.0.0.1:port/path``)."""
        return f"json://{auth + '@' if auth else ''}127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, deadline: float = 30.0) -> list[dict[str, Any]]:
        """The requests once ``count`` arrived (or the deadline passed: tests then assert)."""
        end = time.monotonic() + deadline
        with self.arrived:
            while len(self.received) < count and time.monotonic() < end:
                self.arrived.wait(0.2)
            return list(self.received)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()
