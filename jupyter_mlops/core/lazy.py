"""Packages whose names resolve to their module on first use.

A package lists ``name -> module`` once and forwards its module-level hooks::

    _HOME = {"Sampler": "sampler", ...}

    def __getattr__(name: str) -> Any:
        return lazy_attribute(__name__, _HOME, name)

    def __dir__() -> list[str]:
        return lazy_dir(__name__, __all__)

Importing the package then stays cheap: a module (and what it imports, psutil,
SQLAlchemy, ...) loads only when one of its names is first used.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_attribute", "lazy_dir"]


def lazy_attribute(package: str, home: Mapping[str, str], name: str) -> Any:
    """``name`` from its module ``package.<home[name]>`` (or ``home[name]`` when it is a full
    ``jupyter_mlops.`` module name), kept on the package for next time."""
    module = home.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    # a sibling module by its short name, or another package's module by its full name
    full = module if module.startswith("jupyter_mlops.") else f"{package}.{module}"
    value = getattr(import_module(full), name)
    vars(sys.modules[package])[name] = value
    return value


def lazy_dir(package: str, names: Iterable[str]) -> list[str]:
    """What the package holds now and every name it resolves lazily."""
    return sorted(set(vars(sys.modules[package])) | set(names))
