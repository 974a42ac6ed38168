"""Installed Python distributions, read from the ``*.dist-info`` folders themselves.

``importlib.metadata`` parses every ``METADATA`` file (about 85 ms for 200
distributions); ``pip freeze`` starts pip (about 270 ms). The facts a snapshot
needs are cheaper to get:

* name and version from the folder name, ``{name}-{version}.dist-info``
  (wheel spec: ``-`` in either part is escaped, so exactly one ``-`` separates
  them). Only when a folder name is ambiguous (more or fewer dashes, or a
  version that is not in normalized PEP 440 form) is ``METADATA`` read, and then
  only its first header lines;
* ``REQUESTED`` (the user asked for it) and the other files from one
  ``listdir`` of the folder (a folder without ``METADATA`` is a broken
  install and is skipped: pip skips it, ``importlib.metadata`` gives it no name);
* ``direct_url.json`` (editable / VCS / URL installs) only where it exists;
* ``INSTALLER`` only in a conda prefix, where it tells conda-managed
  distributions (``conda``) from pip-installed ones.

``.egg-info`` folders and files (setuptools, legacy ``develop`` installs) and
eggs on the path are read through their ``PKG-INFO``; zip files on the path go
through ``importlib.metadata``. The search order and "first one on the path
wins" rule are those of ``importlib.metadata.distribution(name)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from jupyter_mlops.core.environment.model import PipPackage, normalize_name

__all__ = ["pth_paths", "scan_distributions", "site_dirs_of_prefix"]

# Normalized PEP 440 versions only use these characters and start with a digit.
_VERSION_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz.+!")
_SITE_NAMES = ("site-packages", "dist-packages")


def _read_headers(path: str) -> tuple[str | None, str | None]:
    """``(Name, Version)`` from the header block of a METADATA / PKG-INFO file."""
    name = version = None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break
                key, sep, value = line.partition(":")
                if not sep:
                    continue
                key = key.lower()
                if key == "name" and name is None:
                    name = value.strip()
                elif key == "version" and version is None:
                    version = value.strip()
                if name is not None and version is not None:
                    break
    except OSError:
        return None, None
    return name, version


def _egg_info_metadata(path: str) -> str:
    """The PKG-INFO of an ``.egg-info`` entry (a folder, or the file itself)."""
    return os.path.join(path, "PKG-INFO") if os.path.isdir(path) else path


def _read_installer(dist_dir: str) -> str:
    try:
        with open(os.path.join(dist_dir, "INSTALLER"), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _dist_info(
    dist_dir: str, folder: str, *, read_installer: bool
) -> tuple[str, PipPackage] | None:
    try:
        files = os.listdir(dist_dir)  # one call answers METADATA, REQUESTED, direct_url.json
    except OSError:
        return None
    if "METADATA" not in files:
        return None  # a broken install (pip skips it too)
    stem = folder[: -len(".dist-info")]
    name, sep, version = stem.partition("-")
    if not sep or not version[:1].isdigit() or not _VERSION_CHARS.issuperset(version):
        found_name, found_version = _read_headers(os.path.join(dist_dir, "METADATA"))
        if not found_name or found_version is None:
            return None
        name, version = found_name, found_version
    direct_url = None
    if "direct_url.json" in files:
        from jupyter_mlops.core.environment.vcs import read_direct_url

        direct_url = read_direct_url(os.path.join(dist_dir, "direct_url.json"))
    return normalize_name(name), PipPackage(
        name=normalize_name(name),
        version=version,
        requested="REQUESTED" in files,
        direct_url=direct_url,
        installer=_read_installer(dist_dir) if read_installer and "INSTALLER" in files else "",
    )


def _egg_info(path: str, entry_dir: str) -> tuple[str, PipPackage] | None:
    name, version = _read_headers(_egg_info_metadata(path))
    if not name:
        return None
    direct_url = None
    if not entry_dir.rstrip("/\\").endswith(_SITE_NAMES) and (
        os.path.exists(os.path.join(entry_dir, "setup.py"))
        or os.path.exists(os.path.join(entry_dir, "pyproject.toml"))
    ):
        # a legacy ``setup.py develop`` / ``pip install -e`` of the project in entry_dir
        from pathlib import Path

        from jupyter_mlops.core.environment.model import DirectUrl
        from jupyter_mlops.core.environment.vcs import git_origin

        remote, commit = git_origin(entry_dir)
        direct_url = DirectUrl(
            kind="editable",
            url=Path(entry_dir).resolve().as_uri(),
            path=entry_dir,
            git_remote=remote,
            git_commit=commit,
        )
    return normalize_name(name), PipPackage(
        name=normalize_name(name), version=version, direct_url=direct_url
    )


def _scan_dir(entry: str, *, read_installer: bool) -> Iterator[tuple[str, PipPackage]]:
    try:
        names = os.listdir(entry)
    except OSError:
        return
    if entry.endswith(".egg") and "EGG-INFO" in names:
        found = _egg_info(os.path.join(entry, "EGG-INFO"), entry)
        if found:
            yield found
    for folder in names:
        if folder.endswith(".dist-info"):
            found = _dist_info(os.path.join(entry, folder), folder, read_installer=read_installer)
        elif folder.endswith(".egg-info"):
            found = _egg_info(os.path.join(entry, folder), entry)
        else:
            continue
        if found:
            yield found


def _scan_zip(entry: str) -> Iterator[tuple[str, PipPackage]]:
    """Distributions inside a zip file on the path, through importlib.metadata."""
    import importlib.metadata

    for dist in importlib.metadata.distributions(path=[entry]):
        name = dist.metadata["Name"]
        if name:
            yield normalize_name(name), PipPackage(name=normalize_name(name), version=dist.version)


def scan_distributions(
    path_entries: Iterable[str], *, read_installer: bool = False
) -> dict[str, PipPackage]:
    """``{normalized name: PipPackage}`` for the distributions found on ``path_entries``.

    The first distribution of a name along the path wins, as for
    ``importlib.metadata.distribution(name)``; ``""`` means the current folder.
    ``read_installer`` also reads each ``INSTALLER`` file (needed in conda prefixes).
    """
    found: dict[str, PipPackage] = {}
    seen_entries: set[str] = set()
    for raw in path_entries:
        entry = raw or os.getcwd()
        if entry in seen_entries:
            continue
        seen_entries.add(entry)
        if os.path.isdir(entry):
            items: Iterator[tuple[str, PipPackage]] = _scan_dir(
                entry, read_installer=read_installer
            )
        elif os.path.isfile(entry):
            items = _scan_zip(entry)
        else:
            continue
        for key, package in items:
            found.setdefault(key, package)
    return found


def site_dirs_of_prefix(prefix: str) -> list[str]:
    """The site-packages folders of the environment installed at ``prefix``."""
    candidates: list[str] = []
    for lib in ("lib", "lib64"):
        lib_dir = os.path.join(prefix, lib)
        try:
            versions = sorted(n for n in os.listdir(lib_dir) if n.startswith(("python", "pypy")))
        except OSError:
            continue
        for version_dir in versions:
            for site in _SITE_NAMES:
                path = os.path.join(lib_dir, version_dir, site)
                if os.path.isdir(path):
                    candidates.append(path)
    windows_site = os.path.join(prefix, "Lib", "site-packages")
    if os.path.isdir(windows_site):
        candidates.append(windows_site)
    unique: list[str] = []
    for path in candidates:
        if all(not _same_dir(path, other) for other in unique):
            unique.append(path)
    return unique


def _same_dir(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def pth_paths(site_dir: str) -> list[str]:
    """Folders that ``.pth`` files in ``site_dir`` add to the path (``import`` lines skipped)."""
    out: list[str] = []
    try:
        pth_files = sorted(n for n in os.listdir(site_dir) if n.endswith(".pth"))
    except OSError:
        return out
    for name in pth_files:
        try:
            with open(os.path.join(site_dir, name), encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            path = os.path.normpath(os.path.join(site_dir, line))
            if os.path.isdir(path):
                out.append(path)
    return out
