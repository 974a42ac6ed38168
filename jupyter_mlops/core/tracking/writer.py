"""The background writer of a durable queue: the metric spool and the artifact queue share it.

A :class:`BackgroundWriter` owns a daemon thread that wakes every
``flush_interval`` seconds (or when asked), calls :meth:`BackgroundWriter.deliver`
and, while the store is away, waits the backoff of its
:class:`~jupyter_mlops.core.tracking.delivery.StoreHealth`. Waiters on
``_progress`` are woken after every round. Around ``fork`` every live writer is
marked (a parent with children appending to its files never compacts them) and,
in the child, gets fresh locks and no thread.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.core.tracking.delivery import StoreHealth

__all__ = ["BackgroundWriter"]

_log = logging.getLogger("jupyter_mlops.spool")
_live: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


class BackgroundWriter:
    """Writer-thread state and lifecycle; subclasses implement :meth:`deliver`."""

    thread_prefix = "jupyter-mlops-writer"
    """The thread is named ``<prefix>-<first 8 characters of the run id>``."""
    error_message = "jupyter-mlops: writer error"
    """Logged (with the traceback) when ``deliver`` raises on the thread."""

    run_id: str
    tracking_uri: str
    flush_interval: float
    health: StoreHealth
    _client: Any

    def _init_writer(self) -> None:
        """Fresh locks and events, no thread; registers the writer for the fork hooks."""
        self._append_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self._progress = threading.Condition()
        self._stopping = False
        self._forked = False
        self._thread: threading.Thread | None = None
        _live.add(self)

    @property
    def client(self) -> Any:
        """The ``MlflowClient`` this writer delivers with (by default the cached one for
        ``tracking_uri``)."""
        if self._client is None:
            from jupyter_mlops.core.tracking.store import get_client

            self._client = get_client(self.tracking_uri)
        return self._client

    @property
    def last_error(self) -> str | None:
        """The last delivery error (first line, no credentials), or None after a success."""
        return self.health.last_error

    def deliver(self) -> bool:
        """Send what is pending; True when caught up, False when the store is away."""
        raise NotImplementedError

    @property
    def writer_alive(self) -> bool:
        """Whether the background writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def start_writer(self) -> None:
        """Start the daemon writer thread (idempotent)."""
        if self.writer_alive:
            return
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name=f"{self.thread_prefix}-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Ask the writer to deliver now instead of at the next interval."""
        self._wake.set()

    def retry_delay(self) -> float:
        """Seconds until the next attempt: the flush interval, doubled per failure (max 30 s)."""
        return self.health.retry_delay(self.flush_interval)

    def _flush_round(self, step: float) -> bool | None:
        """One round of a flush: wake the live writer and wait up to ``step`` seconds for
        its progress (None), or, without a live writer, deliver from this thread (its result)."""
        if self.writer_alive:
            with self._progress:
                self._wake.set()  # also cuts short a backoff wait: someone is waiting
                self._progress.wait(step)
            return None
        return self.deliver()

    def _run(self) -> None:
        delay = self.flush_interval
        while True:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopping:
                return
            try:
                ok = self.deliver()
            except Exception:  # a bug must not kill delivery; flush() still works inline
                _log.exception(self.error_message)
                ok = False
            delay = self.flush_interval if ok else self.retry_delay()
            with self._progress:
                self._progress.notify_all()

    def stop_writer(self, timeout: float = 5.0) -> None:
        """Stop the writer thread (what is pending stays on disk)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None


def _before_fork() -> None:
    """A parent that forked may have children appending to its files: never compact them."""
    for writer in list(_live):
        writer._forked = True


def _after_fork_in_child() -> None:
    """A forked child has no writer thread and must not inherit locks held by one."""
    for writer in list(_live):
        writer._append_lock = threading.Lock()
        writer._deliver_lock = threading.Lock()
        writer._wake = threading.Event()
        writer._progress = threading.Condition()
        writer._thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
