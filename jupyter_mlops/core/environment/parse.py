"""Read ``environment.yml`` files back into snapshots, for diffs and drift checks.

Files written by :func:`~.render.render_environment_yml` come back with the
content hash they were written with (kind and environment type are recovered
from the comment header, the versions of editable / VCS / URL installs from
their ``# pin: name==version`` comments).
Hand-written conda files are accepted too; their ``source`` is ``external``:

* conda specs ``name``, ``name=1.26``, ``name=1.26.4=build``, ``name==1.26``,
  ``channel::name=...``, ``name 1.26 build``; ranges (``>=``) keep the name only;
* pip lines ``name==1.0``, ``name[extra]==1.0 ; marker``, ``name @ url``,
  ``git+https://...#egg=name``, ``-e path``, each optionally followed by a
  pip requirements-file comment ``  # name==version``; options (``-r``,
  ``--index-url``) are skipped; a requirement that does not pin an exact
  version has version None.

Malformed input raises :class:`~jupyter_mlops.exceptions.InvalidValueError`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyter_mlops.core.environment.model import (
    CondaPackage,
    DirectUrl,
    EnvironmentSnapshot,
    PipPackage,
    normalize_name,
)
from jupyter_mlops.core.environment.render import HEADER_MARK, PLATFORM_FILE
from jupyter_mlops.core.environment.vcs import file_url_to_path
from jupyter_mlops.core.redact import strip_url_credentials
from jupyter_mlops.exceptions import InvalidValueError, NotFoundError, PathError

__all__ = [
    "parse_conda_spec",
    "parse_environment_yml",
    "parse_pip_requirement",
    "snapshot_from_file",
    "snapshot_from_text",
]

_NAME_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;,]+)$")
_COMMENT_RE = re.compile(r"\s+#")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")
_EGG_RE = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def parse_conda_spec(spec: str) -> CondaPackage:
    """A conda dependency string as a :class:`CondaPackage` (version None unless pinned)."""
    text = spec.strip()
    channel = ""
    if "::" in text:
        channel, text = (part.strip() for part in text.split("::", 1))
    match = _NAME_RE.match(text)
    if not match:
        raise InvalidValueError(
            f"not a conda package spec: {spec!r}", hint="write it as name=version=build"
        )
    name = match.group(1).lower()
    rest = text[match.end() :].strip()
    version: str | None = None
    build = ""
    if rest.startswith("=="):
        version = rest[2:].strip() or None
    elif rest.startswith("="):
        parts = rest[1:].split("=")
        version = parts[0].strip() or None
        build = parts[1].strip() if len(parts) > 1 else ""
    elif rest and rest[0].isdigit():  # "name 1.26 build"
        parts = rest.split()
        version = parts[0]
        build = parts[1] if len(parts) > 1 else ""
    if version is not None:
        if any(c in version for c in "<>|,!~"):
            version, build = None, ""
        else:  # conda's "1.26.*" and "1.26*" both mean "1.26" and what follows
            version = version.rstrip("*").rstrip(".") or None
    return CondaPackage(name=name, version=version, build=build, channel=channel)


def _comment_pin(comment: str) -> tuple[str, str] | None:
    """``(name, version)`` when a comment starts with ``name==version`` (other comments: None)."""
    words = comment.split()
    match = _PIN_RE.match(words[0]) if words else None
    return (normalize_name(match.group(1)), match.group(2)) if match else None


def _vcs_direct_url(url: str) -> DirectUrl:
    vcs, _, rest = url.partition("+")
    subdirectory = None
    fragment_match = re.search(r"#(.*)$", rest)
    if fragment_match:
        for part in fragment_match.group(1).split("&"):
            key, _, value = part.partition("=")
            if key == "subdirectory" and value:
                subdirectory = value
        rest = rest[: fragment_match.start()]
    parts = urlsplit(rest)
    commit = None
    path = parts.path
    if "@" in path:
        path, _, commit = path.rpartition("@")
    base = strip_url_credentials(parts._replace(path=path, query="", fragment="").geturl())
    is_sha = commit is not None and re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit)
    return DirectUrl(
        kind="vcs",
        url=base,
        vcs=vcs,
        commit_id=commit if is_sha else None,
        requested_revision=None if is_sha else commit,
        subdirectory=subdirectory,
    )


def parse_pip_requirement(line: str) -> PipPackage | None:
    """One line of a ``pip:`` section (None for options and blank lines)."""
    parts = _COMMENT_RE.split(line.strip(), maxsplit=1)
    body = parts[0].strip()
    comment = parts[1] if len(parts) > 1 else ""
    if not body or body.startswith("#"):
        return None
    pinned = _comment_pin(comment)
    if body.startswith(("-e ", "--editable ", "--editable=")):
        target = body.split(None, 1)[1] if " " in body else body.split("=", 1)[1]
        try:
            words = shlex.split(target)
        except ValueError:
            raise InvalidValueError(f"cannot read the path of pip line {line!r}") from None
        path = words[0] if words else target
        local = file_url_to_path(path) if "://" in path else path
        egg = _EGG_RE.search(path)
        name: str
        version: str | None
        if pinned:
            name, version = pinned
        else:
            name = normalize_name(egg.group(1) if egg else Path(path.split("#")[0]).name)
            version = None
        if path.startswith(_VCS_PREFIXES):
            return PipPackage(name=name, version=version, direct_url=_vcs_direct_url(path))
        url = Path(local or path).as_uri() if Path(local or path).is_absolute() else path
        direct = DirectUrl(kind="editable", url=url, path=local or path)
        return PipPackage(name=name, version=version, requested=True, direct_url=direct)
    if body.startswith("-"):
        return None
    body = body.split(";", 1)[0].strip()
    if " @ " in body or (body.startswith(_VCS_PREFIXES) or "://" in body):
        if " @ " in body:
            raw_name, url = (p.strip() for p in body.split(" @ ", 1))
        else:
            egg = _EGG_RE.search(body)
            raw_name, url = (egg.group(1) if egg else ""), body
        name_match = _NAME_RE.match(raw_name)
        if name_match:
            name = normalize_name(name_match.group(1))
        elif pinned:
            name = pinned[0]
        else:
            raise InvalidValueError(f"cannot tell the package name of pip line {line!r}")
        version = pinned[1] if pinned else None
        if url.startswith(_VCS_PREFIXES):
            return PipPackage(name=name, version=version, direct_url=_vcs_direct_url(url))
        clean = strip_url_credentials(url)
        return PipPackage(
            name=name,
            version=version,
            direct_url=DirectUrl(kind="archive", url=clean, path=file_url_to_path(clean)),
        )
    match = _NAME_RE.match(body)
    if not match:
        raise InvalidValueError(f"not a pip requirement: {line!r}")
    rest = body[match.end() :].strip()
    if rest.startswith("["):
        rest = rest.split("]", 1)[1].strip() if "]" in rest else ""
    version = None
    for op in ("===", "=="):
        if rest.startswith(op):
            candidate = rest[len(op) :].strip()
            if candidate and "," not in candidate and not candidate.endswith("*"):
                version = candidate
            break
    return PipPackage(name=normalize_name(match.group(1)), version=version)


_PIN_COMMENT_RE = re.compile(r"^\s*-\s+(?P<item>.+?)\s+#\s*pin:\s*(?P<pin>\S+)")


def _pin_comments(text: str) -> dict[str, str]:
    """``{list item: "name==version"}`` from the ``# pin: ...`` YAML comments of our files."""
    import yaml

    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN_COMMENT_RE.match(line)
        if not match:
            continue
        try:
            item = yaml.safe_load(match.group("item"))
        except yaml.YAMLError:
            continue
        if isinstance(item, str):
            pins[item] = match.group("pin")
    return pins


