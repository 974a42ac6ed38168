"""Compare environments: :func:`diff_snapshots` and the drift check :func:`check_drift`.

Packages are compared per section (``conda`` and ``pip`` are separate name
spaces, so a package that moved from pip to conda shows as removed and added).
A conda package changed when its version differs, or its build where both
sides know one; a pip package changed when its version differs, or the commit
of a VCS install. Python is compared at the precision both sides have
(``3.11`` and ``3.11.7`` agree).

:func:`check_drift` compares the current environment with a snapshot:

* a **full** snapshot written by us: every difference is drift, including
  packages installed since;
* a **requested-only** snapshot, or a hand-written ``environment.yml``
  (``source == "external"``): only the packages it lists are checked, extra
  installed packages are not drift, and a conda spec ``name=1.26`` accepts any
  ``1.26.x`` (and a build glob ``*mkl`` any matching build) as conda would. A
  listed pip package that is present as a conda package with a matching
  version also counts as present.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jupyter_mlops.core.environment.model import (
    CondaPackage,
    EnvironmentSnapshot,
    PipPackage,
    normalize_name,
)
from jupyter_mlops.core.environment.specs import pip_identity

__all__ = [
    "EnvironmentDiff",
    "PackageChange",
    "check_drift",
    "diff_snapshots",
    "render_diff_table",
]


@dataclass(frozen=True)
class PackageChange:
    """One package that differs: ``old`` / ``new`` are its pins (None where absent)."""

    section: str
    name: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class EnvironmentDiff:
    """What changed from an old environment to a new one.

    A diff is truthy when anything differs (for :func:`check_drift`: there is
    drift). ``python`` is ``(old, new)`` when the Python versions differ.
    ``listed_only`` records that only the packages of a requested-only or
    hand-written snapshot were compared.
    """

    added: tuple[PackageChange, ...] = ()
    removed: tuple[PackageChange, ...] = ()
    changed: tuple[PackageChange, ...] = ()
    python: tuple[str, str] | None = None
    listed_only: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.python)

    @property
    def is_empty(self) -> bool:
        """True when nothing differs."""
        return not self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the REST API and ``--json`` output."""

        def rows(changes: tuple[PackageChange, ...]) -> list[dict[str, Any]]:
            return [
                {"section": c.section, "name": c.name, "old": c.old, "new": c.new} for c in changes
            ]

        return {
            "added": rows(self.added),
            "removed": rows(self.removed),
            "changed": rows(self.changed),
            "python": None
            if self.python is None
            else {"old": self.python[0], "new": self.python[1]},
            "listed_only": self.listed_only,
            "drift": bool(self),
        }


def _conda_pin(package: CondaPackage) -> str:
    version = package.version or "*"
    return f"{version}={package.build}" if package.build else version


def _version_matches(expected: str, actual: str, *, fuzzy: bool) -> bool:
    if expected == actual:
        return True
    return fuzzy and actual.startswith(expected + ".")


def _conda_same(old: CondaPackage, new: CondaPackage, *, fuzzy: bool) -> bool:
    if old.version and new.version and not _version_matches(old.version, new.version, fuzzy=fuzzy):
        return False
    if not (old.build and new.build) or old.build == new.build:
        return True
    if fuzzy and "*" in old.build:  # a hand-written build glob such as "*mkl"
        from fnmatch import fnmatchcase

        return fnmatchcase(new.build, old.build)
    return False


def _pip_same(old: PipPackage, new: PipPackage) -> bool:
    if old.version is None or new.version is None:
        return True
    return pip_identity(old) == pip_identity(new)


def _python_differs(old: str, new: str) -> bool:
    if not old or not new:
        return False
    a, b = old.split("."), new.split(".")
    depth = min(len(a), len(b))
    return a[:depth] != b[:depth]


_P = TypeVar("_P", CondaPackage, PipPackage)


def _by_name(old: Iterable[_P], new: Iterable[_P]) -> Iterator[tuple[str, _P | None, _P | None]]:
    """Every package name of either side, sorted, with its package on each side (or None)."""
    old_by, new_by = {p.name: p for p in old}, {p.name: p for p in new}
    for name in sorted(old_by.keys() | new_by.keys()):
        yield name, old_by.get(name), new_by.get(name)


