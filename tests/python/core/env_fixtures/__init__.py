"""Builders for the environment-snapshot tests: real wheels, real site-packages layouts.

Everything is written into a test's ``tmp_path``: ``*.dist-info`` folders as
pip writes them (``METADATA``, ``INSTALLER``, ``REQUESTED``,
``direct_url.json``), ``.egg-info``, a venv-shaped prefix (``pyvenv.cfg`` +
``lib/pythonX.Y/site-packages``), a conda prefix (``conda-meta/*.json`` and
``history``), git repositories with credentials in their remote, and tiny
pure-Python wheels that pip installs offline (``--no-index --find-links``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "build_wheel",
    "git_repo",
    "make_conda_prefix",
    "make_venv_prefix",
    "write_conda_record",
    "write_dist_info",
    "write_egg_info",
]


def write_dist_info(
    site: Path,
    name: str,
    version: str,
    *,
    folder: str | None = None,
    requested: bool = False,
    installer: str | None = "pip",
    direct_url: Mapping[str, Any] | None = None,
    metadata_name: str | None = None,
) -> Path:
    """A ``{name}-{version}.dist-info`` folder (or ``folder``) as an installer leaves it."""
    dist = site / (folder or f"{name.replace('-', '_')}-{version}.dist-info")
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {metadata_name or name}\nVersion: {version}\n"
        "Summary: a test distribution\n\nLong description.\nName: not-a-header\n",
        encoding="utf-8",
    )
    if installer is not None:
        (dist / "INSTALLER").write_text(f"{installer}\n", encoding="utf-8")
    if requested:
        (dist / "REQUESTED").write_text("", encoding="utf-8")
    if direct_url is not None:
        (dist / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return dist


def write_egg_info(where: Path, name: str, version: str, *, as_file: bool = False) -> Path:
    """An ``.egg-info`` folder (or single file) with a ``PKG-INFO``."""
    pkg_info = f"Metadata-Version: 1.1\nName: {name}\nVersion: {version}\n"
    path = where / f"{name.replace('-', '_')}-{version}-py3.11.egg-info"
    if as_file:
        path.write_text(pkg_info, encoding="utf-8")
    else:
        path.mkdir(parents=True)
        (path / "PKG-INFO").write_text(pkg_info, encoding="utf-8")
    return path


def make_venv_prefix(root: Path, *, version: str = "3.12.4") -> tuple[Path, Path]:
    """A venv-shaped prefix (``pyvenv.cfg``, empty site-packages): ``(prefix, site)``."""
    minor = ".".join(version.split(".")[:2])
    site = root / "lib" / f"python{minor}" / "site-packages"
    site.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text(
        f"home = /nonexistent/bin\ninclude-system-site-packages = false\nversion = {version}\n",
        encoding="utf-8",
    )
    return root, site


def write_conda_record(
    prefix: Path,
    name: str,
    version: str,
    build: str,
    *,
    channel: str | None,
    url: str | None = None,
    requested_spec: str = "",
) -> Path:
    """One ``conda-meta/<name>-<version>-<build>.json`` record, shaped as conda writes it."""
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "build": build,
        "build_number": 0,
        "depends": [],
        "files": [f"lib/{name}/file{i}.py" for i in range(3)],
        "fn": f"{name}-{version}-{build}.conda",
        "name": name,
        "version": version,
        "requested_spec": requested_spec,
        "paths_data": {"paths": [], "paths_version": 1},
        "subdir": "linux-64",
    }
    if channel is not None:
        record["channel"] = channel
    if url is not None:
        record["url"] = url
    path = meta / f"{name}-{version}-{build}.json"
    path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return path


def make_conda_prefix(root: Path, history: str, records: Iterable[dict[str, Any]]) -> Path:
    """A conda prefix: ``conda-meta`` records, a history, an empty site-packages."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    for record in records:
        write_conda_record(root, **record)
    (root / "conda-meta" / "history").write_text(history, encoding="utf-8")
    return root


def git_repo(path: Path, remote: str, *, pack_refs: bool = False) -> str:
    """A git repository at ``path`` with one commit and ``origin`` = ``remote``; its HEAD."""
    path.mkdir(parents=True, exist_ok=True)

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=path, check=True, capture_output=True, text=True
        ).stdout.strip()

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "T")
    git("remote", "add", "origin", remote)
    (path / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    git("add", "pyproject.toml")
    git("commit", "-q", "-m", "first")
    if pack_refs:
        git("pack-refs", "--all")
    return git("rev-parse", "HEAD")


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build_wheel(dest: Path, name: str, version: str, *, requires: Iterable[str] = ()) -> Path:
    """A real, installable pure-Python wheel ``{name}-{version}-py3-none-any.whl`` in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{dist_info}/METADATA": metadata.encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: jupyter-mlops-tests\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "\n".join([*(_record_line(n, d) for n, d in files.items()), f"{dist_info}/RECORD,,"])
    files[f"{dist_info}/RECORD"] = (record + "\n").encode()
    wheel = dest / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in files.items():
            zf.writestr(arcname, data)
    return wheel
