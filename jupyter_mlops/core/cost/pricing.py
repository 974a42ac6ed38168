"""The pricing model: measured use in, money out.

Quantities (one :class:`Usage`, from one sample over its interval ``dt`` seconds)
----------------------------------------------------------------------------------

* ``cpu_core_seconds`` = CPU time the tree used (``TargetSample.cpu_delta``);
* ``cpu_alloc_core_seconds`` = ``max(reserved_cores * dt, cpu_core_seconds)``,
  ``reserved_cores`` from the target (``Target.cpu_cores``) else the model
  (default 0: CPU is allocated as it is used);
* ``ram_gb_seconds`` = RSS in GiB x ``dt`` (allocated = used: resident memory is held);
* per GPU held (a process of the tree has a context on it):
  ``held`` = ``dt x fraction`` (1, or a MIG slice's share),
  ``used`` = ``held x util / 100`` (``util`` unknown: ``used = held``),
  ``gpu_mem_gb_seconds`` = memory held in GiB x ``dt``;
* ``energy_j`` = the tree's share of each held GPU's measured board energy
  + ``cpu_core_seconds x cpu_watts_per_core`` (an estimate; 0 disables it).

Money (``h = 3600``)
--------------------

::

    allocated = cpu_core_hour * cpu_alloc/h + ram_gb_hour * ram/h
              + sum(gpu_hour[model] * held/h) + kwh * energy_j / 3.6e6
    used      = cpu_core_hour * cpu_used/h  + ram_gb_hour * ram/h
              + sum(gpu_hour[model] * used/h) + kwh * energy_j / 3.6e6
    waste     = allocated - used          (reported as idle cost)

Two ways to get the rates, both from the :class:`~.catalogue.Catalogue`:

* **per-resource** (default): the catalogue's ``rates`` and per-GPU-model
  hourly prices (unknown models: ``gpu_hour_default``), each overridable;
* **instance**: a whole machine at ``H`` per hour is split by share. With the
  catalogue's reference rates ``r``, ``scale = H / (vcpus*r_cpu +
  memory_gb*r_ram + gpus*r_gpu)`` and every rate is multiplied by ``scale``:
  holding the whole machine for an hour costs exactly ``H``, and each kernel
  pays for the share of cores, memory and GPUs it holds. What no kernel holds
  is not attributed to anyone.

:meth:`PricingModel.pricing_id` names the pricing for run tags, e.g.
``catalogue-2026-11:per-resource:USD`` or ``catalogue-2026-11:instance=aws/g5.xlarge:USD``
(``+custom`` after a part that was overridden).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from jupyter_mlops.core.cost.catalogue import GIB, Catalogue, InstanceOffer
from jupyter_mlops.core.cost.records import TargetSample
from jupyter_mlops.core.serial import fields_dict
from jupyter_mlops.exceptions import ConfigError

__all__ = ["Cost", "GpuUsage", "PricingModel", "Usage", "machine_instance"]

HOUR = 3600.0
J_PER_KWH = 3.6e6


@dataclass(frozen=True)
class GpuUsage:
    """Use of one GPU over an interval: seconds held (x fraction), utilisation-weighted seconds, GiB-seconds."""

    model: str
    held_seconds: float
    used_seconds: float
    mem_gb_seconds: float
    memory_total: int = 0


@dataclass(frozen=True)
class Usage:
    """What a target used over one interval (see the module docstring for each quantity)."""

    wall_seconds: float = 0.0
    cpu_core_seconds: float = 0.0
    cpu_alloc_core_seconds: float = 0.0
    ram_gb_seconds: float = 0.0
    gpus: tuple[GpuUsage, ...] = ()
    energy_j: float = 0.0
    rss_bytes: int = 0
    gpu_mem_bytes: int = 0
    cpu_percent: float = 0.0

    @property
    def gpu_seconds(self) -> float:
        return sum(g.held_seconds for g in self.gpus)

    @property
    def gpu_used_seconds(self) -> float:
        return sum(g.used_seconds for g in self.gpus)

    @property
    def gpu_mem_gb_seconds(self) -> float:
        return sum(g.mem_gb_seconds for g in self.gpus)


@dataclass(frozen=True)
class Cost:
    """Money for some use: ``allocated`` (what holding it costs), ``used`` (utilisation-weighted)."""

    allocated: float
    used: float
    currency: str

    @property
    def waste(self) -> float:
        return max(0.0, self.allocated - self.used)

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, "allocated used waste currency")


@dataclass(frozen=True)
class PricingModel:
    """Per-resource rates in one currency, and how they were obtained (for :meth:`pricing_id`)."""

    catalogue: Catalogue
    cpu_core_hour: float
    ram_gb_hour: float
    kwh: float
    gpu_hour_default: float
    gpu_hours: Mapping[str, float] = field(default_factory=dict)  # catalogue GPU key -> rate
    cpu_watts_per_core: float = 0.0
    reserved_cores: float = 0.0
    mode: str = "per-resource"
    instance: InstanceOffer | None = None
    customized: bool = False
    _gpu_cache: dict[tuple[str, int], float] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def currency(self) -> str:
        return self.catalogue.currency

    # -- construction -------------------------------------------------------------

    @classmethod
    def per_resource(
        cls,
        catalogue: Catalogue | None = None,
        *,
        rates: Mapping[str, float] | None = None,
        gpu_hours: Mapping[str, float] | None = None,
        reserved_cores: float = 0.0,
    ) -> PricingModel:
        """Rates from the catalogue, with ``rates`` (``cpu_core_hour``, ...) and ``gpu_hours`` overriding."""
        catalogue = catalogue or Catalogue.load()
        base = dict(catalogue.rates.__dict__)
        for name, value in (rates or {}).items():
            if name not in base:
                raise ConfigError(f"unknown rate {name!r}", hint=f"known: {', '.join(base)}")
            base[name] = float(value)
        hours = {k: g.hourly for k, g in catalogue.gpus.items()}
        hours.update({k: float(v) for k, v in (gpu_hours or {}).items()})
        return cls(
            catalogue=catalogue,
            gpu_hours=hours,
            reserved_cores=float(reserved_cores),
            customized=bool(rates or gpu_hours),
            **base,
        )

    @classmethod
    def for_instance(
        cls,
        instance: str | InstanceOffer,
        catalogue: Catalogue | None = None,
        *,
        reserved_cores: float = 0.0,
    ) -> PricingModel:
        """A whole instance's hourly price split by share (see the module docstring)."""
        catalogue = catalogue or Catalogue.load()
        if isinstance(instance, str):
            offer = catalogue.instances.get(instance)
            if offer is None:
                raise ConfigError(
                    f"unknown instance {instance!r} in the pricing catalogue",
                    hint="pick one of: " + ", ".join(sorted(catalogue.instances)),
                )
        else:
            offer = instance
        r = catalogue.rates
        gpu_rate = r.gpu_hour_default
        if offer.gpu is not None and offer.gpu in catalogue.gpus:
            gpu_rate = catalogue.gpus[offer.gpu].hourly
        reference = offer.vcpus * r.cpu_core_hour + offer.memory_gb * r.ram_gb_hour
        reference += offer.gpus * gpu_rate
        if reference <= 0:
            raise ConfigError(
                f"instance {offer.key!r}: cannot split its price (no cores, memory or GPUs)"
            )
        scale = offer.hourly / reference
        scaled_gpu = gpu_rate * scale
        return cls(
            catalogue=catalogue,
            cpu_core_hour=r.cpu_core_hour * scale,
            ram_gb_hour=r.ram_gb_hour * scale,
            kwh=r.kwh,
            gpu_hour_default=scaled_gpu,
            gpu_hours=dict.fromkeys(catalogue.gpus, scaled_gpu),
            cpu_watts_per_core=r.cpu_watts_per_core,
            reserved_cores=float(reserved_cores),
            mode="instance",
            instance=offer,
            customized=offer.key not in catalogue.instances,
        )

    # -- naming -------------------------------------------------------------------

    def pricing_id(self) -> str:
        """Tag-friendly name of this pricing: ``catalogue-2026-11:per-resource:USD``."""
        mode = self.mode if self.instance is None else f"instance={self.instance.key}"
        if self.customized:
            mode += "+custom"
        return f"{self.catalogue.label}:{mode}:{self.currency}"

    def describe(self) -> dict[str, Any]:
        """JSON-ready rates and provenance (for the panel and ``cost pricing``)."""
        return {
            "pricing_id": self.pricing_id(),
            "mode": self.mode,
            "instance": None if self.instance is None else self.instance.key,
            "currency": self.currency,
            "as_of": self.catalogue.as_of,
            "verified": self.catalogue.verified,
            "cpu_core_hour": self.cpu_core_hour,
            "ram_gb_hour": self.ram_gb_hour,
            "kwh": self.kwh,
            "gpu_hour_default": self.gpu_hour_default,
            "gpu_hours": dict(self.gpu_hours),
            "cpu_watts_per_core": self.cpu_watts_per_core,
        }

    # -- rates and prices ---------------------------------------------------------

    def gpu_rate(self, model: str, memory_total: int = 0) -> float:
        """Hourly rate of one whole GPU of the NVML model name ``model``."""
        key = (model, memory_total)
        rate = self._gpu_cache.get(key)
        if rate is None:
            offer = self.catalogue.gpu_for(model, memory_total or None)
            rate = self.gpu_hours.get(offer.key, offer.hourly) if offer else self.gpu_hour_default
            self._gpu_cache[key] = rate
        return rate

    def measure(self, sample: TargetSample, cpu: float | None = None) -> Usage:
        """The quantities of one sample's interval (zero on a target's first sample);
        ``cpu``: CPU seconds to count instead of the sample's ``cpu_delta``."""
        cpu = sample.cpu_delta if cpu is None else cpu
        dt = sample.interval
        if dt <= 0:
            return Usage(rss_bytes=sample.rss_bytes, gpu_mem_bytes=sample.gpu_mem_bytes)
        reserved = sample.target.cpu_cores
        reserved = self.reserved_cores if reserved is None else reserved
        gpus = []
        gpu_energy = 0.0
        for g in sample.gpus:
            held = dt * g.fraction
            used = held if g.util_pct is None else held * max(0.0, min(100.0, g.util_pct)) / 100.0
            board_memory = int(g.memory_total / g.fraction) if g.fraction > 0 else g.memory_total
            gpus.append(GpuUsage(g.model, held, used, g.mem_bytes / GIB * dt, board_memory))
            gpu_energy += g.energy_j
        return Usage(
            wall_seconds=dt,
            cpu_core_seconds=cpu,
            cpu_alloc_core_seconds=max(reserved * dt, cpu),
            ram_gb_seconds=sample.rss_bytes / GIB * dt,
            gpus=tuple(gpus),
            energy_j=gpu_energy + cpu * self.cpu_watts_per_core,
            rss_bytes=sample.rss_bytes,
            gpu_mem_bytes=sample.gpu_mem_bytes,
            cpu_percent=sample.cpu_percent,
        )

    def price(self, usage: Usage) -> Cost:
        """``allocated`` and ``used`` money for ``usage`` (formulas in the module docstring)."""
        ram = self.ram_gb_hour * usage.ram_gb_seconds / HOUR
        energy = self.kwh * usage.energy_j / J_PER_KWH
        gpu_alloc = gpu_used = 0.0
        for g in usage.gpus:
            rate = self.gpu_rate(g.model, g.memory_total)
            gpu_alloc += rate * g.held_seconds / HOUR
            gpu_used += rate * g.used_seconds / HOUR
        allocated = (
            self.cpu_core_hour * usage.cpu_alloc_core_seconds / HOUR + ram + gpu_alloc + energy
        )
        used = self.cpu_core_hour * usage.cpu_core_seconds / HOUR + ram + gpu_used + energy
        return Cost(allocated=allocated, used=min(used, allocated), currency=self.currency)

    def hourly(self, sample: TargetSample) -> Cost:
        """What this sample's rate of use costs per hour (the status bar's "$/h").

        CPU at the sample's windowed rate (``cpu_percent``, see :mod:`.merge`), not its
        own delta over its interval, which may be a few milliseconds.
        """
        if sample.interval <= 0:
            return Cost(0.0, 0.0, self.currency)
        cost = self.price(self.measure(sample, sample.cpu_percent / 100.0 * sample.interval))
        factor = HOUR / sample.interval
        return Cost(cost.allocated * factor, cost.used * factor, self.currency)

    def with_currency(self, currency: str, factor: float) -> PricingModel:
        """The same model with every price converted by ``factor`` into ``currency``."""
        return replace(
            self,
            catalogue=self.catalogue.converted(currency, factor),
            cpu_core_hour=self.cpu_core_hour * factor,
            ram_gb_hour=self.ram_gb_hour * factor,
            kwh=self.kwh * factor,
            gpu_hour_default=self.gpu_hour_default * factor,
            gpu_hours={k: v * factor for k, v in self.gpu_hours.items()},
            instance=None
            if self.instance is None
            else replace(self.instance, hourly=self.instance.hourly * factor),
            _gpu_cache={},
        )


def machine_instance(
    hourly: float,
    *,
    key: str = "this-machine",
    gpus: int = 0,
    gpu: str | None = None,
) -> InstanceOffer:
    """This machine as an instance at ``hourly``: the CPUs and memory this process may use
    (:func:`~.limits.usable_cores`, :func:`~.limits.usable_memory`)."""
    from jupyter_mlops.core.cost.limits import usable_cores, usable_memory

    return InstanceOffer(
        key=key,
        vcpus=usable_cores(),
        memory_gb=usable_memory() / GIB,
        hourly=float(hourly),
        gpus=gpus,
        gpu=gpu,
    )
