"""Write snapshots out: ``environment.yml``, ``platform.yml`` and JSON.

``environment.yml`` is what ``conda env create -f``, ``mamba env create -f``
and ``micromamba create -f`` accept: ``name``, ``channels`` and
``dependencies`` (the Python spec, conda packages, ``pip`` and a ``pip:``
list). A comment header on top records what conda has no field for::

    # jupyter-mlops environment snapshot
    # kind: full                     (or requested-only)
    # environment: virtualenv        (or conda)
    # content-hash: sha256:<hex>
    # platform: Linux x86_64 | CPython 3.11.7 | 1x NVIDIA H200, driver 550.54, CUDA 12.4
    # platform details: platform.yml (beside this file)

The platform block itself goes to ``platform.yml`` beside it
(:func:`render_platform_yml`), a file of its own so that ``environment.yml``
stays a plain conda file. The YAML is written here, without PyYAML (keeps a
snapshot fast to write), in block style; a string that a YAML reader could take
for something else is double-quoted with YAML escapes.

For tracked runs, :func:`run_artifacts` gives the files to log under
``environment/`` and :func:`run_tags` the tags (``mlops.env.hash``: the
content hash, equal for identical environments).

Every text these functions return has been through :func:`~.redact.scrub`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.environment.model import EnvironmentSnapshot
from jupyter_mlops.core.environment.platform import platform_summary
from jupyter_mlops.core.environment.specs import (
    conda_specs,
    content_hash,
    pip_pin_comment,
    pip_requirement,
)
from jupyter_mlops.core.redact import scrub

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "ARTIFACT_DIR",
    "ENVIRONMENT_FILE",
    "HASH_TAG",
    "HEADER_MARK",
    "PLATFORM_FILE",
    "Commented",
    "dump_yaml",
    "render_environment_yml",
    "render_platform_yml",
    "render_snapshot_json",
    "run_artifacts",
    "run_tags",
    "write_snapshot",
    "yaml_scalar",
]

ENVIRONMENT_FILE = "environment.yml"
PLATFORM_FILE = "platform.yml"
ARTIFACT_DIR = "environment"
HASH_TAG = mlops_tags.ENV_HASH  # environment.HASH_TAG, as before
HEADER_MARK = "# jupyter-mlops environment snapshot"

# A string is written plain (unquoted) only when it cannot be read as anything
# else: it starts with a letter, "_" or "/" (so never a number, date, alias,
# tag or indicator), uses only these characters, and is no YAML 1.1 keyword.
# Everything else is double-quoted; quoting more than needed is harmless.
_PLAIN_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/")
_PLAIN_CHARS = _PLAIN_FIRST | frozenset("0123456789.=<>!~+@,()-")
_KEYWORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"})


class Commented:
    """A list item written with a trailing YAML comment: ``- value  # comment``."""

    __slots__ = ("comment", "value")

    def __init__(self, value: object, comment: str) -> None:
        self.value = value
        self.comment = comment


def _escape_char(char: str) -> str:
    code = ord(char)
    if char == '"':
        return '\\"'
    if char == "\\":
        return "\\\\"
    printable = (
        0x20 <= code <= 0x7E
        or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )
    if printable:
        return char
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"  # pragma: no cover - all of these are printable


