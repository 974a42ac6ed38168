"""The pricing catalogue: dated per-resource rates, GPU and instance prices, from YAML.

The packaged ``catalogue.yaml`` (next to this module) is the default; a user
file is merged over it key by key (``null`` removes an entry), and so is a
mapping of overrides from traitlets config::

    cat = Catalogue.load()                                   # packaged
    cat = Catalogue.load("prices.yaml", overrides={"rates": {"kwh": 0.3}})
    cat.gpu_for("NVIDIA A100-SXM4-80GB")                     # GpuOffer A100-80GB
    cat.label                                                # "catalogue-2026-11"

Every GPU and instance carries its own ``as_of`` date and ``source`` (the
pricing page its price was taken from); an entry without them gets the
catalogue's ``as_of`` and ``sources``, and an entry a user file or override
sets or changes is credited to that file (or "configuration"), dated with the
file's ``as_of`` if it has one. Bad files raise
:class:`~jupyter_mlops.exceptions.ConfigError` naming the file and key. Nothing
here touches psutil or NVML.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_mlops.core.serial import fields_dict
from jupyter_mlops.exceptions import ConfigError

__all__ = [
    "CATALOGUE_FILE",
    "Catalogue",
    "GpuOffer",
    "InstanceOffer",
    "Rates",
    "merge_overrides",
    "normalize_gpu_name",
]

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")
GIB = float(1 << 30)


@dataclass(frozen=True)
class Rates:
    """Per-resource prices, in the catalogue's currency."""

    cpu_core_hour: float = 0.0
    ram_gb_hour: float = 0.0
    kwh: float = 0.0
    gpu_hour_default: float = 0.0
    cpu_watts_per_core: float = 0.0


class _Memory:
    """``memory_bytes`` of an offer's ``memory_gb``."""

    memory_gb: float

    @property
    def memory_bytes(self) -> int:
        return int(self.memory_gb * GIB)


@dataclass(frozen=True)
class GpuOffer(_Memory):
    """One GPU model: memory, hourly price, the name patterns that recognise it, and
    when (``as_of``) and where (``source``) the price was taken."""

    key: str
    memory_gb: float
    hourly: float
    match: tuple[str, ...] = ()
    as_of: str = ""
    source: str = ""


@dataclass(frozen=True)
class InstanceOffer(_Memory):
    """A whole machine at an hourly price: cores, memory, and ``gpus`` x ``gpu`` (a GPU key).

    ``baseline``: the share of each vCPU it sustains (burstable machines: AWS t3,
    GCP e2 shared-core, Azure B; 1.0 otherwise). ``as_of`` / ``source``: when and
    where the price was taken.
    """

    key: str
    vcpus: float
    memory_gb: float
    hourly: float
    gpus: int = 0
    gpu: str | None = None
    baseline: float = 1.0
    as_of: str = ""
    source: str = ""


