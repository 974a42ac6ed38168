"""Dependency lines of ``environment.yml`` and the content hash built from them.

One place decides how a package is written, so that rendering, parsing back
and hashing agree:

* ``python``: ``python=X.Y`` outside conda; in a conda prefix the exact
  ``python=3.11.7=<build>`` (build left out in requested-only snapshots).
* conda packages: ``name=version=build``, or ``name=version`` for
  requested-only snapshots (builds are platform specific: the portable form).
* pip packages: ``name==version``; an editable install ``-e /path``; a VCS
  install ``name @ git+https://host/repo.git@<commit>``; a remote archive
  ``name @ https://...``. Those three do not show their version, so the
  renderer adds it as a YAML comment after the line
  (``# pin: name==version``): conda never sees it, tools that read the
  ``pip:`` list as PEP 508 requirements are not confused by it, and the parser
  here reads it back for diffs and drift checks. A local archive or a
  non-editable local folder is written as ``name==version``: its path would
  not exist on another machine.

:func:`content_hash` is a sha256 over the Python spec and the sorted conda and
pip pins (name, version, build, VCS commit): independent of ordering, of the
environment name, channels, requested flags, editable paths and the platform
block. Identical environments share a hash, and a snapshot parsed back from its
own ``environment.yml`` has the hash of the snapshot it was written from.
"""

from __future__ import annotations

from jupyter_mlops.core.environment.model import (
    CondaPackage,
    EnvironmentSnapshot,
    PipPackage,
    python_minor,
)

__all__ = [
    "conda_spec",
    "conda_specs",
    "content_hash",
    "pip_identity",
    "pip_pin_comment",
    "pip_requirement",
    "python_spec",
]


def python_spec(snapshot: EnvironmentSnapshot) -> str:
    """The ``python`` dependency line: ``python=3.11`` or ``python=3.11.7=<build>``."""
    if not snapshot.python_version:
        return "python"
    if not snapshot.is_conda:
        return f"python={python_minor(snapshot.python_version)}"
    spec = f"python={snapshot.python_version}"
    if snapshot.python_build and not snapshot.requested_only:
        spec += f"={snapshot.python_build}"
    return spec


def conda_spec(package: CondaPackage, *, requested_only: bool = False) -> str:
    """``name=version=build`` (``name=version`` when requested-only or without a build)."""
    if not package.version:
        return package.name
    spec = f"{package.name}={package.version}"
    if package.build and not requested_only:
        spec += f"={package.build}"
    return spec


def conda_specs(snapshot: EnvironmentSnapshot) -> list[str]:
    """Every conda dependency line, python first, then by name."""
    return [python_spec(snapshot)] + [
        conda_spec(p, requested_only=snapshot.requested_only)
        for p in sorted(snapshot.conda_packages, key=lambda p: p.name)
    ]


def _pin(package: PipPackage) -> str:
    return f"{package.name}=={package.version}" if package.version else package.name


def _vcs_url(package: PipPackage) -> str | None:
    url = package.direct_url
    if url is None or url.kind != "vcs":
        return None
    text = f"{url.vcs or 'git'}+{url.url}"
    revision = url.commit_id or url.requested_revision
    if revision:
        text += f"@{revision}"
    if url.subdirectory:
        text += f"#subdirectory={url.subdirectory}"
    return text


def pip_requirement(package: PipPackage) -> str:
    """The ``pip:`` line for ``package``: a pin, ``-e path`` or ``name @ url`` (PEP 508)."""
    url = package.direct_url
    pin = _pin(package)
    if url is None:
        return pin
    if url.kind == "editable" and url.path:
        import shlex

        return f"-e {shlex.quote(url.path)}"
    vcs = _vcs_url(package)
    if vcs:
        return f"{package.name} @ {vcs}"
    if url.kind == "archive" and not url.url.startswith("file:"):
        return f"{package.name} @ {url.url}"
    return pin


def pip_pin_comment(package: PipPackage) -> str | None:
    """``pin: name==version`` for a line that does not show its version (editable, URL).

    Written as a YAML comment after the line, so neither conda nor tools that
    read the ``pip:`` list as PEP 508 requirements see it. An editable git
    checkout adds where its source lives: ``(git+https://host/repo.git@<commit>)``,
    or ``(git <remote> <commit>)`` for a remote that is not a URL.
    """
    if pip_requirement(package) == _pin(package):
        return None
    comment = f"pin: {_pin(package)}"
    url = package.direct_url
    if url is not None and url.kind == "editable" and url.git_remote and url.git_commit:
        if "://" in url.git_remote:  # what pip would install: git+https://host/repo.git@<commit>
            comment += f" (git+{url.git_remote}@{url.git_commit})"
        else:  # scp-like (git@host:org/repo.git) or a local path
            comment += f" (git {url.git_remote} {url.git_commit})"
    return comment


def pip_identity(package: PipPackage) -> str:
    """What identifies a pip package's content: version, plus the commit of a VCS install."""
    identity = package.version or "*"
    url = package.direct_url
    if url is not None and url.kind == "vcs" and url.commit_id:
        identity += f"@{url.commit_id}"
    return identity


def content_hash(snapshot: EnvironmentSnapshot) -> str:
    """Stable sha256 (hex) of the environment's content; see the module docstring."""
    lines = [f"python {python_spec(snapshot)}"]
    lines += sorted(
        f"conda {conda_spec(p, requested_only=snapshot.requested_only)}"
        for p in snapshot.conda_packages
    )
    lines += sorted(f"pip {p.name}=={pip_identity(p)}" for p in snapshot.pip_packages)
    return _sha256("\n".join(lines).encode("utf-8"))


def _sha256(data: bytes) -> str:
    try:  # the built-in module: hashlib would first load OpenSSL (milliseconds)
        from _sha256 import sha256  # type: ignore[import-not-found]
    except ImportError:  # Python >= 3.12 renamed it; any build has hashlib
        from hashlib import sha256
    return str(sha256(data).hexdigest())
