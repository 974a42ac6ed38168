"""Right-sizing advice: peak use against what the machine offers and the catalogue sells.

::

    peaks = Peaks.from_totals(accountant.totals(run_id=rid))       # after a run
    advice = right_size(peaks, pricing, Machine.detect(sampler.latest()))
    print("\\n".join(advice.lines()))

The need is the peak times ``headroom`` (1.2 by default): CPU cores (peak CPU
percent / 100), resident memory, and per-GPU memory on as many GPUs as were
held. The advice names the cheapest catalogued GPU whose memory fits, and the
cheapest catalogued instance whose cores, memory and GPUs fit, each with the
hourly saving against what the current pricing charges for the machine (the
instance price in instance mode; cores, memory and GPUs at their per-resource
rates otherwise). A run that used no GPU on a GPU machine is told so, with the
GPUs' price as the saving. Peaks measured at 1 Hz miss shorter spikes; the
headroom is there for that.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlops.core.cost.alerts import format_money
from jupyter_mlops.core.cost.catalogue import GIB, GpuOffer, InstanceOffer
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Snapshot, TargetSample
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.core.serial import fields_dict

__all__ = ["Advice", "Machine", "Peaks", "Suggestion", "right_size"]


@dataclass(frozen=True)
class Peaks:
    """Peak use: cores busy, resident memory, GPU memory (all GPUs together) and GPUs held."""

    cpu_cores: float = 0.0
    rss_bytes: int = 0
    gpu_mem_bytes: int = 0
    gpus: int = 0

    @property
    def gpu_mem_per_gpu(self) -> float:
        return self.gpu_mem_bytes / self.gpus if self.gpus else 0.0

    @classmethod
    def from_totals(cls, totals: Totals) -> Peaks:
        """From ledger totals; GPUs held is the average GPU count over the time, rounded up."""
        gpus = 0
        if totals.gpu_seconds > 0 and totals.wall_seconds > 0:
            gpus = max(1, math.ceil(totals.gpu_seconds / totals.wall_seconds - 1e-6))
        return cls(
            cpu_cores=totals.peak_cpu_percent / 100.0,
            rss_bytes=totals.peak_rss_bytes,
            gpu_mem_bytes=totals.peak_gpu_mem_bytes,
            gpus=gpus,
        )

    @classmethod
    def from_samples(cls, samples: Iterable[TargetSample]) -> Peaks:
        """From a series of samples of one target."""
        cores = 0.0
        rss = mem = gpus = 0
        for s in samples:
            cores = max(cores, s.cpu_percent / 100.0)
            rss = max(rss, s.rss_bytes)
            mem = max(mem, s.gpu_mem_bytes)
            gpus = max(gpus, len(s.gpus))
        return cls(cores, rss, mem, gpus)


@dataclass(frozen=True)
class Machine:
    """What this machine offers: cores, memory, and its GPUs as ``(model, memory bytes)``."""

    cpu_cores: float
    memory_bytes: int
    gpus: tuple[tuple[str, int], ...] = ()

    @classmethod
    def detect(cls, snapshot: Snapshot | None = None) -> Machine:
        """This machine (psutil), with the GPUs of ``snapshot`` (MIG slices folded into their board)."""
        import psutil

        boards: dict[int, tuple[str, int]] = {}
        for g in snapshot.gpus if snapshot is not None else ():
            total = int(g.memory_total / g.fraction) if g.fraction > 0 else g.memory_total
            boards.setdefault(g.index, (g.model, total))
        return cls(
            cpu_cores=float(psutil.cpu_count() or 1),
            memory_bytes=int(psutil.virtual_memory().total),
            gpus=tuple(boards[i] for i in sorted(boards)),
        )


@dataclass(frozen=True)
class Suggestion:
    """A cheaper fit: ``name`` (catalogue key, or ``"no GPU"``) at ``hourly`` instead of ``current_hourly``."""

    kind: str
    name: str
    hourly: float
    current_hourly: float
    detail: str = ""

    @property
    def saving_per_hour(self) -> float:
        return max(0.0, self.current_hourly - self.hourly)

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, "kind name hourly current_hourly saving_per_hour detail")


@dataclass(frozen=True)
class Advice:
    """Peaks, the machine, the current hourly price, and the cheapest GPU and instance that fit."""

    peaks: Peaks
    machine: Machine
    currency: str
    current_hourly: float
    headroom: float
    gpu: Suggestion | None = None
    instance: Suggestion | None = None
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """Plain-text advice, one finding per line."""
        p, m = self.peaks, self.machine
        money = self._money
        peak = f"peak use: {p.cpu_cores:.1f} cores, {p.rss_bytes / GIB:.1f} GiB RAM"
        if p.gpus:
            peak += f", {p.gpu_mem_per_gpu / GIB:.1f} GiB GPU memory on each of {p.gpus} GPU(s)"
        offered = f"machine: {m.cpu_cores:g} cores, {m.memory_bytes / GIB:.0f} GiB RAM"
        if m.gpus:
            offered += ", " + ", ".join(f"{name} ({mem / GIB:.0f} GiB)" for name, mem in m.gpus)
        out = [peak, f"{offered}; {money(self.current_hourly)}/h at current pricing"]
        for s in (self.gpu, self.instance):
            if s is None:
                continue
            if s.saving_per_hour > 0:
                out.append(
                    f"{s.kind}: {s.name} would do ({s.detail}): {money(s.hourly)}/h instead of "
                    f"{money(s.current_hourly)}/h, saving {money(s.saving_per_hour)}/h"
                )
            else:
                out.append(f"{s.kind}: nothing cheaper in the catalogue fits ({s.detail})")
        out.extend(self.notes)
        return out

    def sentence(self, cpu: str = "CPU peak") -> str:
        """One line: peaks against the machine, then the cheapest fit and its saving.

        ``peak RAM 1.2 GiB of 23 GiB, CPU peak 1.0 cores of 2, no GPU used → cheapest
        fitting: m7i.large at $0.10/h, saving $0.05/h vs current pricing`` (``cpu`` names
        the CPU figure, e.g. ``"CPU average"`` when only an average is known).
        """
        p, m, money = self.peaks, self.machine, self._money
        parts = [
            f"peak RAM {p.rss_bytes / GIB:.1f} GiB of {m.memory_bytes / GIB:.0f} GiB",
            f"{cpu} {p.cpu_cores:.1f} cores of {m.cpu_cores:g}",
        ]
        if p.gpus:
            offered = sum(mem for _, mem in m.gpus)
            of = f" of {offered / GIB:.0f} GiB" if offered else ""
            parts.append(f"GPU memory peak {p.gpu_mem_bytes / GIB:.1f} GiB{of} on {p.gpus} GPU(s)")
        else:
            parts.append("no GPU used")
        text = ", ".join(parts)
        s = self.instance
        if s is None:
            text += " → no catalogued instance fits"
        elif s.saving_per_hour > 0:
            text += (
                f" → cheapest fitting: {s.name} at {money(s.hourly)}/h, "
                f"saving {money(s.saving_per_hour)}/h vs current pricing"
            )
        else:
            text += (
                f" → cheapest fitting: {s.name} at {money(s.hourly)}/h, no saving vs "
                f"current pricing ({money(s.current_hourly)}/h)"
            )
        g = self.gpu
        if g is not None and g.saving_per_hour > 0:
            text += f"; GPU: {g.name} would save {money(g.saving_per_hour)}/h"
        return text

    def _money(self, amount: float) -> str:
        return format_money(amount, self.currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "peaks": {**self.peaks.__dict__, "gpu_mem_per_gpu": self.peaks.gpu_mem_per_gpu},
            "machine": {
                "cpu_cores": self.machine.cpu_cores,
                "memory_bytes": self.machine.memory_bytes,
                "gpus": [{"model": n, "memory_bytes": b} for n, b in self.machine.gpus],
            },
            **fields_dict(self, "currency current_hourly headroom"),
            "gpu": None if self.gpu is None else self.gpu.to_dict(),
            "instance": None if self.instance is None else self.instance.to_dict(),
            "lines": self.lines(),
        }


def _machine_hourly(pricing: PricingModel, machine: Machine) -> tuple[float, float]:
    """(whole machine, its GPUs) per hour under ``pricing``."""
    gpus = sum(pricing.gpu_rate(name, mem) for name, mem in machine.gpus)
    if pricing.instance is not None:
        return pricing.instance.hourly, gpus
    rest = machine.cpu_cores * pricing.cpu_core_hour
    rest += machine.memory_bytes / GIB * pricing.ram_gb_hour
    return rest + gpus, gpus


def right_size(
    peaks: Peaks,
    pricing: PricingModel,
    machine: Machine | None = None,
    *,
    headroom: float = 1.2,
) -> Advice:
    """The cheapest catalogued GPU and instance that fit ``peaks`` x ``headroom``, with the saving."""
    machine = machine or Machine.detect()
    catalogue = pricing.catalogue
    current, current_gpus = _machine_hourly(pricing, machine)
    cores = max(1.0, peaks.cpu_cores * headroom)
    ram = peaks.rss_bytes * headroom
    gpu_need = peaks.gpu_mem_per_gpu * headroom
    notes: list[str] = []

    gpu: Suggestion | None = None
    if peaks.gpus:
        per_gpu_now = current_gpus / len(machine.gpus) if machine.gpus else pricing.gpu_hour_default
        fitting = [g for g in catalogue.gpus.values() if g.memory_bytes >= gpu_need]
        best: GpuOffer | None = min(fitting, key=lambda g: (g.hourly, g.memory_gb), default=None)
        if best is None:
            notes.append(f"no catalogued GPU has {gpu_need / GIB:.0f} GiB of memory")
        else:
            gpu = Suggestion(
                kind="GPU",
                name=f"{peaks.gpus} x {best.key}" if peaks.gpus > 1 else best.key,
                hourly=best.hourly * peaks.gpus,
                current_hourly=per_gpu_now * peaks.gpus,
                detail=f"{best.memory_gb:g} GiB >= {gpu_need / GIB:.1f} GiB needed",
            )
    elif machine.gpus:
        gpu = Suggestion("GPU", "no GPU", 0.0, current_gpus, detail="no GPU was used")

    fits = [
        i
        for i in catalogue.instances.values()
        if i.vcpus >= cores
        and i.memory_bytes >= ram
        and _gpus_fit(i, peaks, gpu_need, catalogue.gpus)
    ]
    cheapest: InstanceOffer | None = min(fits, key=lambda i: (i.hourly, i.vcpus), default=None)
    instance: Suggestion | None = None
    if cheapest is None:
        notes.append("no catalogued instance fits these peaks")
    else:
        detail = f"{cheapest.vcpus:g} cores, {cheapest.memory_gb:g} GiB"
        if cheapest.gpus:
            detail += f", {cheapest.gpus} x {cheapest.gpu}"
        instance = Suggestion("instance", cheapest.key, cheapest.hourly, current, detail)
    return Advice(
        peaks=peaks,
        machine=machine,
        currency=pricing.currency,
        current_hourly=current,
        headroom=headroom,
        gpu=gpu,
        instance=instance,
        notes=tuple(notes),
    )


def _gpus_fit(instance: InstanceOffer, peaks: Peaks, gpu_need: float, gpus: Any) -> bool:
    if not peaks.gpus:
        return True
    if instance.gpus < peaks.gpus or instance.gpu is None:
        return False
    offer = gpus.get(instance.gpu)
    return offer is not None and offer.memory_bytes >= gpu_need