@dataclass(frozen=True)
class Catalogue:
    """Dated rates, GPUs and instances in one currency (see ``catalogue.yaml`` for the fields)."""

    name: str
    as_of: str
    currency: str
    rates: Rates
    gpus: Mapping[str, GpuOffer] = field(default_factory=dict)
    instances: Mapping[str, InstanceOffer] = field(default_factory=dict)
    notes: str = ""
    sources: tuple[str, ...] = ()
    verified: bool = False
    customized: bool = False

    @property
    def label(self) -> str:
        """``<name>-<year-month of as_of>`` (``catalogue-2026-11``), ``+custom`` when overridden."""
        base = f"{self.name}-{self.as_of[:7]}" if self.as_of else self.name
        return base + ("+custom" if self.customized else "")

    # -- loading ------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
    ) -> Catalogue:
        """The packaged catalogue, with the YAML file at ``path`` and then ``overrides`` merged over it."""
        data = _read_yaml(CATALOGUE_FILE)
        customized = False
        if path:
            data = merge_overrides(data, _credited(_read_yaml(Path(path)), str(path)))
            customized = True
        if overrides:
            data = merge_overrides(data, _credited(overrides, "configuration"))
            customized = True
        where = str(path) if path else "the pricing configuration"
        catalogue = cls.from_dict(data, where=where)
        return replace(catalogue, customized=customized) if customized else catalogue

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "catalogue") -> Catalogue:
        """Build and validate a catalogue from plain data (a parsed YAML document)."""
        rates_data = _mapping(data.get("rates") or {}, f"{where}: rates")
        rates = Rates(
            **{
                name: _number(rates_data.get(name, 0.0), f"{where}: rates.{name}")
                for name in Rates.__dataclass_fields__
            }
        )
        unknown = set(rates_data) - set(Rates.__dataclass_fields__)
        if unknown:
            raise ConfigError(
                f"{where}: unknown rates {sorted(unknown)}",
                hint=f"known rates: {', '.join(Rates.__dataclass_fields__)}",
            )
        as_of = str(data.get("as_of") or "")
        sources = tuple(str(s) for s in data.get("sources") or ())
        dated = {"as_of": as_of, "source": ", ".join(sources)}  # what an entry lacks
        gpus = {key: _gpu(key, entry, where) for key, entry in _entries(data, "gpus", where, dated)}
        instances = {
            key: _instance(key, entry, where, gpus)
            for key, entry in _entries(data, "instances", where, dated)
        }
        currency = str(data.get("currency") or "USD").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ConfigError(
                f"{where}: currency {currency!r} is not a 3-letter code (USD, EUR, ...)"
            )
        return cls(
            name=str(data.get("name") or "catalogue"),
            as_of=as_of,
            currency=currency,
            rates=rates,
            gpus=gpus,
            instances=instances,
            notes=str(data.get("notes") or ""),
            sources=sources,
            verified=bool(data.get("verified", False)),
        )

    # -- use ----------------------------------------------------------------------

    def gpu_for(self, device_name: str, memory_bytes: int | None = None) -> GpuOffer | None:
        """The catalogued GPU an NVML device name (and memory size) is, or ``None``."""
        return _match_gpu(self, device_name, memory_bytes)

    def converted(self, currency: str, factor: float) -> Catalogue:
        """Every price multiplied by ``factor`` and labelled ``currency`` (EUR from USD, ...)."""
        currency = currency.upper()
        if factor <= 0 or not math.isfinite(factor):
            raise ConfigError(f"currency conversion factor must be positive, not {factor}")
        r = self.rates
        return replace(
            self,
            currency=currency,
            rates=replace(
                r,
                cpu_core_hour=r.cpu_core_hour * factor,
                ram_gb_hour=r.ram_gb_hour * factor,
                kwh=r.kwh * factor,
                gpu_hour_default=r.gpu_hour_default * factor,
            ),
            gpus={k: replace(g, hourly=g.hourly * factor) for k, g in self.gpus.items()},
            instances={k: replace(i, hourly=i.hourly * factor) for k, i in self.instances.items()},
            customized=True,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the panel's pricing view and ``cost catalogue``)."""
        return {
            **fields_dict(self, "name label as_of currency verified notes"),
            "sources": list(self.sources),
            "rates": dict(self.rates.__dict__),
            "gpus": {
                k: fields_dict(g, "memory_gb hourly as_of source") for k, g in self.gpus.items()
            },
            "instances": {
                k: fields_dict(i, "vcpus memory_gb hourly gpus gpu baseline as_of source")
                for k, i in self.instances.items()
            },
        }


def merge_overrides(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in: mappings recursively, ``None`` deletes, else replaces."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = value
    return out


def _credited(document: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``document`` (a user file or overrides) with each GPU and instance it sets credited
    to ``source`` and dated with its ``as_of`` (else the catalogue's), unless it says."""
    out = dict(document)
    for section in ("gpus", "instances"):
        entries = out.get(section)
        if not isinstance(entries, Mapping):
            continue
        stamp = {"source": source, "as_of": document.get("as_of")}  # None: the catalogue's
        out[section] = {
            key: {**stamp, **entry} if isinstance(entry, Mapping) else entry
            for key, entry in entries.items()
        }
    return out


def normalize_gpu_name(name: str) -> str:
    """``"NVIDIA A100-SXM4-80GB"`` -> ``"a100 sxm4 80gb"``: what catalogue patterns are matched against."""
    text = re.sub(r"[-_/]", " ", name.lower())
    text = re.sub(r"\b(nvidia|tesla|geforce)\b", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _match_gpu(catalogue: Catalogue, device_name: str, memory_bytes: int | None) -> GpuOffer | None:
    name = normalize_gpu_name(device_name)
    if " mig " in f" {name} ":  # "a100 sxm4 40gb mig 1g.5gb": price the board, not the slice name
        name = name.split(" mig ")[0]
    found = [g for g in catalogue.gpus.values() if any(_compiled(p).search(name) for p in g.match)]
    if not found:
        return catalogue.gpus.get(device_name)
    if len(found) > 1:
        size = re.search(r"\b(\d+)\s?gb\b", name)
        wanted = float(size.group(1)) if size else (memory_bytes or 0) / GIB
        if wanted > 0:
            found.sort(key=lambda g: abs(g.memory_gb - wanted))
    return found[0]


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # not at import time: only pricing set-up needs it

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the pricing catalogue {path}: {exc.strerror or exc}",
            hint="check cost_catalogue_file in your jupyter-mlops configuration",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    return _mapping(data, str(path))


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _entries(
    data: Mapping[str, Any], section: str, where: str, dated: Mapping[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """The entries of ``data[section]``, each with ``dated``'s keys where it has none."""
    out = []
    for key, value in _mapping(data.get(section) or {}, f"{where}: {section}").items():
        if value is not None:
            entry = _mapping(value, f"{where}: {section}.{key}")
            out.append((key, {**dated, **{k: v for k, v in entry.items() if v is not None}}))
    return out


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number, not {value!r}")
    number = float(value)
    if number < 0 or not math.isfinite(number):
        raise ConfigError(f"{where} must be a finite number >= 0, not {value!r}")
    return number


def _gpu(key: str, data: Mapping[str, Any], where: str) -> GpuOffer:
    patterns = data.get("match") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    for pattern in patterns:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise ConfigError(
                f"{where}: gpus.{key}.match {pattern!r} is not a regex: {exc}"
            ) from exc
    return GpuOffer(
        key=key,
        memory_gb=_number(data.get("memory_gb", 0), f"{where}: gpus.{key}.memory_gb"),
        hourly=_number(data.get("hourly"), f"{where}: gpus.{key}.hourly"),
        match=tuple(str(p) for p in patterns),
        as_of=str(data.get("as_of") or ""),
        source=str(data.get("source") or ""),
    )


def _instance(
    key: str, data: Mapping[str, Any], where: str, gpus: Mapping[str, GpuOffer]
) -> InstanceOffer:
    gpu = data.get("gpu")
    count = int(_number(data.get("gpus", 0), f"{where}: instances.{key}.gpus"))
    if count and (gpu is None or str(gpu) not in gpus):
        raise ConfigError(
            f"{where}: instances.{key}.gpu {gpu!r} is not a GPU of the catalogue",
            hint=f"known GPUs: {', '.join(sorted(gpus))}",
        )
    baseline = _number(data.get("baseline", 1.0), f"{where}: instances.{key}.baseline")
    if not 0 < baseline <= 1:
        raise ConfigError(
            f"{where}: instances.{key}.baseline must be a share of each vCPU in (0, 1], "
            f"not {baseline:g}",
            hint="burstable machines sustain e.g. 0.2 (20% of each vCPU); others 1.0",
        )
    return InstanceOffer(
        key=key,
        vcpus=_number(data.get("vcpus"), f"{where}: instances.{key}.vcpus"),
        memory_gb=_number(data.get("memory_gb"), f"{where}: instances.{key}.memory_gb"),
        hourly=_number(data.get("hourly"), f"{where}: instances.{key}.hourly"),
        gpus=count,
        gpu=str(gpu) if count else None,
        baseline=baseline,
        as_of=str(data.get("as_of") or ""),
        source=str(data.get("source") or ""),
    )
