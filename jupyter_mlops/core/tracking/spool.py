"""The durable metric spool: an append-only file per run and its background writer.

A record acknowledged by :meth:`Spool.append` is never lost:

* ``append`` is ONE ``os.write`` of one complete line on an ``O_APPEND`` file
  descriptor. Once it returns, the line is in the kernel's page cache, which
  survives SIGKILL, an OOM kill or a crash of the Python process. There is no
  ``fsync`` per call (that would cost milliseconds); only a power loss or
  kernel panic within the OS write-back delay can lose the newest lines.
* A daemon thread wakes every ``flush_interval`` seconds (or when asked), reads
  the complete lines after the *committed offset*, sends them (see
  :mod:`jupyter_mlops.core.tracking.delivery`) and then records the new offset in a
  sidecar file, written atomically (temp file + ``os.replace``). A torn last
  line (a write cut by a crash) is left alone until it is complete.
* If the store fails, one warning is logged per outage and another when it is
  back; records stay spooled and are retried with exponential backoff.
* Replaying after a crash may resend the chunk that was in flight; that is
  harmless (identical metric rows are stored once, params and tags idempotent).

Files for run ``R`` in the spool folder (format: :mod:`jupyter_mlops.core.tracking.spool_format`):
``R.jsonl`` (records), ``R.offset``
(committed byte offset), ``R.meta.json`` (run id, credential-free tracking
URI, owner pid, process start time, host) and, only if the store rejected
something for good, ``R.rejected.jsonl`` (kept for the user, never deleted).
Orphans of dead processes are replayed by
:func:`jupyter_mlops.core.tracking.recovery.recover_orphans`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from jupyter_mlops.core.redact import redact_uri, scrub_error
from jupyter_mlops.core.tracking.delivery import (
    StoreHealth,
    is_permanent_error,
    make_sender,
    quiet_store_errors,
)
from jupyter_mlops.core.tracking.spool_format import (
    META_SUFFIX,
    OFFSET_SUFFIX,
    REJECTED_SUFFIX,
    SPOOL_SUFFIX,
    SpoolMeta,
    read_chunks,
    write_atomic,
)
from jupyter_mlops.core.tracking.writer import BackgroundWriter
from jupyter_mlops.exceptions import RunStateError, StoreError

__all__ = ["META_SUFFIX", "Spool", "SpoolMeta"]

_READ_LIMIT = 8 << 20
_COMPACT_BYTES = 16 << 20  # a fully delivered spool file larger than this is emptied
_log = logging.getLogger("jupyter_mlops.spool")


class Spool(BackgroundWriter):
    """One run's spool file, its committed offset and (optionally) its writer thread.

    ``Spool.create`` makes a new spool owned by this process and starts the
    writer; ``Spool(...)`` alone opens an existing one without a thread (used
    by recovery). ``client`` is an ``MlflowClient``; by default the cached one
    for ``tracking_uri``.
    """

    thread_prefix = "jupyter-mlops-spool"
    error_message = "jupyter-mlops: spool writer error"

    def __init__(
        self,
        spool_dir: Path,
        run_id: str,
        tracking_uri: str,
        *,
        flush_interval: float = 0.5,
        client: Any = None,
    ) -> None:
        self.spool_dir = Path(spool_dir)
        self.run_id = run_id
        self.tracking_uri = tracking_uri
        self.flush_interval = max(float(flush_interval), 0.01)
        self.path = self.spool_dir / f"{run_id}{SPOOL_SUFFIX}"
        self.offset_path = self.spool_dir / f"{run_id}{OFFSET_SUFFIX}"
        self.meta_path = self.spool_dir / f"{run_id}{META_SUFFIX}"
        self.rejected_path = self.spool_dir / f"{run_id}{REJECTED_SUFFIX}"
        self._client = client
        self._sender: Any = None
        self._committed = self._read_offset()
        self._base = 0  # bytes emptied out of the file by compaction (progress stays monotonic)
        self._owned = False  # created by this process (only such spools are compacted)
        self._init_writer()
        self.health = StoreHealth(tracking_uri, str(self.path))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @classmethod
    def create(
        cls,
        spool_dir: Path,
        run_id: str,
        tracking_uri: str,
        *,
        status_owner: tuple[int, float] | None = None,
        **options: Any,
    ) -> Spool:
        """A new spool for ``run_id`` owned by this process, with its writer thread running.

        ``status_owner`` (a kernel attached to a pipeline execution's run: its
        executor): while that process lives, recovery of this spool delivers its
        records but leaves the run's status to it. ``options``: as for ``Spool(...)``.
        """
        spool_dir = Path(spool_dir)
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        meta = SpoolMeta.new(run_id, tracking_uri, status_owner=status_owner)
        meta.write(spool_dir / f"{run_id}{META_SUFFIX}")  # meta first: recovery keys on it
        spool = cls(spool_dir, run_id, tracking_uri, **options)
        spool._owned = True
        spool.start_writer()
        return spool

    # -- hot path ---------------------------------------------------------------------------

    def append(self, line: str) -> None:
        """Append one complete line (ending in ``\\n``) with a single ``os.write``.

        Durable against the process being killed once this returns (page cache);
        no fsync. Raises :class:`StoreError` if the disk refuses the write and
        :class:`RunStateError` if the spool is closed.
        """
        data = line.encode()
        with self._append_lock:
            if self._fd < 0:
                raise RunStateError(
                    f"The spool of run {self.run_id} is closed.", hint="start a new run"
                )
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # only on a nearly full disk
                    written += os.write(self._fd, data[written:])
            except OSError as exc:
                raise StoreError(
                    f"Could not write to the metric spool {self.path}: {exc}",
                    hint="free disk space or set JUPYTER_MLOPS_SPOOL_DIR to another folder",
                    run_id=self.run_id,
                ) from exc

    # -- delivery ---------------------------------------------------------------------------

    @property
    def committed(self) -> int:
        """Byte offset up to which every record is in the store."""
        return self._committed

    def _read_offset(self) -> int:
        try:
            offset = int(self.offset_path.read_text(encoding="ascii").strip() or 0)
            size = self.path.stat().st_size
        except (OSError, ValueError):
            return 0
        return offset if 0 <= offset <= size else 0  # nonsense: resend all (harmless)

    def _commit(self, offset: int) -> None:
        write_atomic(self.offset_path, str(offset))
        with self._progress:
            self._committed = offset
            self._progress.notify_all()

    def _reject(self, lines: list[bytes], reason: str) -> None:
        with open(self.rejected_path, "ab") as f:
            f.write(b"".join(line + b"\n" for line in lines))
        _log.warning(
            "jupyter-mlops: the tracking store rejected %d record(s) of run %s: %s. "
            "They are kept in %s.",
            len(lines),
            self.run_id,
            scrub_error(reason),
            self.rejected_path,
        )

    def deliver(self) -> bool:
        """Send every complete spooled line to the store.

        Returns True when caught up, False when the store is unavailable (the
        records stay spooled). Safe to call from any thread.
        """
        with self._deliver_lock, quiet_store_errors():
            while True:
                try:
                    if self._sender is None:
                        self._sender = make_sender(self.client)
                    chunks = read_chunks(self.path, self._committed, self._sender, _READ_LIMIT)
                except Exception as exc:  # the client cannot even be built
                    return self.health.failed(exc)
                if not chunks:
                    self.health.succeeded(self.run_id)
                    self._maybe_compact()
                    return True
                for chunk in chunks:
                    if chunk.lines:
                        try:
                            self._sender.send(
                                self.run_id,
                                chunk.metrics,
                                list(chunk.params.items()),
                                list(chunk.tags.items()),
                            )
                        except Exception as exc:
                            if not is_permanent_error(exc):
                                return self.health.failed(exc)
                            self._reject(chunk.lines, str(exc))
                        else:
                            self.health.succeeded(self.run_id)
                    if chunk.bad:
                        self._reject(chunk.bad, "unreadable line (a write cut short?)")
                    self._commit(chunk.end)

    def _maybe_compact(self) -> None:
        """Empty a large, fully delivered spool file (called with the delivery lock held).

        The offset sidecar is reset first: a crash between the two steps only
        makes recovery resend what is already stored, which is harmless.
        """
        if not self._owned or self._forked or self._committed < _COMPACT_BYTES:
            return
        with self._append_lock:
            if self._fd < 0 or os.fstat(self._fd).st_size != self._committed:
                return  # closed, or appended to meanwhile: next time
            write_atomic(self.offset_path, "0")
            os.ftruncate(self._fd, 0)
            with self._progress:
                self._base += self._committed
                self._committed = 0

    def pending(self) -> int:
        """Number of complete records not yet in the store."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._committed)
                return f.read().count(b"\n")
        except OSError:
            return 0

    def _progress_now(self) -> int:
        """Bytes ever delivered from this spool (survives compaction)."""
        return self._base + self._committed

    def _end_offset(self) -> int:
        """Bytes ever appended to this spool, on the same scale as :meth:`_progress_now`."""
        with self._append_lock:
            try:
                size = os.fstat(self._fd).st_size if self._fd >= 0 else self.path.stat().st_size
            except OSError:
                size = self._committed
            return self._base + size

    def _timeout_error(self, timeout: float | None) -> StoreError:
        return StoreError(
            f"{self.pending()} record(s) of run {self.run_id} are not yet in the tracking "
            f"store {redact_uri(self.tracking_uri)} after {timeout or 0:g} s: {self.last_error}",
            hint=f"they are kept in {self.path} and will be delivered automatically once the "
            "store is reachable, also after a restart; check the tracking URI",
            run_id=self.run_id,
        )

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until everything appended so far is in the store.

        Wakes the writer thread and waits for it; without a live writer (it
        died, or this is a forked child) delivers from the calling thread.
        Raises :class:`StoreError` after ``timeout`` seconds (None: wait
        forever); the records stay safely spooled either way.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        target = self._end_offset()
        while self._progress_now() < target:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout_error(timeout)
            step = 0.5 if remaining is None else min(0.5, remaining)
            delivered = self._flush_round(step)
            if delivered:
                return
            if delivered is False:
                time.sleep(min(self.retry_delay(), step))

    # -- writer thread and lifecycle --------------------------------------------------------

    def mark_ended(self, status: str, end_time: int) -> None:
        """Record in the meta sidecar how the run ended, for a recovery that finishes the job."""
        meta = SpoolMeta.read(self.meta_path)
        if meta is not None:
            meta.end_status, meta.end_time = status, end_time
            meta.write(self.meta_path)

    def close(self, *, delete: bool = False) -> None:
        """Stop the writer, close the file; ``delete`` removes the spool files (not rejects)."""
        self.stop_writer()
        with self._append_lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        if delete:
            with self._deliver_lock:
                for path in (self.path, self.offset_path, self.meta_path):  # meta last
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
