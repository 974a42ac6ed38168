"""Take a snapshot of an installed Python environment: :func:`take_snapshot`.

Two ways to point at an environment:

* ``prefix=None`` (or the running interpreter's ``sys.prefix``): the running
  interpreter. Distributions are looked up along ``sys.path``, exactly where
  ``importlib.metadata`` looks, so ``.pth`` additions and legacy editable
  installs are included.
* ``prefix=Path(...)``: another environment (a venv, a conda prefix) on this
  machine, read without starting its interpreter: its ``site-packages``
  folders, what their ``.pth`` files add, and, for a venv created with
  ``--system-site-packages``, its base interpreter's ``site-packages``.
  The Python version comes from ``pyvenv.cfg``, ``conda-meta`` or the
  ``lib/pythonX.Y`` folder name; the platform block then leaves out the
  running interpreter's Python facts.

In a conda prefix, conda packages and channels come from ``conda-meta`` and
distributions that conda installed (``INSTALLER`` says ``conda``, or no
``INSTALLER`` but a conda package of the same name) are not repeated in the
``pip:`` section. Outside conda, the environment file lists ``conda-forge`` as
its channel (where ``python=X.Y`` and ``pip`` come from when the file is used
with conda, mamba or micromamba).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from jupyter_mlops.core.environment.model import (
    CondaPackage,
    EnvironmentSnapshot,
    PipPackage,
    normalize_name,
)
from jupyter_mlops.core.environment.pip_meta import (
    pth_paths,
    scan_distributions,
    site_dirs_of_prefix,
)
from jupyter_mlops.exceptions import NotFoundError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DEFAULT_CHANNELS", "take_snapshot"]

DEFAULT_CHANNELS = ("conda-forge",)
_GENERIC_ENV_NAMES = frozenset({"venv", "env", "virtualenv", ".venv", ".env", "envs"})
_NAME_BAD_CHARS = r"[^A-Za-z0-9._-]+"
_PYTHON_DIR = r"^python(\d+\.\d+)"


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _pyvenv_cfg(prefix: str) -> dict[str, str]:
    try:
        with open(os.path.join(prefix, "pyvenv.cfg"), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _python_version_of_prefix(cfg: dict[str, str], sites: list[str]) -> str:
    for key in ("version_info", "version"):
        value = cfg.get(key)
        if value:
            numbers = re.match(r"^(\d+\.\d+(\.\d+)?)", value)
            if numbers:
                return numbers.group(1)
    for site in sites:
        match = re.match(_PYTHON_DIR, os.path.basename(os.path.dirname(site)))
        if match:
            return match.group(1)
    return ""


def default_env_name(prefix: str) -> str:
    """A conda-valid environment name for ``prefix``.

    The folder name, or the parent's for generic names (``/work/proj/.venv``
    -> ``proj``); ``base`` for a conda root prefix.
    """
    prefix = os.path.abspath(prefix)
    if os.path.isdir(os.path.join(prefix, "conda-meta")) and os.path.isdir(
        os.path.join(prefix, "condabin")
    ):
        return "base"
    name = os.path.basename(prefix)
    parent = os.path.basename(os.path.dirname(prefix))
    if name.lower() in _GENERIC_ENV_NAMES and parent:
        name = parent
    return conda_env_name(name)


def conda_env_name(name: str) -> str:
    """``name`` with the characters conda does not accept in names (spaces, ``/``, ``:``,
    ``#``, ...) turned into ``-``; ``environment`` when nothing is left."""
    return re.sub(_NAME_BAD_CHARS, "-", name).strip("-.") or "environment"


def _path_entries(prefix: str, live: bool) -> tuple[list[str], str]:
    """Where to look for distributions, and the Python version (``""`` if unknown)."""
    if live:
        info = sys.version_info
        return list(sys.path), f"{info.major}.{info.minor}.{info.micro}"
    sites = site_dirs_of_prefix(prefix)
    cfg = _pyvenv_cfg(prefix)
    entries = list(sites)
    for site in sites:
        entries.extend(pth_paths(site))
    if cfg.get("include-system-site-packages", "").lower() == "true" and cfg.get("home"):
        base = os.path.dirname(os.path.abspath(cfg["home"]))
        for site in site_dirs_of_prefix(base):
            entries.append(site)
            entries.extend(pth_paths(site))
    return entries, _python_version_of_prefix(cfg, sites)


def _is_conda_managed(package: PipPackage, conda_names: set[str]) -> bool:
    if package.installer:
        return package.installer.lower() == "conda"
    return package.name in conda_names


def take_snapshot(
    prefix: Path | str | None = None,
    *,
    requested_only: bool = False,
    name: str | None = None,
    include_platform: bool = True,
) -> EnvironmentSnapshot:
    """Snapshot the environment at ``prefix`` (default: the running interpreter's).

    ``requested_only`` keeps only what the user asked for (pip's ``REQUESTED``
    marker, editable installs, conda's history), pinned: the portable form.
    ``name`` is the environment name to record (default: :func:`default_env_name`;
    characters conda does not accept in names become ``-``).
    ``include_platform=False`` skips the platform block.

    Raises :class:`~jupyter_mlops.exceptions.NotFoundError` when ``prefix`` is
    not a folder.
    """
    env_prefix = sys.prefix if prefix is None else os.path.abspath(os.path.expanduser(prefix))
    if not os.path.isdir(env_prefix):
        raise NotFoundError(
            f"no environment at {env_prefix}",
            hint="pass the folder of a virtualenv or conda environment (its sys.prefix)",
        )
    live = prefix is None or _same_path(env_prefix, sys.prefix)
    entries, python_version = _path_entries(env_prefix, live)
    conda = os.path.isdir(os.path.join(env_prefix, "conda-meta"))
    dists = scan_distributions(entries, read_installer=conda)

    conda_packages: list[CondaPackage] = []
    python_build = ""
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    python_record: list[CondaPackage] = []
    if conda:
        from jupyter_mlops.core.environment.conda import order_channels, read_conda_prefix

        record = read_conda_prefix(env_prefix)
        for package in record.packages:
            if package.name == "python":
                python_version = python_version if live else (package.version or "")
                python_build = package.build
                python_record.append(package)
            else:
                conda_packages.append(package)
        channels = order_channels(record.packages) or DEFAULT_CHANNELS
        conda_names = {normalize_name(p.name) for p in record.packages}
        pip_packages = [p for p in dists.values() if not _is_conda_managed(p, conda_names)]
    else:
        pip_packages = list(dists.values())

    if requested_only:
        conda_packages = [p for p in conda_packages if p.requested]
        pip_packages = [
            p
            for p in pip_packages
            if p.requested or (p.direct_url is not None and p.direct_url.kind == "editable")
        ]
        if conda:
            channels = order_channels([*python_record, *conda_packages]) or channels

    platform: dict[str, object] = {}
    if include_platform:
        from jupyter_mlops.core.environment.platform import collect_platform

        platform = collect_platform(include_python=live)
    return EnvironmentSnapshot(
        name=conda_env_name(name) if name else default_env_name(env_prefix),
        channels=channels,
        python_version=python_version,
        python_build=python_build,
        conda_packages=tuple(sorted(conda_packages, key=lambda p: p.name)),
        pip_packages=tuple(sorted(pip_packages, key=lambda p: p.name)),
        platform=platform,
        requested_only=requested_only,
        is_conda=conda,
        source="live",
    )
