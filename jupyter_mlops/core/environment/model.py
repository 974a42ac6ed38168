"""The data model of an environment snapshot: immutable, typed records.

An :class:`EnvironmentSnapshot` is what ``environment.yml`` (plus the platform
block beside it) holds: the Python version, the conda packages with their
channels, the pip-installed distributions with their pins, and facts about the
machine. Every URL in it has had its credentials stripped before it got here
(:mod:`.redact`); nothing in it is an environment variable value.

The records are ``typing.NamedTuple`` classes rather than dataclasses: they
behave the same for this purpose (typed fields, immutable, ``repr``, equality,
``_replace`` for a changed copy), and ``import dataclasses`` (it imports
``inspect``) plus class creation would cost about 8 ms, a fifth of a whole
``take_snapshot()`` in a fresh interpreter. Being tuples, they compare equal to
tuples holding the same values; compare records with records.

``to_dict`` / ``from_dict`` give a JSON-ready form for the REST API and for
passing a snapshot between processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = [
    "CondaPackage",
    "DirectUrl",
    "EnvironmentSnapshot",
    "PipPackage",
    "normalize_name",
    "python_minor",
]


def normalize_name(name: str) -> str:
    """A distribution name normalized per PEP 503: ``Zope.Interface`` -> ``zope-interface``.

    Same as ``re.sub(r"[-_.]+", "-", name).lower()``, without compiling a regex
    on the snapshot's start-up path.
    """
    text = name.lower().replace("_", "-").replace(".", "-")
    while "--" in text:
        text = text.replace("--", "-")
    return text


def python_minor(version: str) -> str:
    """``3.11.7`` -> ``3.11`` (a version with fewer parts comes back unchanged)."""
    return ".".join(version.split(".")[:2])


class CondaPackage(NamedTuple):
    """One package of a conda prefix, from its ``conda-meta/*.json`` record.

    ``channel`` is the channel's name (``conda-forge``, ``defaults``) or, for a
    custom channel, its URL without credentials, tokens or platform subdir.
    ``requested`` is true when the user asked for it (``conda-meta/history``).
    ``version`` is None only for a spec read from a file that does not pin one.
    """

    name: str
    version: str | None
    build: str = ""
    channel: str = ""
    requested: bool = False


class DirectUrl(NamedTuple):
    """Where a distribution was installed from, per its ``direct_url.json`` (PEP 610).

    ``kind`` is ``editable`` (``pip install -e``), ``vcs`` (``git+https://...``),
    ``archive`` (a wheel or sdist URL) or ``dir`` (a local folder, not editable).
    ``url`` never carries credentials. For an editable install ``path`` is the
    local project folder and, when it is a git checkout, ``git_remote`` /
    ``git_commit`` say where its source lives (remote without credentials).
    """

    kind: str
    url: str
    path: str | None = None
    vcs: str | None = None
    commit_id: str | None = None
    requested_revision: str | None = None
    subdirectory: str | None = None
    git_remote: str | None = None
    git_commit: str | None = None


class PipPackage(NamedTuple):
    """One Python distribution installed outside conda (pip, uv, ...).

    ``name`` is PEP 503-normalized. ``version`` is None only for a requirement
    read from a hand-written file that does not pin one (``numpy>=1.26``).
    ``requested`` mirrors pip's ``REQUESTED`` marker: the user asked for it.
    """

    name: str
    version: str | None
    requested: bool = False
    direct_url: DirectUrl | None = None
    installer: str = ""


_NO_PLATFORM: Mapping[str, Any] = MappingProxyType({})


class EnvironmentSnapshot(NamedTuple):
    """A Python environment, as ``environment.yml`` describes it, plus a platform block.

    * ``name``: the environment name written to ``environment.yml``.
    * ``channels``: conda channels, most used first.
    * ``python_version``: ``3.11.7`` for a live environment, ``3.11`` when read
      from a file that says ``python=3.11``.
    * ``python_build``: the conda build string of ``python`` (empty outside conda).
    * ``conda_packages`` / ``pip_packages``: sorted by name; ``python`` itself is
      not among the conda packages (it is ``python_version`` / ``python_build``).
    * ``platform``: OS, CPU, Python build, GPU facts (see :mod:`.platform`);
      a mapping (read-only when empty).
    * ``requested_only``: only what the user asked for was kept (the portable
      form); a drift check then compares only the packages listed.
    * ``is_conda``: the environment is a conda prefix (or a file listing conda
      packages).
    * ``source``: ``live`` (taken from an installed environment) or ``file``.
    """

    name: str
    channels: tuple[str, ...] = ()
    python_version: str = ""
    python_build: str = ""
    conda_packages: tuple[CondaPackage, ...] = ()
    pip_packages: tuple[PipPackage, ...] = ()
    platform: Mapping[str, Any] = _NO_PLATFORM
    requested_only: bool = False
    is_conda: bool = False
    source: str = "live"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists and plain dicts; ``None`` fields of direct URLs dropped)."""
        return {
            "name": self.name,
            "channels": list(self.channels),
            "python_version": self.python_version,
            "python_build": self.python_build,
            "conda_packages": [_conda_dict(p) for p in self.conda_packages],
            "pip_packages": [_pip_dict(p) for p in self.pip_packages],
            "platform": dict(self.platform),
            "requested_only": self.requested_only,
            "is_conda": self.is_conda,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnvironmentSnapshot:
        """The inverse of :meth:`to_dict`."""
        return cls(
            name=str(data.get("name", "")),
            channels=tuple(str(c) for c in data.get("channels", ())),
            python_version=str(data.get("python_version", "")),
            python_build=str(data.get("python_build", "")),
            conda_packages=tuple(CondaPackage(**p) for p in data.get("conda_packages", ())),
            pip_packages=tuple(_pip_from_dict(p) for p in data.get("pip_packages", ())),
            platform=dict(data.get("platform") or {}),
            requested_only=bool(data.get("requested_only", False)),
            is_conda=bool(data.get("is_conda", False)),
            source=str(data.get("source", "live")),
        )


def _conda_dict(pkg: CondaPackage) -> dict[str, Any]:
    return {
        "name": pkg.name,
        "version": pkg.version,
        "build": pkg.build,
        "channel": pkg.channel,
        "requested": pkg.requested,
    }


def _pip_dict(pkg: PipPackage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": pkg.name,
        "version": pkg.version,
        "requested": pkg.requested,
        "installer": pkg.installer,
    }
    if pkg.direct_url is not None:
        url = pkg.direct_url
        out["direct_url"] = {
            key: value
            for key, value in (
                ("kind", url.kind),
                ("url", url.url),
                ("path", url.path),
                ("vcs", url.vcs),
                ("commit_id", url.commit_id),
                ("requested_revision", url.requested_revision),
                ("subdirectory", url.subdirectory),
                ("git_remote", url.git_remote),
                ("git_commit", url.git_commit),
            )
            if value is not None
        }
    return out


def _pip_from_dict(data: dict[str, Any]) -> PipPackage:
    raw_url = data.get("direct_url")
    direct_url = DirectUrl(**raw_url) if raw_url else None
    version = data.get("version")
    return PipPackage(
        name=str(data["name"]),
        version=None if version is None else str(version),
        requested=bool(data.get("requested", False)),
        direct_url=direct_url,
        installer=str(data.get("installer", "")),
    )