def _diff(
    old: EnvironmentSnapshot, new: EnvironmentSnapshot, *, listed_only: bool, fuzzy: bool
) -> EnvironmentDiff:
    added: list[PackageChange] = []
    removed: list[PackageChange] = []
    changed: list[PackageChange] = []

    for name, a, b in _by_name(old.conda_packages, new.conda_packages):
        if a is None and b is not None:
            if not listed_only:
                added.append(PackageChange("conda", name, None, _conda_pin(b)))
        elif b is None and a is not None:
            removed.append(PackageChange("conda", name, _conda_pin(a), None))
        elif a is not None and b is not None and not _conda_same(a, b, fuzzy=fuzzy):
            changed.append(PackageChange("conda", name, _conda_pin(a), _conda_pin(b)))

    conda_by_pip_name = {normalize_name(p.name): p for p in new.conda_packages}
    for name, pa, pb in _by_name(old.pip_packages, new.pip_packages):
        if pa is None and pb is not None:
            if not listed_only:
                added.append(PackageChange("pip", name, None, pip_identity(pb)))
        elif pb is None and pa is not None:
            in_conda = conda_by_pip_name.get(name) if listed_only else None
            if in_conda is not None and (
                pa.version is None
                or _version_matches(pa.version, in_conda.version or "", fuzzy=False)
            ):
                continue
            removed.append(PackageChange("pip", name, pip_identity(pa), None))
        elif pa is not None and pb is not None and not _pip_same(pa, pb):
            changed.append(PackageChange("pip", name, pip_identity(pa), pip_identity(pb)))

    python = None
    if _python_differs(old.python_version, new.python_version):
        python = (old.python_version, new.python_version)
    return EnvironmentDiff(
        added=tuple(added),
        removed=tuple(removed),
        changed=tuple(changed),
        python=python,
        listed_only=listed_only,
    )


def diff_snapshots(old: EnvironmentSnapshot, new: EnvironmentSnapshot) -> EnvironmentDiff:
    """Everything added, removed or changed from ``old`` to ``new`` (exact comparison)."""
    return _diff(old, new, listed_only=False, fuzzy=False)


def check_drift(
    expected: EnvironmentSnapshot | Path | str,
    current: EnvironmentSnapshot | None = None,
) -> EnvironmentDiff:
    """How ``current`` (default: a fresh snapshot of this interpreter) drifted from ``expected``.

    ``expected`` is a snapshot or the path of an ``environment.yml``. A
    non-empty (truthy) result is drift; see the module docstring for what a
    requested-only or hand-written snapshot checks.
    """
    if not isinstance(expected, EnvironmentSnapshot):
        from jupyter_mlops.core.environment.parse import snapshot_from_file

        expected = snapshot_from_file(expected)
    if current is None:
        from jupyter_mlops.core.environment.snapshot import take_snapshot

        current = take_snapshot(include_platform=False)
    listed_only = expected.requested_only or expected.source == "external"
    return _diff(expected, current, listed_only=listed_only, fuzzy=listed_only)


def render_diff_table(
    diff: EnvironmentDiff, *, old_label: str = "old", new_label: str = "new"
) -> str:
    """A plain-text table of ``diff`` (``no differences`` when empty), scrubbed of secrets."""
    from jupyter_mlops.core.redact import scrub

    if not diff:
        note = (
            " (only the packages listed in the snapshot were checked)" if diff.listed_only else ""
        )
        return f"no differences{note}\n"
    rows: list[tuple[str, str, str, str, str]] = [
        ("change", "section", "package", old_label, new_label)
    ]
    if diff.python is not None:
        rows.append(("changed", "python", "python", diff.python[0], diff.python[1]))
    for kind, changes in (
        ("added", diff.added),
        ("removed", diff.removed),
        ("changed", diff.changed),
    ):
        for change in changes:
            rows.append((kind, change.section, change.name, change.old or "-", change.new or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    counts = (
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
        + (", python changed" if diff.python else "")
    )
    return scrub("\n".join([*lines, "", counts]) + "\n")
