"""One :class:`~.records.Snapshot` from the readings of one tick's sources.

GPU use is attributed to a target through the pids of its tree: memory is the
sum over its processes; utilisation, power and energy shares follow the rules
in :class:`~.records.TargetGpu`. CPU deltas and intervals come from each
target's :class:`Previous` sample, which :func:`merge_readings` keeps up to date.

CPU rates (``cpu_percent``) are made only over windows of at least
:data:`MIN_RATE_WINDOW` seconds: /proc counts CPU in 10 ms clock ticks, so one
tick seen in a 3 ms gap would read as 333%. A tick that comes sooner after the
window opened (the last tick of a meter that stops, a sampler at 0.2 s) adds
its CPU to the open window and repeats the last closed window's rate. CPU a
process had used before it was first seen (``ProcessUse.unseen_cpu``) is in the
deltas (it is booked) but in no rate. A rate is at most ``100 x cores`` (the
machine's usable cores, :func:`~.limits.usable_cores`): nothing can use more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jupyter_mlops.core.cost.records import ProcessUse, Snapshot, TargetGpu, TargetSample

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.records import GpuDevice, GpuProcess, Reading, Target

__all__ = ["MIN_RATE_WINDOW", "Previous", "cpu_rate", "merge_readings"]

MIN_RATE_WINDOW = 0.9
"""Seconds a CPU rate is measured over at least (a 1 Hz sampler's ticks, jitter allowed)."""


@dataclass(slots=True)
class Previous:
    """A target's previous sample (pid, when, cumulative CPU then), the open rate window
    (when it opened, the CPU then) and the rate of the last window closed (percent)."""

    pid: int
    time: float
    cpu_seconds: float
    window_time: float = 0.0
    window_cpu: float = 0.0
    rate: float = 0.0


def cpu_rate(cpu_seconds: float, span: float, cores: float | None = None) -> float | None:
    """``cpu_seconds`` over ``span`` wall seconds in percent of one core, at most
    ``100 x cores``; ``None`` when ``span`` is shorter than :data:`MIN_RATE_WINDOW`."""
    if not span >= MIN_RATE_WINDOW:
        return None
    rate = 100.0 * max(0.0, cpu_seconds) / span
    return rate if cores is None else min(rate, 100.0 * cores)


def merge_readings(
    now: float,
    targets: Mapping[str, Target],
    readings: Iterable[Reading],
    prev: dict[str, Previous] | None = None,
    *,
    cores: float | None = None,
) -> Snapshot:
    """One :class:`Snapshot` from the sources' readings; ``prev`` (updated) carries deltas
    and rate windows; ``cores`` caps the rates (see the module doc)."""
    processes: dict[str, ProcessUse] = {}
    gpus: list[GpuDevice] = []
    gpu_seen = False
    gpu_procs: list[GpuProcess] = []
    for reading in readings:
        processes.update(reading.processes)
        if reading.gpus is not None:
            gpu_seen = True
            gpus.extend(reading.gpus)
            gpu_procs.extend(reading.gpu_processes)
    per_target_gpus = _attribute_gpus(processes, gpus, gpu_procs)
    prev = {} if prev is None else prev
    for gone in set(prev) - set(targets):
        del prev[gone]
    samples: dict[str, TargetSample] = {}
    for target_id, target in targets.items():
        use = processes.get(target_id) or ProcessUse(frozenset(), 0.0, 0, alive=False)
        last = prev.get(target_id)
        if last is None or last.pid != target.pid:
            interval, delta = 0.0, 0.0
            last = Previous(target.pid, now, use.cpu_seconds, now + use.lag, use.cpu_seconds)
        else:
            interval = max(0.0, now - last.time)
            delta = max(0.0, use.cpu_seconds - last.cpu_seconds)
            _advance_window(last, now, use, cores)
        prev[target_id] = last
        samples[target_id] = TargetSample(
            target_id=target_id,
            target=target,
            time=now,
            interval=interval,
            alive=use.alive,
            cpu_seconds=use.cpu_seconds,
            cpu_delta=delta,
            cpu_percent=last.rate,
            rss_bytes=use.rss_bytes,
            num_processes=len(use.pids),
            gpus=tuple(_gpu_for(g, interval) for g in per_target_gpus.get(target_id, ())),
        )
    return Snapshot(
        time=now, targets=samples, gpus=tuple(gpus), gpu_available=gpu_seen and bool(gpus)
    )


def _advance_window(last: Previous, now: float, use: ProcessUse, cores: float | None) -> None:
    """Move ``last`` to ``now``; close the rate window if it is long enough (timed by
    when the tree was read: a tick slowed down before its reads skews no rate)."""
    last.time, last.cpu_seconds = now, use.cpu_seconds
    last.window_cpu += use.unseen_cpu  # found now, used before: no rate of it
    read = now + use.lag
    rate = cpu_rate(use.cpu_seconds - last.window_cpu, read - last.window_time, cores)
    if rate is not None:
        last.rate, last.window_time, last.window_cpu = rate, read, use.cpu_seconds


@dataclass(slots=True)
class _Held:
    device: GpuDevice
    mem: int = 0
    util: float | None = 0.0
    weight: float = 0.0


def _gpu_for(held: _Held, interval: float) -> TargetGpu:
    d = held.device
    energy = (d.energy_j or 0.0) * held.weight if interval > 0 else 0.0
    return TargetGpu(
        key=d.key,
        index=d.index,
        model=d.model,
        mem_bytes=held.mem,
        util_pct=None if held.util is None else min(100.0, held.util),
        device_util_pct=d.util_pct,
        power_w=None if d.power_w is None else d.power_w * held.weight,
        energy_j=energy,
        fraction=d.fraction,
        memory_total=d.memory_total,
    )


def _attribute_gpus(
    processes: Mapping[str, ProcessUse],
    gpus: Sequence[GpuDevice],
    gpu_procs: Sequence[GpuProcess],
) -> dict[str, list[_Held]]:
    """Which targets hold which GPUs, with their memory, utilisation and power weight."""
    # a pid in several trees (a target inside another's tree) belongs to the smallest one
    nested = sorted(processes.items(), key=lambda item: -len(item[1].pids))
    owner = {pid: tid for tid, use in nested for pid in use.pids}
    devices = {g.key: g for g in gpus}
    by_device: dict[str, list[GpuProcess]] = {}
    for p in gpu_procs:
        if p.device_key in devices:
            by_device.setdefault(p.device_key, []).append(p)
    out: dict[str, list[_Held]] = {}
    for key, procs in by_device.items():
        device = devices[key]
        groups: dict[str, list[GpuProcess]] = {}
        others: set[int] = set()  # untracked holders count as one group each
        for p in procs:
            tid = owner.get(p.pid)
            if tid is None:
                others.add(p.pid)
            else:
                groups.setdefault(tid, []).append(p)
        holders = len(groups) + len(others)
        total_mem = sum(p.mem_bytes for p in procs)
        per_process = all(p.sm_util_pct is not None for p in procs)
        total_util = sum(p.sm_util_pct or 0.0 for p in procs) if per_process else 0.0
        for tid, mine in groups.items():
            mem = sum(p.mem_bytes for p in mine)
            mem_share = mem / total_mem if total_mem else 1.0 / holders
            util: float | None
            if per_process:
                util = sum(p.sm_util_pct or 0.0 for p in mine)
            elif device.util_pct is None:
                util = None
            else:
                util = device.util_pct * (1.0 if holders == 1 else mem_share)
            weight = (util or 0.0) / total_util if per_process and total_util > 0 else mem_share
            held = _Held(device=device, mem=mem, util=util, weight=weight * device.fraction)
            out.setdefault(tid, []).append(held)
    return out
