"""The one seam to the machine: the :class:`ResourceSource` protocol and the psutil source.

A source turns "these targets, now" into a :class:`~.records.Reading`. The
sampler calls every source once per tick and merges their readings; tests swap
only the GPU side (a scripted stand-in for ``pynvml``, see
:class:`~.nvml.NvmlSource`), the process side is always real psutil.

How :class:`ProcessTreeSource` counts CPU: for each target it keeps the
``psutil.Process`` objects of the tree between ticks and lists the descendants
every ``children_every`` ticks, for all trees from one pass over ``/proc``. A
process, once seen, stays tracked until it exits, even if re-parented out of
the tree. The tree's cumulative CPU is
``sum(user + system + children_user + children_system)`` over its live
processes plus a ``carried`` amount. The ``children_*`` fields hold the CPU of
exited children their parent has waited for, so a child that exits and is
reaped moves its CPU into its parent's figure, neither lost nor counted twice
(a short-lived child between two listings too). When a tracked process
vanishes, its nearest live tracked ancestor is read again: whatever part of the
vanished processes' last-seen CPU did not show up in that ancestor's
``children_*`` (auto-reaped children, orphans reaped by init, the root itself)
is added to ``carried``; the figure never decreases. CPU comes from cumulative
times (on Linux read from ``/proc`` directly: psutil's figures at a third of
its cost), never from ``cpu_percent``. RSS is the sum over the tree's
processes. A process read for the first time brings the CPU it used before
(``ProcessUse.unseen_cpu``: booked, in no rate).
:func:`usable_cores` and :func:`usable_memory`: what this process may use of
the machine (CPU affinity, cgroup limits, the hardware); no peak can be more.
Processes we may not read (``AccessDenied``) are skipped and counted in
``ProcessUse.denied``; zombies keep their last figures until they are reaped.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import psutil

from jupyter_mlops.core.cost.records import ProcessUse, Reading, Target

__all__ = ["ProcessTreeSource", "ResourceSource"]

_log = logging.getLogger("jupyter_mlops.cost")


@runtime_checkable
class ResourceSource(Protocol):
    """Something that measures targets or devices once per tick.

    ``collect`` is called from the sampler thread only, with every current
    target (id -> :class:`~.records.Target`); a target missing from the mapping
    has been removed and its state may be dropped. It must not raise for a
    process that vanished or a device that failed: it reports what it could.
    """

    name: str

    def collect(self, targets: Mapping[str, Target], now: float) -> Reading: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _Proc:
    proc: psutil.Process
    ppid: int | None = None
    own: float = 0.0  # user + system
    reaped: float = 0.0  # children_user + children_system (waited-for children)
    rss: int = 0
    read: bool = False  # read at least once
    started: int | None = None  # start time in clock ticks (Linux): a reused pid is not it

    @property
    def total(self) -> float:
        return self.own + self.reaped


@dataclass(slots=True)
class _Tree:
    root_pid: int
    root: psutil.Process | None
    procs: dict[int, _Proc] = field(default_factory=dict)
    carried: float = 0.0
    total: float = 0.0
    fresh: bool = True  # its descendants were never listed
    alive: bool = True
    lag: float = 0.0  # seconds after the tick's start it was last read


_LINUX = sys.platform.startswith("linux")
_TICKS = float(os.sysconf("SC_CLK_TCK")) if _LINUX else 100.0
_PAGE = int(os.sysconf("SC_PAGE_SIZE")) if _LINUX else 4096


def _read(p: _Proc) -> str:
    """Read ``p``'s CPU and RSS; ``"ok"``, ``"gone"``, ``"denied"`` or ``"zombie"``."""
    if _LINUX:
        return _read_stat(p)
    try:
        with p.proc.oneshot():
            times = p.proc.cpu_times()
            try:
                p.rss = int(p.proc.memory_info().rss)
            except psutil.ZombieProcess:
                p.rss = 0
    except psutil.NoSuchProcess as exc:  # ZombieProcess is one
        return "zombie" if isinstance(exc, psutil.ZombieProcess) else "gone"
    except psutil.AccessDenied:
        return "denied"
    p.own, p.read = float(times.user + times.system), True
    p.reaped = float(times.children_user + times.children_system)
    return "ok"