def yaml_scalar(value: object) -> str:
    """``value`` as a YAML scalar that reads back as the same value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if abs(value) == float("inf"):
            return ".inf" if value > 0 else "-.inf"
        mantissa, e, exponent = repr(value).partition("e")
        if e and "." not in mantissa:  # YAML 1.1 wants a dot: 5e-324 -> 5.0e-324
            mantissa += ".0"
        return mantissa + e + exponent
    text = str(value)
    if text[:1] in _PLAIN_FIRST and _PLAIN_CHARS.issuperset(text) and text.lower() not in _KEYWORDS:
        return text
    return '"' + "".join(_escape_char(c) for c in text) + '"'


def _emit(value: object, indent: int, lines: list[str]) -> None:
    """Append ``value`` (a mapping or sequence) in block style at ``indent`` spaces."""
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            label = f"{pad}{yaml_scalar(str(key))}:"
            if isinstance(item, (Mapping, list, tuple)) and item:
                lines.append(label)
                _emit(item, indent + 2, lines)
            elif isinstance(item, (Mapping, list, tuple)):
                lines.append(f"{label} {'{}' if isinstance(item, Mapping) else '[]'}")
            else:
                lines.append(f"{label} {yaml_scalar(item)}")
        return
    assert isinstance(value, Sequence)
    for item in value:
        if isinstance(item, Commented):
            comment = " ".join(item.comment.split())
            lines.append(f"{pad}- {yaml_scalar(item.value)}  # {comment}")
        elif isinstance(item, Mapping) and item:
            nested: list[str] = []
            _emit(item, indent + 2, nested)
            first = nested[0][indent + 2 :]
            lines.append(f"{pad}- {first}")
            lines.extend(nested[1:])
        elif isinstance(item, (list, tuple)) and item:
            nested = []
            _emit(item, indent + 2, nested)
            lines.append(f"{pad}- {nested[0][indent + 2 :]}")
            lines.extend(nested[1:])
        elif isinstance(item, (Mapping, list, tuple)):
            lines.append(f"{pad}- {'{}' if isinstance(item, Mapping) else '[]'}")
        else:
            lines.append(f"{pad}- {yaml_scalar(item)}")


def dump_yaml(document: Mapping[str, Any]) -> str:
    """``document`` (mappings, lists, str/int/float/bool/None) as block-style YAML.

    A :class:`Commented` list item gets its comment at the end of its line.
    """
    lines: list[str] = []
    _emit(document, 0, lines)
    return "\n".join(lines) + "\n"


def _header(snapshot: EnvironmentSnapshot) -> list[str]:
    lines = [
        HEADER_MARK,
        f"# kind: {'requested-only' if snapshot.requested_only else 'full'}",
        f"# environment: {'conda' if snapshot.is_conda else 'virtualenv'}",
        f"# content-hash: sha256:{content_hash(snapshot)}",
    ]
    summary = platform_summary(snapshot.platform)
    if summary:
        lines.append(f"# platform: {' '.join(summary.split())}")
        lines.append(f"# platform details: {PLATFORM_FILE} (beside this file)")
    return lines


def render_environment_yml(snapshot: EnvironmentSnapshot) -> str:
    """``environment.yml`` text for ``snapshot`` (conda/mamba/micromamba accept it)."""
    dependencies: list[object] = list(conda_specs(snapshot))
    pip_lines: list[object] = []
    for package in snapshot.pip_packages:
        line, comment = pip_requirement(package), pip_pin_comment(package)
        pip_lines.append(line if comment is None else Commented(line, comment))
    if pip_lines:
        if not any(p.name == "pip" for p in snapshot.conda_packages):
            dependencies.append("pip")
        dependencies.append({"pip": pip_lines})
    document: dict[str, Any] = {"name": snapshot.name}
    if snapshot.channels:
        document["channels"] = list(snapshot.channels)
    document["dependencies"] = dependencies
    text = "\n".join(_header(snapshot)) + "\n" + dump_yaml(document)
    return scrub(text)


def render_platform_yml(snapshot: EnvironmentSnapshot) -> str:
    """``platform.yml``: the platform block of ``snapshot`` (an empty mapping if none)."""
    header = "# jupyter-mlops platform block: the machine an environment snapshot was taken on\n"
    body = dump_yaml(snapshot.platform) if snapshot.platform else "{}\n"
    return scrub(header + body)


def render_snapshot_json(snapshot: EnvironmentSnapshot, *, indent: int | None = None) -> str:
    """The snapshot as JSON (:meth:`~.model.EnvironmentSnapshot.to_dict` plus its hash), scrubbed."""
    import json

    data = snapshot.to_dict()
    data["content_hash"] = content_hash(snapshot)
    return scrub(json.dumps(data, indent=indent, sort_keys=True))


def write_snapshot(
    snapshot: EnvironmentSnapshot, path: Path | str, *, platform: bool = True
) -> list[Path]:
    """Write ``environment.yml`` to ``path`` and ``platform.yml`` beside it; the paths written.

    ``path`` may be a folder (``environment.yml`` is written in it) or a file
    name. With ``platform=False`` (or an empty platform block) only the
    environment file is written.
    """
    from pathlib import Path

    target = Path(path)
    if target.is_dir():
        target = target / ENVIRONMENT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_environment_yml(snapshot), encoding="utf-8")
    written = [target]
    if platform and snapshot.platform:
        platform_path = target.with_name(PLATFORM_FILE)
        platform_path.write_text(render_platform_yml(snapshot), encoding="utf-8")
        written.append(platform_path)
    return written


def run_artifacts(snapshot: EnvironmentSnapshot) -> dict[str, str]:
    """``{artifact path: text}`` to log with a tracked run, under ``environment/``.

    ``environment/environment.yml`` always; ``environment/platform.yml`` when
    the snapshot has a platform block. Both scrubbed.
    """
    artifacts = {f"{ARTIFACT_DIR}/{ENVIRONMENT_FILE}": render_environment_yml(snapshot)}
    if snapshot.platform:
        artifacts[f"{ARTIFACT_DIR}/{PLATFORM_FILE}"] = render_platform_yml(snapshot)
    return artifacts


def run_tags(snapshot: EnvironmentSnapshot) -> dict[str, str]:
    """Tags for a tracked run: the content hash (identical environments share it) and a summary."""
    tags = {
        HASH_TAG: content_hash(snapshot),
        mlops_tags.ENV_PYTHON: snapshot.python_version,
        mlops_tags.ENV_KIND: "requested-only" if snapshot.requested_only else "full",
        mlops_tags.ENV_PACKAGES: str(len(snapshot.conda_packages) + len(snapshot.pip_packages)),
    }
    return {key: scrub(value) for key, value in tags.items()}
