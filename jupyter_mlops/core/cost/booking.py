"""Who books a process tree's cost in the ledger, and a run's own booking when nobody else does.

Every process tree is booked by exactly one booker, so that nothing is counted
twice and nothing is missed:

* a Jupyter server with cost on books every kernel it started (its sampler sees
  each kernel's whole tree); it exports ``JUPYTER_MLOPS_COST_BOOKER_PID=<its pid>``,
  which its kernels inherit;
* the pipeline executor (``jupyter mlops run``, sweeps, schedules) books each
  execution's kernel, and passes ``JUPYTER_MLOPS_COST_BOOKER_PID=<its pid>`` to it;
* anything else (plain IPython, a papermill job, a script) books its own tree
  for as long as a tracked run is active: :class:`RunBooking`.

A process whose parent is the booker named by ``JUPYTER_MLOPS_COST_BOOKER_PID``
is *covered* (:func:`booked_elsewhere`); it sets ``JUPYTER_MLOPS_COST_COVERED=1``
so that its own children (a ``papermill`` or ``python train.py`` started from a
notebook) know they are inside a booked tree too.

::

    if not booked_elsewhere():
        booking = RunBooking(ledger_url, run_id, labels=lambda: tracker_tags, currency="USD")
        booking.update(meter_totals, now)      # every tick; writes every ``every`` seconds
        booking.close(final_totals)            # the rest, and the run's tags (tag:epic reports)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING

from jupyter_mlops.core import tags as mlops_tags

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.ledger import LedgerKey
    from jupyter_mlops.core.cost.totals import Totals

__all__ = [
    "ENV_BOOKER_PID",
    "ENV_COVERED",
    "REPORTED_SYSTEM_TAGS",
    "RunBooking",
    "booked_elsewhere",
    "booker_env",
    "cost_labels",
    "leave_parent_booker",
    "open_booking",
    "user_tags",
]

ENV_BOOKER_PID = "JUPYTER_MLOPS_COST_BOOKER_PID"
ENV_COVERED = "JUPYTER_MLOPS_COST_COVERED"
_SYSTEM_PREFIXES = ("mlflow.", "mlops.")
REPORTED_SYSTEM_TAGS = (mlops_tags.SCHEDULE_ID, mlops_tags.PIPELINE_NAME)
"""Our own tags the ledger keeps beside the user's: ``cost report --by tag:mlops.schedule.id``
(what a schedule costs) and ``--by tag:mlops.pipeline.name``."""
_log = logging.getLogger("jupyter_mlops.cost")


def booker_env(pid: int | None = None) -> dict[str, str]:
    """The environment a booker gives the processes it books (``pid``: the booker, default this one)."""
    return {ENV_BOOKER_PID: str(os.getpid() if pid is None else pid)}


def booked_elsewhere(environ: Mapping[str, str] | None = None, ppid: int | None = None) -> bool:
    """Whether another process books this one's cost (see the module doc).

    True when ``JUPYTER_MLOPS_COST_COVERED=1`` was inherited, or when the parent is
    the booker ``JUPYTER_MLOPS_COST_BOOKER_PID`` names; then ``COVERED`` is set in
    ``os.environ`` for this process's children (only when ``environ`` is not given).
    """
    env = os.environ if environ is None else environ
    if env.get(ENV_COVERED) == "1":
        return True
    booker = env.get(ENV_BOOKER_PID, "")
    if not booker.isdigit():
        return False
    parent = os.getppid() if ppid is None else ppid
    covered = int(booker) == parent and int(booker) != os.getpid()
    if covered and environ is None:
        os.environ[ENV_COVERED] = "1"
    return covered


def leave_parent_booker(
    environ: MutableMapping[str, str] | None = None, ppid: int | None = None
) -> bool:
    """Forget a booker that is this process's parent, unless this process is covered.

    For a worker of a process pool: a booker (the Jupyter server) meters its kernels,
    not the pools it starts, so the worker's executions must book their own cost. A
    pool started inside a covered process (``JUPYTER_MLOPS_COST_COVERED=1``: a kernel's
    ``!jupyter mlops run``) stays covered. Returns whether the booker was forgotten.
    """
    env = os.environ if environ is None else environ
    parent = os.getppid() if ppid is None else ppid
    if env.get(ENV_COVERED) == "1" or env.get(ENV_BOOKER_PID) != str(parent):
        return False
    del env[ENV_BOOKER_PID]
    return True


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags of a run the ledger groups by: the user's own (``epic``, ``ticket``), none of
    MLflow's, and of ours only :data:`REPORTED_SYSTEM_TAGS`."""
    return {
        str(k): str(v)
        for k, v in tags.items()
        if not str(k).startswith(_SYSTEM_PREFIXES) or k in REPORTED_SYSTEM_TAGS
    }


