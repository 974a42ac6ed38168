"""The records that flow from the sources through the sampler to pricing, ledger and alerts.

::

    Target ──> ResourceSource.collect() ──> Reading ──┐
    (pid + labels)    ProcessTreeSource: ProcessUse   │  Sampler.tick() merges
                      NvmlSource: GpuDevice,          ├──> Snapshot
                                  GpuProcess          │     └─ TargetSample (per target)
                                                      ┘          └─ TargetGpu (per GPU held)

Everything here is a frozen dataclass with no behaviour beyond simple derived
values and a JSON-ready ``to_dict``; nothing imports psutil or NVML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_mlops.core.serial import fields_dict

__all__ = [
    "LABELS",
    "GpuDevice",
    "GpuProcess",
    "ProcessUse",
    "Reading",
    "Snapshot",
    "Target",
    "TargetGpu",
    "TargetSample",
]

#: The label names of a :class:`Target`, in ledger key order.
LABELS = ("kernel_id", "run_id", "notebook", "project", "user")


@dataclass(frozen=True)
class Target:
    """A process tree to account for: its root ``pid`` and the labels its cost is booked under.

    Empty labels are simply "not known" (a kernel without a run has ``run_id=""``).
    ``cpu_cores`` optionally reserves cores for the target: the *allocated* CPU
    is then at least ``cpu_cores`` x wall time (see :mod:`.pricing`).
    """

    pid: int
    kernel_id: str = ""
    notebook: str = ""
    run_id: str = ""
    project: str = ""
    user: str = ""
    cpu_cores: float | None = None

    def labels(self) -> dict[str, str]:
        """``{kernel_id, run_id, notebook, project, user}``."""
        return {name: getattr(self, name) for name in LABELS}

    def relabel(self, **labels: str) -> Target:
        """A copy with some labels changed (``run_id`` when a run starts or ends, ...)."""
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise TypeError(f"unknown target labels: {sorted(unknown)}")
        changes: dict[str, Any] = dict(labels)
        return replace(self, **changes)


@dataclass(frozen=True)
class ProcessUse:
    """What the process source saw of one target's process tree at one instant.

    ``cpu_seconds`` is cumulative user + system CPU of the whole tree since the
    tree's processes started (exited, reaped children included) and never goes
    down. ``rss_bytes`` is the sum of the resident set sizes (shared pages are
    counted once per process). ``pids`` are the live processes of the tree.
    ``unseen_cpu`` is the part of ``cpu_seconds`` that processes read for the
    first time at this instant had used before (a child found by a later listing
    brings its history): it is booked, but no CPU rate is made of it. ``lag``:
    seconds after the tick's time that the tree was read (CPU rates are timed by it).
    """

    pids: frozenset[int]
    cpu_seconds: float
    rss_bytes: int
    alive: bool = True
    denied: int = 0  # processes of the tree we were not allowed to read
    unseen_cpu: float = 0.0
    lag: float = 0.0


@dataclass(frozen=True)
class GpuDevice:
    """One GPU (or one MIG slice of a GPU) as NVML reported it at one instant.

    ``key`` is ``"0"`` for device 0 and ``"0/mig1"`` for its MIG slice 1.
    ``fraction`` is the share of the physical GPU this device is (1.0, or the
    slice's memory share for MIG); pricing charges a GPU-hour times it.
    ``util_pct`` and ``power_w`` are ``None`` where NVML does not support them
    (MIG slices, some boards). ``energy_j`` is the energy the physical board used
    since the previous reading (from the energy counter, else power x time).
    """

    index: int
    model: str
    uuid: str = ""
    mig_index: int | None = None
    memory_total: int = 0
    memory_used: int = 0
    util_pct: float | None = None
    power_w: float | None = None
    energy_j: float | None = None
    fraction: float = 1.0

    @property
    def key(self) -> str:
        return str(self.index) if self.mig_index is None else f"{self.index}/mig{self.mig_index}"

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(
            self,
            "key index mig_index model uuid memory_total memory_used util_pct power_w fraction",
        )


@dataclass(frozen=True)
class GpuProcess:
    """A process holding a context on a GPU: its memory and, where NVML has it, its SM utilisation."""

    pid: int
    device_key: str
    mem_bytes: int
    sm_util_pct: float | None = None


@dataclass(frozen=True)
class Reading:
    """What one :class:`~.sources.ResourceSource` contributes to one tick.

    A process source fills ``processes`` (target id -> use); a GPU source fills
    ``gpus`` and ``gpu_processes``. ``gpus is None`` means "this source says
    nothing about GPUs"; an empty tuple means "there are no GPUs (any more)".
    """

    processes: Mapping[str, ProcessUse] = field(default_factory=dict)
    gpus: tuple[GpuDevice, ...] | None = None
    gpu_processes: tuple[GpuProcess, ...] = ()


@dataclass(frozen=True)
class TargetGpu:
    """One GPU a target holds (at least one of its processes has a context on it).

    ``util_pct`` is the target's own utilisation of the device: NVML's
    per-process SM utilisation where supported, else the device utilisation if
    the target is its only holder, else the device utilisation times the
    target's share of the device memory held by processes; ``None`` where NVML
    reports no utilisation at all (MIG slices). ``power_w`` and
    ``energy_j`` are the target's share of the board's (split by utilisation,
    else by memory, else evenly between holders).
    """

    key: str
    index: int
    model: str
    mem_bytes: int
    util_pct: float | None
    device_util_pct: float | None
    power_w: float | None
    energy_j: float
    fraction: float = 1.0
    memory_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(
            self, "key index model memory_total mem_bytes util_pct device_util_pct power_w fraction"
        )


@dataclass(frozen=True)
class TargetSample:
    """One target at one tick.

    ``cpu_seconds`` is cumulative (see :class:`ProcessUse`); ``cpu_delta`` the CPU
    used since this target's previous sample (0 on its first); ``interval`` the
    wall seconds since then (0 on the first); ``cpu_percent`` the CPU rate in
    percent of one core over the last window of at least
    :data:`~.merge.MIN_RATE_WINDOW` seconds that closed at or before this tick
    (0 until one has), never more than 100 x the machine's usable cores: a tick
    right after another makes no rate of its own (see :mod:`.merge`).
    """

    target_id: str
    target: Target
    time: float
    interval: float
    alive: bool
    cpu_seconds: float
    cpu_delta: float
    cpu_percent: float
    rss_bytes: int
    num_processes: int
    gpus: tuple[TargetGpu, ...] = ()

    @property
    def gpu_mem_bytes(self) -> int:
        return sum(g.mem_bytes for g in self.gpus)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_id": self.target_id,
            "pid": self.target.pid,
            **self.target.labels(),
            **fields_dict(
                self, "time interval alive cpu_seconds cpu_percent rss_bytes num_processes"
            ),
            "gpus": [g.to_dict() for g in self.gpus],
        }


@dataclass(frozen=True)
class Snapshot:
    """Everything one tick saw: every target, every GPU, and whether NVML is there at all."""

    time: float
    targets: Mapping[str, TargetSample]
    gpus: tuple[GpuDevice, ...] = ()
    gpu_available: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "gpu_available": self.gpu_available,
            "gpus": [g.to_dict() for g in self.gpus],
            "targets": {k: v.to_dict() for k, v in self.targets.items()},
        }