def _read_stat(p: _Proc) -> str:
    """Linux: what psutil reads, read directly: CPU from ``/proc/<pid>/stat`` (clock ticks),
    RSS from ``statm`` (pages; ``stat``'s is a per-CPU estimate); a reused pid is gone."""
    try:
        fields = _slurp(f"/proc/{p.proc.pid}/stat").rpartition(b")")[2].split()
        resident = int(_slurp(f"/proc/{p.proc.pid}/statm").split()[1])
        started = int(fields[19])  # fields from 3 (state) on: utime is 14, starttime 22
        own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    except PermissionError:
        return "denied"
    except (OSError, IndexError, ValueError):
        return "gone"
    if p.started is not None and started != p.started:
        return "gone"
    p.started = started
    p.own, p.reaped, p.rss = own / _TICKS, reaped / _TICKS, resident * _PAGE
    p.read = True
    return "ok"


def _slurp(path: str) -> bytes:
    """A small ``/proc`` file (``os.read``: a third cheaper than ``open()``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _children_map() -> dict[int, list[int]] | None:
    """parent pid -> child pids for the whole machine, from one pass over ``/proc`` (Linux).

    ``None`` elsewhere (the trees are then listed with psutil, one walk each).
    """
    if not sys.platform.startswith("linux"):
        return None
    out: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for name in entries:
        if not name.isdigit():
            continue
        try:
            data = _slurp(f"/proc/{name}/stat")
        except OSError:
            continue  # exited meanwhile
        fields = data[data.rfind(b")") + 2 :].split(b" ", 2)
        if len(fields) >= 2:
            out.setdefault(int(fields[1]), []).append(int(name))
    return out


class ProcessTreeSource:
    """CPU seconds and RSS of each target's whole process tree, with real psutil.

    ``children_every``: list every tree's descendants every this many ticks
    (1: every tick); on Linux one pass over ``/proc`` serves all trees.
    ``include_children=False`` measures the root process only (its
    ``children_*`` CPU still counts).
    """

    name = "process"

    def __init__(self, *, children_every: int = 5, include_children: bool = True) -> None:
        self.children_every = max(1, int(children_every))
        self.include_children = include_children
        self._trees: dict[str, _Tree] = {}
        self._ticks = 0
        self._start = 0.0  # when the current collect began (monotonic)

    def collect(self, targets: Mapping[str, Target], now: float) -> Reading:
        self._start = time.monotonic()
        for gone in set(self._trees) - set(targets):
            del self._trees[gone]
        for target_id, target in targets.items():
            tree = self._trees.get(target_id)
            if tree is None or tree.root_pid != target.pid:
                self._trees[target_id] = self._new_tree(target.pid)
        if self.include_children:
            due = self._ticks % self.children_every == 0
            stale = [t for t in self._trees.values() if t.alive and (due or t.fresh)]
            if stale:
                self._list_children(stale)
        self._ticks += 1
        return Reading(processes={tid: self._sample(self._trees[tid]) for tid in targets})

    def close(self) -> None:
        self._trees.clear()

    def root_cpu(self, target_id: str, born_after: float = math.inf) -> tuple[float, float] | None:
        """CPU of ``target_id``'s root as last read (with its reaped children, as ``os.times``
        counts them) plus its live descendants' started after ``born_after`` (seconds since
        boot, Linux), and the tree's ``lag``; ``None`` when not read."""
        tree = self._trees.get(target_id)
        root = None if tree is None else tree.procs.get(tree.root_pid)
        if tree is None or root is None or not root.read:
            return None
        young = [p for p in tree.procs.values() if p is not root and p.read]
        born = sum(p.total for p in young if (p.started or 0) / _TICKS > born_after)
        return root.total + born, tree.lag

    # -- trees ------------------------------------------------------------------

    @staticmethod
    def _new_tree(pid: int) -> _Tree:
        try:
            root = psutil.Process(pid)
        except (psutil.NoSuchProcess, ValueError):
            return _Tree(root_pid=pid, root=None, alive=False)
        tree = _Tree(root_pid=pid, root=root)
        tree.procs[pid] = _Proc(root)
        return tree

    def _list_children(self, trees: list[_Tree]) -> None:
        """Add the descendants of each tree not tracked yet (one /proc pass for all on Linux)."""
        children = _children_map()
        for tree in trees:
            tree.fresh = False
            if tree.root is None:
                continue
            if children is None:
                self._list_with_psutil(tree)
                continue
            stack = [tree.root_pid]
            while stack:
                parent = stack.pop()
                for pid in children.get(parent, ()):
                    stack.append(pid)
                    known = tree.procs.get(pid)
                    if known is None:
                        try:
                            tree.procs[pid] = _Proc(psutil.Process(pid), ppid=parent)
                        except psutil.Error:
                            continue
                    else:
                        known.ppid = parent

    @staticmethod
    def _list_with_psutil(tree: _Tree) -> None:
        assert tree.root is not None
        try:
            found = tree.root.children(recursive=True)
        except psutil.Error:
            return
        for child in found:
            known = tree.procs.get(child.pid)
            if known is None or known.proc != child:  # new, or the pid was reused
                try:
                    tree.procs[child.pid] = _Proc(child, ppid=child.ppid())
                except psutil.Error:
                    continue

    def _sample(self, tree: _Tree) -> ProcessUse:
        if tree.root is None:
            return ProcessUse(pids=frozenset(), cpu_seconds=tree.total, rss_bytes=0, alive=False)
        previous_reaped = {pid: p.reaped for pid, p in tree.procs.items()}
        tree.lag = time.monotonic() - self._start
        gone: list[tuple[int, _Proc]] = []
        denied = 0
        unseen = 0.0  # CPU that processes read for the first time used before now
        for pid, p in list(tree.procs.items()):
            first = not p.read
            status = _read(p)
            if first and p.read:
                unseen += p.total
            if status == "gone":
                gone.append((pid, p))
                del tree.procs[pid]
            elif status == "denied":
                denied += 1
        if gone:
            self._settle_gone(tree, gone, previous_reaped)
        tree.alive = tree.root_pid in tree.procs
        computed = tree.carried + sum(p.total for p in tree.procs.values() if p.read)
        tree.total = max(tree.total, computed)
        return ProcessUse(
            pids=frozenset(tree.procs),
            cpu_seconds=tree.total,
            rss_bytes=sum(p.rss for p in tree.procs.values()),
            alive=tree.alive,
            denied=denied,
            unseen_cpu=unseen,
            lag=tree.lag,
        )

    def _settle_gone(
        self, tree: _Tree, gone: list[tuple[int, _Proc]], previous_reaped: dict[int, float]
    ) -> None:
        """Carry the CPU of vanished processes that no live ancestor took over."""
        parents = {pid: p.ppid for pid, p in gone}
        by_ancestor: dict[int | None, float] = {}
        for pid, p in gone:
            if not p.read:
                continue
            ancestor = parents.get(pid)
            seen = {pid}
            while ancestor is not None and ancestor in parents and ancestor not in seen:
                seen.add(ancestor)  # skip vanished ancestors (pid reuse cannot loop us)
                ancestor = parents[ancestor]
            if ancestor not in tree.procs:
                ancestor = None
            by_ancestor[ancestor] = by_ancestor.get(ancestor, 0.0) + p.total
        for ancestor, lost in by_ancestor.items():
            if ancestor is None:
                tree.carried += lost
                continue
            holder = tree.procs[ancestor]
            _read(holder)  # read again: a reaped child is in its parent's figures by now
            taken = holder.reaped - previous_reaped.get(ancestor, holder.reaped)
            if lost > taken:
                tree.carried += lost - taken
                _log.debug("carried %.3f s of CPU no parent reaped", lost - taken)