def cost_labels(
    run_id: str, tags: Mapping[str, str], *, default_project: str = ""
) -> dict[str, str]:
    """The ledger labels of a run's cost rows, from the run's tags."""
    return {
        "kernel_id": str(tags.get(mlops_tags.KERNEL_ID, "")),
        "run_id": run_id,
        "notebook": str(tags.get(mlops_tags.NOTEBOOK, "")),
        "project": str(tags.get(mlops_tags.PROJECT, "") or default_project),
        "user": str(tags.get("mlflow.user", "")),
    }


def _minus(now: Totals, before: Totals) -> Totals:
    """What ``now`` adds to ``before`` (sums subtracted; peaks as they are now)."""
    from jupyter_mlops.core.cost.totals import MEASURES, PEAKS, Totals

    out = Totals()
    for name in MEASURES:
        setattr(out, name, max(0.0, getattr(now, name) - getattr(before, name)))
    for name in PEAKS:
        setattr(out, name, getattr(now, name))
    return out


def open_booking(
    run_id: str,
    labels: Callable[[], Mapping[str, str]],
    *,
    ledger_url: str = "",
    tracking_uri: str | None = None,
    currency: str = "USD",
    default_project: str = "",
) -> RunBooking | None:
    """A :class:`RunBooking` of this process tree, or ``None`` when another process books it
    (:func:`booked_elsewhere`) or the ledger is ``memory``. ``ledger_url`` ``""``: the
    default ledger beside the store of ``tracking_uri`` (:func:`~.ledger.default_ledger_url`)."""
    from jupyter_mlops.core.cost.ledger import default_ledger_url

    url = ledger_url or default_ledger_url(tracking_uri=tracking_uri)
    if url == "memory" or booked_elsewhere():
        return None
    return RunBooking(url, run_id, labels, currency=currency, default_project=default_project)


class RunBooking:
    """Books a run's metered totals into the cost ledger as they grow, and its tags at the end.

    ``labels()`` returns the run's tags as known now (project, notebook, user and the
    user's tags come from them), so tags set after the start still count. Deltas
    are written every ``every`` seconds and at :meth:`close`; a ledger that fails is
    warned about once and the amounts are kept for the next write.
    """

    def __init__(
        self,
        ledger_url: str,
        run_id: str,
        labels: Callable[[], Mapping[str, str]],
        *,
        currency: str = "USD",
        every: float = 10.0,
        default_project: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        from jupyter_mlops.core.cost.ledger import Ledger
        from jupyter_mlops.core.cost.totals import Totals

        self.ledger = Ledger(ledger_url, busy_timeout_s=2.0)
        self.run_id = run_id
        self.labels = labels
        self.currency = currency
        self.every = every
        self.default_project = default_project
        self.clock = clock
        self.booked = Totals()
        self._last: float | None = None
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False

    def update(self, totals: Totals, now: float | None = None) -> None:
        """Book what ``totals`` adds since the last write, if ``every`` seconds have passed."""
        now = self.clock() if now is None else now
        if self._last is None:
            self._last = now
        if now - self._last >= self.every:
            self._last = now
            self._book(totals, now)

    def close(self, totals: Totals) -> None:
        """Book the rest and the run's user tags; close the ledger. Idempotent."""
        if self._closed:
            return
        self._book(totals, self.clock())
        with self._lock:
            self._closed = True
            try:
                self.ledger.tag_run(self.run_id, user_tags(self.labels()))
            except Exception as exc:
                self._warn(exc)
            finally:
                self.ledger.close()

    def _book(self, totals: Totals, now: float) -> None:
        with self._lock:
            if self._closed:
                return
            delta = _minus(totals, self.booked)
            if delta.wall_seconds <= 0 and delta.cost_allocated <= 0:
                return
            labels = cost_labels(self.run_id, self.labels(), default_project=self.default_project)
            key: LedgerKey = (
                int(now // 60 * 60),
                (
                    labels["kernel_id"],
                    labels["run_id"],
                    labels["notebook"],
                    labels["project"],
                    labels["user"],
                ),
            )
            try:
                self.ledger.write({key: delta}, self.currency)
            except Exception as exc:
                self._warn(exc)
                return
            self.booked = totals.copy()

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            _log.warning("jupyter-mlops: the run's cost was not booked in the ledger: %s", exc)
