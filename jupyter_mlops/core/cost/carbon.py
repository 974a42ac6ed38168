"""Carbon next to money: grid intensities (gCO2e per kWh) and the grams a workload emitted.

::

    carbon = intensity_for("DEU")             # Germany's mix, from the vendored table
    carbon.grams(energy_kwh=2.0)              # 761.9 (2 kWh x 380.95 g/kWh)
    intensity_for("gcp:europe-west1")         # a cloud region
    intensity_for("", override=120.0)         # the configured figure wins
    resolve_intensity("XYZ", 0.0, log)        # logs the ConfigError, gives the world average

The figures live in ``carbon_intensity.yaml`` beside this module: copied from
the tables CodeCarbon bundles (package, version, file names, dates and licence
are recorded at the top of that file; docs/carbon.md explains them). gCO2e is
``energy_kwh x intensity``: the energy is what the ledger books (measured GPU
energy from NVML where there is a GPU, estimated CPU energy from the catalogue's
watts per core), the intensity a yearly average of the grid, not the hour's.

``carbon_region`` is an ISO 3166 alpha-3 country code (``DEU``, any case) or a
``provider:region`` of the table (``gcp:us-east1``); empty means the world
average. An unknown region is a :class:`~jupyter_mlops.exceptions.ConfigError`
from :func:`intensity_for`; the server logs it and uses the world average
(:func:`resolve_intensity`). Kernels get the server's choice through
``$JUPYTER_MLOPS_CARBON_REGION`` / ``$JUPYTER_MLOPS_CARBON_INTENSITY``
(:func:`intensity_from_env`, what a run's end metrics use).
"""

from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops.exceptions import ConfigError

__all__ = [
    "ENV_CARBON_INTENSITY",
    "ENV_CARBON_REGION",
    "INTENSITY_FILE",
    "CarbonIntensity",
    "carbon_env",
    "intensity_for",
    "intensity_from_env",
    "resolve_intensity",
    "table",
]

INTENSITY_FILE = Path(__file__).with_name("carbon_intensity.yaml")
ENV_CARBON_REGION = "JUPYTER_MLOPS_CARBON_REGION"
ENV_CARBON_INTENSITY = "JUPYTER_MLOPS_CARBON_INTENSITY"
_log = logging.getLogger("jupyter_mlops.cost")


@dataclass(frozen=True)
class CarbonIntensity:
    """One grid intensity and where it came from.

    ``region``: ``""`` (world average), ``"DEU"``, ``"gcp:us-east1"``; ``name``: what a
    person reads (``Germany``); ``source``: the table and year, or ``configuration``.
    """

    g_per_kwh: float
    region: str = ""
    name: str = "world average"
    source: str = ""
    year: int | None = None

    def grams(self, energy_kwh: float) -> float:
        """gCO2e of ``energy_kwh`` kilowatt-hours at this intensity."""
        return energy_kwh * self.g_per_kwh

    def label(self) -> str:
        """``Germany (DEU), 380.95 gCO2e/kWh, codecarbon 3.3.2 (2023)``: for tags and reports."""
        where = f"{self.name} ({self.region})" if self.region else self.name
        return f"{where}, {self.g_per_kwh:g} gCO2e/kWh, {self.source}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "g_per_kwh": self.g_per_kwh,
            "region": self.region,
            "name": self.name,
            "source": self.source,
            "year": self.year,
        }


@functools.cache
def table() -> dict[str, Any]:
    """The vendored intensity table (parsed once)."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(INTENSITY_FILE.read_text(encoding="utf-8"))
    return data


def _source(year: int | None = None) -> str:
    src = table()["source"]
    base = f"{src['package']} {src['version']}"
    return f"{base} ({year})" if year else base


def world_average() -> CarbonIntensity:
    """The table's world average (CodeCarbon's, from the IEA)."""
    return CarbonIntensity(float(table()["world_average"]), source=_source())


def intensity_for(region: str = "", override: float = 0.0) -> CarbonIntensity:
    """The intensity of ``region`` (see the module doc), or ``override`` g/kWh when above 0.

    Raises :class:`ConfigError` (with a hint) for a region the table does not have
    or an override that is not a finite number.
    """
    region = (region or "").strip()
    if override:
        if not math.isfinite(override) or override < 0:
            raise ConfigError(
                f"carbon_intensity {override!r} is not a number of gCO2e per kWh",
                hint="set c.MlopsConfig.carbon_intensity to a positive number, or 0 to use "
                "carbon_region",
            )
        return CarbonIntensity(float(override), region, "configured", "configuration")
    if not region:
        return world_average()
    data = table()
    if ":" in region:
        provider, _, name = region.partition(":")
        key = f"{provider.strip().lower()}:{name.strip().lower()}"
        entry = data["cloud"].get(key)
        if entry is None:
            providers = sorted({k.split(":", 1)[0] for k in data["cloud"]})
            raise ConfigError(
                f"carbon_region {region!r} is not in the intensity table",
                hint=f"the table has cloud regions of {', '.join(providers)} (e.g. "
                f"gcp:us-east1); for another provider set the region's country code "
                f"(USA, DEU, ...) or carbon_intensity in gCO2e/kWh",
            )
        country = data["countries"].get(entry["country"], {})
        name = f"{country.get('name', entry['country'])}, {provider.strip().lower()}"
        return CarbonIntensity(float(entry["g_per_kwh"]), key, name, _source())
    code = region.upper()
    entry = data["countries"].get(code)
    if entry is None:
        raise ConfigError(
            f"carbon_region {region!r} is not a country of the intensity table",
            hint="use an ISO 3166 alpha-3 code (DEU, USA, FRA, GBR, IND), a cloud region "
            "such as gcp:europe-west1, or set carbon_intensity in gCO2e/kWh",
        )
    year = int(entry["year"])
    return CarbonIntensity(float(entry["g_per_kwh"]), code, str(entry["name"]), _source(year), year)


def resolve_intensity(
    region: str = "", override: float = 0.0, log: logging.Logger | None = None
) -> CarbonIntensity:
    """:func:`intensity_for`, but a bad setting is logged (one error) and gives the world average."""
    try:
        return intensity_for(region, override)
    except ConfigError as exc:
        (log or _log).error(
            "jupyter-mlops: %s; gCO2e use the world average (%g g/kWh)",
            exc,
            world_average().g_per_kwh,
        )
        return world_average()


def carbon_env(region: str, override: float) -> dict[str, str]:
    """The environment that gives kernels this server's carbon setting."""
    env = {ENV_CARBON_REGION: region} if region else {}
    if override:
        env[ENV_CARBON_INTENSITY] = repr(float(override))
    return env


def intensity_from_env(log: logging.Logger | None = None) -> CarbonIntensity:
    """The intensity ``$JUPYTER_MLOPS_CARBON_REGION`` / ``_INTENSITY`` name (world average if unset)."""
    raw = os.environ.get(ENV_CARBON_INTENSITY, "")
    try:
        override = float(raw) if raw else 0.0
    except ValueError:
        override = math.nan
    return resolve_intensity(os.environ.get(ENV_CARBON_REGION, ""), override, log)
