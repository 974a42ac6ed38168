"""The server side of compute cost: one :class:`~jupyter_mlops.core.cost.CostEngine` for all kernels.

:class:`KernelCostTracker` keeps the engine's targets in step with the kernel
manager: every ``sync_interval`` seconds (a tornado ``PeriodicCallback``) it lists
the running kernels, finds each one's process id through its provisioner
(local kernels only; remote ones have no local process tree), its notebook
through the session manager, and calls ``engine.track`` / ``untrack`` /
``relabel``. Nothing here measures: the engine's sampler thread does all psutil
and NVML work, so the event loop only moves a few labels around.

Every ``run_sync_every`` syncs the RUNNING runs of the tracking store are read
(in the extension's thread pool) and each kernel's cost is labelled with the run
its ``mlops.kernel_id`` tag names and that run's project (``%mlops start --project``),
and the run's user tags go into the ledger, so the ledger can report cost by run,
project and tag. Outside a run a kernel's cost carries its notebook, the user and
the server's default project.
"""

from __future__ import annotations

import getpass
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tags import KERNEL_ID, PROJECT

SESSION_GRACE_S = 3.0
"""How long a new kernel without a session waits for one before it is tracked without a notebook."""

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.engine import CostEngine
    from jupyter_mlops.core.cost.ledger import Ledger

__all__ = ["KernelCostTracker", "RunLabels", "kernel_pid", "running_runs_by_kernel"]


@dataclass(frozen=True)
class RunLabels:
    """What a kernel's cost rows carry while one of its runs is active."""

    run_id: str
    project: str = ""


def running_runs_by_kernel(
    client: Any, ledger: Ledger | None = None, tagged: dict[str, dict[str, str]] | None = None
) -> dict[str, RunLabels]:
    """Kernel id -> the RUNNING run it started (its ``mlops.kernel_id`` tag); blocking.

    With a ``ledger``, each run's user tags (``epic=...``) are recorded there too, so
    that its cost can be reported by tag (:meth:`~jupyter_mlops.core.cost.ledger.Ledger.tag_run`).
    ``tagged`` (run id -> tags written, kept by the caller between calls) skips the
    write where a run's tags have not changed since the last call.
    """
    from jupyter_mlops.core.cost.booking import user_tags

    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return {}
    runs = client.search_runs(
        experiments, filter_string="attributes.status = 'RUNNING'", max_results=1000
    )
    out: dict[str, RunLabels] = {}
    written: dict[str, dict[str, str]] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time or 0):  # the newest wins
        tags = run.data.tags
        kid = tags.get(KERNEL_ID)
        if not kid:
            continue
        run_id = str(run.info.run_id)
        out[str(kid)] = RunLabels(run_id, str(tags.get(PROJECT, "")))
        if ledger is None:
            continue
        mine = user_tags(tags)
        if tagged is None or tagged.get(run_id) != mine:
            ledger.tag_run(run_id, mine)
        written[run_id] = mine
    if tagged is not None:  # only the runs still running are remembered
        tagged.clear()
        tagged.update(written)
    return out


def kernel_pid(kernel: Any) -> int | None:
    """The process id of a kernel started by a local provisioner, else ``None``."""
    provisioner = getattr(kernel, "provisioner", None)
    pid = getattr(provisioner, "pid", None)
    return pid if isinstance(pid, int) and pid > 0 else None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no USER variable (containers)
        return ""


class KernelCostTracker:
    """Maps the server's kernels to cost targets (kernel id -> pid + notebook, project, user)."""

    def __init__(
        self,
        engine: CostEngine,
        kernel_manager: Any,
        session_manager: Any = None,
        *,
        project: str = "",
        log: logging.Logger | None = None,
        runs: Callable[[], Awaitable[dict[str, RunLabels]]] | None = None,
        run_sync_every: int = 2,
    ) -> None:
        self.engine = engine
        self.kernel_manager = kernel_manager
        self.session_manager = session_manager
        self.project = project
        self.user = _user()
        self.log = log or logging.getLogger("jupyter_mlops.cost")
        self.tracked: dict[str, tuple[int, str]] = {}  # kernel id -> (pid, notebook)
        self.runs = runs
        self.run_sync_every = max(1, run_sync_every)
        self.run_ids: dict[str, RunLabels] = {}  # kernel id -> the run labelled
        self._since_runs = self.run_sync_every  # the first sync with kernels reads the runs
        self._first_seen: dict[str, float] = {}  # kernel id -> when first seen, untracked

    async def notebooks(self) -> dict[str, str]:
        """Kernel id -> notebook path (relative to the server root) from the sessions."""
        if self.session_manager is None:
            return {}
        out: dict[str, str] = {}
        for session in await self.session_manager.list_sessions():
            kernel = session.get("kernel") or {}
            kid, path = kernel.get("id"), session.get("path")
            if kid and path and session.get("type", "notebook") == "notebook":
                out[str(kid)] = str(path)
        return out

    async def sync(self) -> None:
        """Track new kernels, relabel moved notebooks, untrack kernels that are gone."""
        from jupyter_mlops.core.cost.records import Target

        try:
            notebooks: dict[str, str] | None = await self.notebooks()
        except Exception:  # the kernels keep the notebooks they had
            self.log.debug("jupyter-mlops: listing sessions failed", exc_info=True)
            notebooks = None
        seen = set()
        for kid in list(self.kernel_manager.list_kernel_ids()):
            try:
                pid = kernel_pid(self.kernel_manager.get_kernel(kid))
            except KeyError:  # shut down meanwhile
                continue
            if pid is None:
                continue
            seen.add(kid)
            known = self.tracked.get(kid)
            if notebooks is None:
                notebook = known[1] if known is not None else ""
            else:
                notebook = notebooks.get(kid, "")
            if not notebook and known is None and self._session_pending(kid):
                continue  # a session's kernel starts before its session is saved: wait for it
            if known == (pid, notebook):
                continue
            if known is not None and known[0] == pid:
                self.engine.relabel(kid, notebook=notebook)
            else:
                target = Target(
                    pid, kernel_id=kid, notebook=notebook, project=self.project, user=self.user
                )
                self.engine.track(kid, target)
            self.tracked[kid] = (pid, notebook)
        for kid in set(self.tracked) - seen:
            self.engine.untrack(kid)
            del self.tracked[kid]
            self.run_ids.pop(kid, None)
        for kid in set(self._first_seen) - seen:
            del self._first_seen[kid]
        self._since_runs += 1
        if self.runs is not None and self.tracked and self._since_runs >= self.run_sync_every:
            self._since_runs = 0
            await self.sync_runs()

    def _session_pending(self, kid: str) -> bool:
        """Whether ``kid``, seen without a session, may still get one (for
        :data:`SESSION_GRACE_S` after it was first seen): its cost waits for the notebook's
        name rather than going to no notebook. A kernel without a session is tracked after."""
        if self.session_manager is None:
            return False
        now = time.monotonic()
        first = self._first_seen.setdefault(kid, now)
        return now - first < SESSION_GRACE_S

    async def sync_runs(self) -> None:
        """Label each kernel's cost with its RUNNING run's id and project (or none), from the store.

        A kernel outside a run books under the server's default project.
        """
        if self.runs is None:
            return
        try:
            running = await self.runs()
        except Exception as exc:
            self.log.debug("jupyter-mlops: reading running runs failed: %s", exc)
            return
        outside = RunLabels("")
        for kid in self.tracked:
            run = running.get(kid, outside)
            if self.run_ids.get(kid, outside) != run:
                self.engine.relabel(kid, run_id=run.run_id, project=run.project or self.project)
                self.run_ids[kid] = run
