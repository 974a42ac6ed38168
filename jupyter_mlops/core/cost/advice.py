"""Right-sizing advice: peak use against what the machine offers and the catalogue sells.

::

    peaks = Peaks.from_totals(accountant.totals(run_id=rid))       # after a run
    advice = right_size(peaks, pricing, Machine.detect(sampler.latest()))
    print("\\n".join(advice.lines()))

Peaks are first capped at what the machine has (its usable cores and memory:
a measured figure above them is noise, e.g. shared pages counted once per
process). The need is the peak times ``headroom`` (1.2 by default): CPU cores
(the peak CPU rate, measured over windows of about a second, see
:mod:`.merge`), resident memory, and per-GPU memory on as many GPUs as were
held. A burstable instance (``baseline`` < 1) must also sustain the average
CPU times ``headroom``; a kernel that used no GPU is never offered a GPU
machine.

The verdict (``Advice.verdict``) compares the cheapest fitting instance with
what the current pricing charges for this machine (the instance price in
instance mode; cores, memory and GPUs at their per-resource rates otherwise):

* ``"cheaper"``: ``Advice.instance`` names it, with the hourly saving;
* ``"cheapest"``: nothing that fits costs less: the machine is already the
  cheapest fit, said so plainly (``instance`` is ``None``: never a dearer one);
* ``"none"``: no catalogued instance fits the peaks.

``Advice.gpu`` names a cheaper catalogued GPU whose memory fits (or ``"no
GPU"`` for a run that used none on a GPU machine, with the GPUs' price as the
saving). Peaks measured at 1 Hz miss shorter spikes; the headroom is there for that.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_mlops.core.cost.alerts import format_money
from jupyter_mlops.core.cost.catalogue import GIB, Catalogue, GpuOffer, InstanceOffer
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Snapshot, TargetSample
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.core.serial import fields_dict

__all__ = ["VERDICTS", "Advice", "Machine", "Peaks", "Suggestion", "right_size"]

VERDICTS = ("cheaper", "cheapest", "none")
"""``Advice.verdict``: a cheaper fit, already the cheapest fit, nothing fits."""


@dataclass(frozen=True)
class Peaks:
    """Peak use: cores busy, resident memory, GPU memory (all GPUs together) and GPUs held;
    ``cpu_average``: cores busy on average (``None``: unknown, the peak stands for it)."""

    cpu_cores: float = 0.0
    rss_bytes: int = 0
    gpu_mem_bytes: int = 0
    gpus: int = 0
    cpu_average: float | None = None

    @property
    def gpu_mem_per_gpu(self) -> float:
        return self.gpu_mem_bytes / self.gpus if self.gpus else 0.0

    @classmethod
    def from_totals(cls, totals: Totals) -> Peaks:
        """From ledger totals; GPUs held is the average GPU count over the time, rounded up."""
        gpus = 0
        if totals.gpu_seconds > 0 and totals.wall_seconds > 0:
            gpus = max(1, math.ceil(totals.gpu_seconds / totals.wall_seconds - 1e-6))
        wall = totals.wall_seconds
        return cls(
            cpu_cores=totals.peak_cpu_percent / 100.0,
            rss_bytes=totals.peak_rss_bytes,
            gpu_mem_bytes=totals.peak_gpu_mem_bytes,
            gpus=gpus,
            cpu_average=totals.cpu_core_seconds / wall if wall > 0 else None,
        )

    def within(self, machine: Machine) -> Peaks:
        """These peaks capped at what ``machine`` has (no measured figure can be more)."""
        cores = machine.cpu_cores
        average = None if self.cpu_average is None else min(self.cpu_average, cores)
        return replace(
            self,
            cpu_cores=min(self.cpu_cores, cores),
            rss_bytes=min(self.rss_bytes, machine.memory_bytes),
            cpu_average=average,
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
        """This machine: the cores and memory this process may use (CPU affinity, cgroup
        limits, the hardware), with the GPUs of ``snapshot`` (MIG slices folded into their board)."""
        from jupyter_mlops.core.cost.limits import usable_cores, usable_memory

        boards: dict[int, tuple[str, int]] = {}
        for g in snapshot.gpus if snapshot is not None else ():
            total = int(g.memory_total / g.fraction) if g.fraction > 0 else g.memory_total
            boards.setdefault(g.index, (g.model, total))
        return cls(
            cpu_cores=usable_cores(),
            memory_bytes=usable_memory(),
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
    """Peaks (capped at the machine), the machine, the current hourly price, the verdict
    (:data:`VERDICTS`) and the cheaper GPU and instance that fit, if any."""

    peaks: Peaks
    machine: Machine
    currency: str
    current_hourly: float
    headroom: float
    gpu: Suggestion | None = None
    instance: Suggestion | None = None
    notes: tuple[str, ...] = field(default=())
    verdict: str = "none"

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
            if s is not None:
                out.append(
                    f"{s.kind}: {s.name} would do ({s.detail}): {money(s.hourly)}/h instead of "
                    f"{money(s.current_hourly)}/h, saving {money(s.saving_per_hour)}/h"
                )
        if self.verdict == "cheapest":
            out.append(f"instance: {self._cheapest()}")
        out.extend(self.notes)
        return out

    def _cheapest(self) -> str:
        return (
            "already the cheapest fit: nothing catalogued that fits costs less than "
            f"the current {self._money(self.current_hourly)}/h"
        )

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
        if s is not None:
            text += (
                f" → cheapest fitting: {s.name} at {money(s.hourly)}/h, "
                f"saving {money(s.saving_per_hour)}/h vs current pricing"
            )
        elif self.verdict == "cheapest":
            text += f" → {self._cheapest()}"
        else:
            text += " → no catalogued instance fits"
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
            **fields_dict(self, "currency current_hourly headroom verdict"),
            "gpu": None if self.gpu is None else self.gpu.to_dict(),
            "instance": None if self.instance is None else self.instance.to_dict(),
            "notes": list(self.notes),
            "lines": self.lines(),
            "sentence": self.sentence(),
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
    """The verdict and the cheaper GPU and instance that fit ``peaks`` x ``headroom`` (module doc)."""
    machine = machine or Machine.detect()
    peaks = peaks.within(machine)
    catalogue = pricing.catalogue
    current, current_gpus = _machine_hourly(pricing, machine)
    notes: list[str] = []
    gpu_need = peaks.gpu_mem_per_gpu * headroom
    gpu: Suggestion | None = None
    if peaks.gpus:
        gpu = _cheaper_gpu(peaks, catalogue, gpu_need, pricing, machine, current_gpus, notes)
    elif machine.gpus:
        gpu = Suggestion("GPU", "no GPU", 0.0, current_gpus, detail="no GPU was used")

    fits = [i for i in catalogue.instances.values() if _fits(i, peaks, headroom, catalogue)]
    cheapest: InstanceOffer | None = min(fits, key=lambda i: (i.hourly, i.vcpus), default=None)
    instance: Suggestion | None = None
    if cheapest is None:
        verdict = "none"
        notes.append("no catalogued instance fits these peaks")
    elif cheapest.hourly < current:
        verdict = "cheaper"
        detail = f"{cheapest.vcpus:g} cores, {cheapest.memory_gb:g} GiB"
        if cheapest.gpus:
            detail += f", {cheapest.gpus} x {cheapest.gpu}"
        if cheapest.baseline < 1:
            detail += f", {cheapest.baseline:.0%} of each core sustained"
        instance = Suggestion("instance", cheapest.key, cheapest.hourly, current, detail)
    else:
        verdict = "cheapest"
    return Advice(
        peaks=peaks,
        machine=machine,
        currency=pricing.currency,
        current_hourly=current,
        headroom=headroom,
        gpu=gpu,
        instance=instance,
        notes=tuple(notes),
        verdict=verdict,
    )


def _cheaper_gpu(
    peaks: Peaks,
    catalogue: Catalogue,
    need: float,
    pricing: PricingModel,
    machine: Machine,
    current_gpus: float,
    notes: list[str],
) -> Suggestion | None:
    """The cheapest catalogued GPU with ``need`` bytes of memory, if cheaper than the held ones."""
    per_gpu_now = current_gpus / len(machine.gpus) if machine.gpus else pricing.gpu_hour_default
    fitting = [g for g in catalogue.gpus.values() if g.memory_bytes >= need]
    best: GpuOffer | None = min(fitting, key=lambda g: (g.hourly, g.memory_gb), default=None)
    if best is None:
        notes.append(f"no catalogued GPU has {need / GIB:.0f} GiB of memory")
        return None
    if best.hourly >= per_gpu_now:
        notes.append(f"GPU: already the cheapest fit ({need / GIB:.1f} GiB needed)")
        return None
    return Suggestion(
        kind="GPU",
        name=f"{peaks.gpus} x {best.key}" if peaks.gpus > 1 else best.key,
        hourly=best.hourly * peaks.gpus,
        current_hourly=per_gpu_now * peaks.gpus,
        detail=f"{best.memory_gb:g} GiB >= {need / GIB:.1f} GiB needed",
    )


def _fits(instance: InstanceOffer, peaks: Peaks, headroom: float, catalogue: Catalogue) -> bool:
    """Cores, memory, sustained CPU (burstable machines) and GPUs: none for a run that used none."""
    cores = max(1.0, peaks.cpu_cores * headroom)
    average = peaks.cpu_cores if peaks.cpu_average is None else peaks.cpu_average
    if instance.vcpus < cores or instance.memory_bytes < peaks.rss_bytes * headroom:
        return False
    if instance.vcpus * instance.baseline < average * headroom:
        return False
    if not peaks.gpus:
        return instance.gpus == 0
    offer = catalogue.gpus.get(instance.gpu or "")
    need = peaks.gpu_mem_per_gpu * headroom
    return instance.gpus >= peaks.gpus and offer is not None and offer.memory_bytes >= need