def _header_fields(text: str) -> dict[str, str] | None:
    """``{key: value}`` of the leading ``# key: value`` comments, if the file is ours."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != HEADER_MARK:
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields


def _string_list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise InvalidValueError(f"environment file: {what} must be a list of strings")
    return [str(v) for v in value]


def parse_environment_yml(text: str) -> EnvironmentSnapshot:
    """An ``environment.yml`` text as an :class:`EnvironmentSnapshot` (``source`` ``file``/``external``)."""
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidValueError(
            f"environment file is not valid YAML: {exc}", hint="is this an environment.yml?"
        ) from None
    if not isinstance(document, dict) or "dependencies" not in document:
        raise InvalidValueError(
            "environment file has no 'dependencies' list",
            hint="expected a conda environment.yml (name, channels, dependencies)",
        )
    header = _header_fields(text)
    pins = _pin_comments(text) if "pin:" in text else {}
    python_version = python_build = ""
    conda: dict[str, CondaPackage] = {}
    pip: dict[str, PipPackage] = {}
    deps = document["dependencies"] or []
    if not isinstance(deps, list):
        raise InvalidValueError("environment file: 'dependencies' must be a list")
    for dep in deps:
        if isinstance(dep, dict):
            for line in _string_list(dep.get("pip"), "the pip section"):
                pin = pins.get(line)
                requirement = parse_pip_requirement(f"{line}  # {pin}" if pin else line)
                if requirement is not None:
                    pip.setdefault(requirement.name, requirement)
            continue
        if not isinstance(dep, (str, int, float)):
            raise InvalidValueError(f"environment file: unexpected dependency {dep!r}")
        spec = str(dep).strip()
        if spec == "pip":
            continue  # the installer for the pip: section
        package = parse_conda_spec(spec)
        if package.name == "python":
            python_version, python_build = package.version or "", package.build
        else:
            conda.setdefault(package.name, package)
    if header is not None:
        kind = header.get("kind", "full")
        is_conda = header.get("environment") == "conda"
    else:
        kind = "full"
        is_conda = bool(conda) or bool(python_build)
    return EnvironmentSnapshot(
        name=str(document.get("name") or ""),
        channels=tuple(_string_list(document.get("channels"), "channels")),
        python_version=python_version,
        python_build=python_build,
        conda_packages=tuple(sorted(conda.values(), key=lambda p: p.name)),
        pip_packages=tuple(sorted(pip.values(), key=lambda p: p.name)),
        requested_only=kind == "requested-only",
        is_conda=is_conda,
        source="file" if header is not None else "external",
    )


def snapshot_from_text(text: str) -> EnvironmentSnapshot:
    """Same as :func:`parse_environment_yml` (the name the integration layer uses)."""
    return parse_environment_yml(text)


def snapshot_from_file(path: Path | str) -> EnvironmentSnapshot:
    """Read an ``environment.yml``, plus the ``platform.yml`` beside it when there is one."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(
            f"no environment file at {target}",
            hint="write one with 'jupyter mlops env snapshot -o environment.yml'",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PathError(f"cannot read {target}: {type(exc).__name__}") from None
    snapshot = parse_environment_yml(text)
    platform_path = target.with_name(PLATFORM_FILE)
    if platform_path.is_file() and platform_path != target:
        import yaml

        try:
            platform = yaml.safe_load(platform_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            platform = None
        if isinstance(platform, dict):
            snapshot = snapshot._replace(platform=platform)
    return snapshot
