"""Summed use and money with peaks: what the ledger stores per minute and every query answers."""

from __future__ import annotations

from dataclasses import dataclass, fields

from jupyter_mlops.core.cost.pricing import Cost, Usage

__all__ = ["MEASURES", "PEAKS", "Totals"]

#: Summed columns of a ledger row.
MEASURES = (
    "wall_seconds",
    "cpu_core_seconds",
    "cpu_alloc_core_seconds",
    "ram_gb_seconds",
    "gpu_seconds",
    "gpu_used_seconds",
    "gpu_mem_gb_seconds",
    "energy_j",
    "cost_allocated",
    "cost_used",
)
#: Maximum columns of a ledger row.
PEAKS = ("peak_rss_bytes", "peak_gpu_mem_bytes", "peak_cpu_percent")


@dataclass
class Totals:
    """Summed quantities and money, with peaks; what every query answers."""

    wall_seconds: float = 0.0
    cpu_core_seconds: float = 0.0
    cpu_alloc_core_seconds: float = 0.0
    ram_gb_seconds: float = 0.0
    gpu_seconds: float = 0.0
    gpu_used_seconds: float = 0.0
    gpu_mem_gb_seconds: float = 0.0
    energy_j: float = 0.0
    cost_allocated: float = 0.0
    cost_used: float = 0.0
    peak_rss_bytes: int = 0
    peak_gpu_mem_bytes: int = 0
    peak_cpu_percent: float = 0.0

    @property
    def cost_waste(self) -> float:
        return max(0.0, self.cost_allocated - self.cost_used)

    def add(self, usage: Usage, cost: Cost) -> None:
        """Book one interval's use and its price."""
        self.wall_seconds += usage.wall_seconds
        self.cpu_core_seconds += usage.cpu_core_seconds
        self.cpu_alloc_core_seconds += usage.cpu_alloc_core_seconds
        self.ram_gb_seconds += usage.ram_gb_seconds
        self.gpu_seconds += usage.gpu_seconds
        self.gpu_used_seconds += usage.gpu_used_seconds
        self.gpu_mem_gb_seconds += usage.gpu_mem_gb_seconds
        self.energy_j += usage.energy_j
        self.cost_allocated += cost.allocated
        self.cost_used += cost.used
        self.peak_rss_bytes = max(self.peak_rss_bytes, usage.rss_bytes)
        self.peak_gpu_mem_bytes = max(self.peak_gpu_mem_bytes, usage.gpu_mem_bytes)
        self.peak_cpu_percent = max(self.peak_cpu_percent, usage.cpu_percent)

    def merge(self, other: Totals) -> Totals:
        """Add ``other`` into this one (sums add, peaks take the larger); returns self."""
        for name in MEASURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in PEAKS:
            setattr(self, name, max(getattr(self, name), getattr(other, name)))
        return self

    def copy(self) -> Totals:
        return Totals().merge(self)

    def to_dict(self) -> dict[str, float]:
        out: dict[str, float] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["cost_waste"] = self.cost_waste
        return out
