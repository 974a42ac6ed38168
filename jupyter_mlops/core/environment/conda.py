"""Conda prefixes: packages and channels from ``conda-meta/*.json``, requests from history.

No ``conda`` subprocess (``conda env export`` takes seconds): each installed
package has a record ``conda-meta/<name>-<version>-<build>.json`` with its
``name``, ``version``, ``build`` and ``channel`` (a channel URL such as
``https://conda.anaconda.org/conda-forge/linux-64``, or a short name) and
``url``. Channel URLs become names: ``conda-forge``, ``defaults`` for
Anaconda's ``pkgs/main`` family; a custom channel keeps its URL, without
credentials, anaconda.org ``/t/<token>`` segments or the platform subdir.

What the user asked for comes from ``conda-meta/history`` (``# update specs:
[...]`` adds, ``# remove specs: [...]`` removes; conda, mamba and micromamba
all write it) and from each record's ``requested_spec``.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from jupyter_mlops.core.environment.model import CondaPackage
from jupyter_mlops.core.redact import strip_url_credentials

__all__ = [
    "CondaPrefix",
    "channel_name",
    "is_conda_prefix",
    "order_channels",
    "read_conda_prefix",
    "requested_names",
    "spec_name",
]

SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64",
        "linux-ppc64le",
        "linux-riscv64",
        "linux-s390x",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "zos-z",
        "freebsd-64",
        "emscripten-wasm32",
        "wasi-wasm32",
    }
)
_DEFAULTS_PATHS = ("pkgs/main", "pkgs/r", "pkgs/free", "pkgs/pro", "pkgs/msys2")
_DEFAULTS_HOSTS = ("repo.anaconda.com", "repo.continuum.io")
_ANACONDA_ORG_HOSTS = ("conda.anaconda.org", "conda.anaconda.com")
_HISTORY_RE = re.compile(r"^#\s*(\w+)\s+specs:\s*(.*)$")
_SPEC_NAME_RE = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9_.\-]*)")


class CondaPrefix:
    """What ``conda-meta/`` says about one prefix: packages (python included) and requests."""

    def __init__(self, packages: list[CondaPackage], requested: set[str]) -> None:
        self.packages = packages
        self.requested = requested

    def by_name(self) -> dict[str, CondaPackage]:
        """``{name: package}``."""
        return {p.name: p for p in self.packages}


def is_conda_prefix(prefix: Path | str) -> bool:
    """True when ``prefix`` has a ``conda-meta/`` folder."""
    return (Path(prefix) / "conda-meta").is_dir()


def channel_name(channel: str, url: str = "") -> str:
    """Short name of a record's channel: ``conda-forge``, ``defaults`` or a clean URL."""
    raw = channel or (url.rsplit("/", 1)[0] if "/" in url else "")
    if not raw:
        return ""
    if "://" not in raw:
        parts = [p for p in raw.strip("/").split("/") if p]
        if parts and parts[-1] in SUBDIRS:
            parts = parts[:-1]
        name = "/".join(parts)
        return "defaults" if name in _DEFAULTS_PATHS else name
    clean = strip_url_credentials(raw).rstrip("/")
    scheme, _, rest = clean.partition("://")
    host, _, path = rest.partition("/")
    segments = [s for s in path.split("/") if s]
    if segments and segments[-1] in SUBDIRS:
        segments = segments[:-1]
    path = "/".join(segments)
    if host in _DEFAULTS_HOSTS and path in _DEFAULTS_PATHS:
        return "defaults"
    if host in _ANACONDA_ORG_HOSTS and path:
        return path
    return f"{scheme}://{host}/{path}" if path else f"{scheme}://{host}"


def spec_name(spec: str) -> str | None:
    """Package name of a conda match spec (``conda-forge::numpy>=1.26`` -> ``numpy``)."""
    spec = spec.strip()
    if "::" in spec:
        spec = spec.split("::", 1)[1]
    match = _SPEC_NAME_RE.match(spec)
    return match.group(1).lower() if match else None


def _history_specs(text: str) -> Iterable[str]:
    if text.startswith("["):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return []
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else []
    return [s.strip() for s in text.split(",") if s.strip()]


def requested_names(history_text: str) -> list[str]:
    """Names the user asked for, in order, from a ``conda-meta/history`` text."""
    requested: dict[str, None] = {}
    for line in history_text.splitlines():
        match = _HISTORY_RE.match(line.strip())
        if not match:
            continue
        action = match.group(1).lower()
        names = [n for n in (spec_name(s) for s in _history_specs(match.group(2))) if n]
        if action in ("update", "install", "create"):
            for name in names:
                requested.setdefault(name)
        elif action in ("remove", "uninstall"):
            for name in names:
                requested.pop(name, None)
    return list(requested)


def read_conda_prefix(prefix: Path | str) -> CondaPrefix:
    """Read every ``conda-meta/*.json`` record and the history of ``prefix``."""
    meta = Path(prefix) / "conda-meta"
    history = meta / "history"
    try:
        requested = set(requested_names(history.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        requested = set()
    records: list[tuple[dict[str, object], str]] = []
    try:
        files = sorted(meta.glob("*.json"))
    except OSError:
        files = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            records.append((data, path.name[: -len(".json")]))
    packages: list[CondaPackage] = []
    for data, stem in records:
        name, version, build = _name_version_build(data, stem)
        if not name:
            continue
        requested_spec = data.get("requested_spec")
        if isinstance(requested_spec, str) and requested_spec and spec_name(requested_spec):
            requested.add(name)
        packages.append(
            CondaPackage(
                name=name,
                version=version,
                build=build,
                channel=channel_name(str(data.get("channel") or ""), str(data.get("url") or "")),
                requested=name in requested,
            )
        )
    packages.sort(key=lambda p: p.name)
    return CondaPrefix(packages, requested)


def _name_version_build(data: dict[str, object], stem: str) -> tuple[str, str, str]:
    """From the record, else from the file name ``name-version-build``."""
    name, version, build = (str(data.get(k) or "") for k in ("name", "version", "build"))
    if not (name and version):
        parts = stem.rsplit("-", 2)
        if len(parts) == 3:
            name, version, build = name or parts[0], version or parts[1], build or parts[2]
    return name.lower(), version, build


def order_channels(packages: Iterable[CondaPackage]) -> tuple[str, ...]:
    """Channels by how many packages come from each (most first), ``defaults`` last."""
    counts = Counter(p.channel for p in packages if p.channel)
    return tuple(
        sorted(counts, key=lambda c: (c == "defaults", -counts[c], c)),
    )
