"""Where a distribution came from: ``direct_url.json`` (PEP 610) and git checkouts.

``read_direct_url`` turns a ``direct_url.json`` into a :class:`DirectUrl` with
credentials stripped from the URL. For an editable install of a git checkout,
``git_origin`` reads the remote and the checked-out commit straight from the
``.git`` folder (config, ``HEAD``, loose and packed refs; worktrees and
``.git`` files included) instead of running ``git``: no subprocess, no
waiting, and the remote passes through :func:`strip_url_credentials`.
"""

from __future__ import annotations

import json
import os
import re

from jupyter_mlops.core.environment.model import DirectUrl
from jupyter_mlops.core.redact import strip_url_credentials

__all__ = ["file_url_to_path", "git_origin", "read_direct_url"]

_SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_REMOTE_RE = re.compile(r'^\s*\[\s*remote\s+"([^"]*)"\s*\]')
_URL_RE = re.compile(r"^\s*url\s*=\s*(.*?)\s*$")
_MAX_PARENTS = 40


def file_url_to_path(url: str) -> str | None:
    """``file:///home/u/proj`` -> ``/home/u/proj`` (``None`` for other schemes)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    path = unquote(parts.path)
    if re.match(r"^/[A-Za-z]:[/\\]", path):  # file:///C:/x on Windows
        path = path[1:]
    if parts.netloc and parts.netloc != "localhost":  # file://server/share
        path = f"//{parts.netloc}{path}"
    return path


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def read_direct_url(path: str) -> DirectUrl | None:
    """The ``direct_url.json`` at ``path`` as a :class:`DirectUrl`; None when unreadable."""
    try:
        data = json.loads(_read_text(path))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    url = strip_url_credentials(data["url"])
    subdirectory = data.get("subdirectory") if isinstance(data.get("subdirectory"), str) else None
    vcs_info = data.get("vcs_info")
    if isinstance(vcs_info, dict):
        return DirectUrl(
            kind="vcs",
            url=url,
            vcs=str(vcs_info.get("vcs", "git")),
            commit_id=_str_or_none(vcs_info.get("commit_id")),
            requested_revision=_str_or_none(vcs_info.get("requested_revision")),
            subdirectory=subdirectory,
        )
    local = file_url_to_path(url)
    dir_info = data.get("dir_info")
    if isinstance(dir_info, dict):
        editable = bool(dir_info.get("editable"))
        remote, commit = git_origin(local) if (editable and local) else (None, None)
        return DirectUrl(
            kind="editable" if editable else "dir",
            url=url,
            path=local,
            subdirectory=subdirectory,
            git_remote=remote,
            git_commit=commit,
        )
    return DirectUrl(kind="archive", url=url, path=local, subdirectory=subdirectory)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _find_git_dir(start: str) -> str | None:
    """The git directory of the checkout containing ``start`` (follows ``.git`` files)."""
    current = os.path.abspath(start)
    for _ in range(_MAX_PARENTS):
        dot_git = os.path.join(current, ".git")
        if os.path.isdir(dot_git):
            return dot_git
        if os.path.isfile(dot_git):
            try:
                text = _read_text(dot_git).strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                target = text[len("gitdir:") :].strip()
                return os.path.normpath(os.path.join(current, target))
            return None
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None


def _common_dir(git_dir: str) -> str:
    """The shared git directory (differs from ``git_dir`` in a linked worktree)."""
    try:
        common = _read_text(os.path.join(git_dir, "commondir")).strip()
    except OSError:
        return git_dir
    return os.path.normpath(os.path.join(git_dir, common))


def _remote_url(config_text: str) -> str | None:
    """URL of ``origin`` in a git config, else of the first remote that has one."""
    urls: dict[str, str] = {}
    section: str | None = None
    for line in config_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            match = _REMOTE_RE.match(stripped)
            section = match.group(1) if match else None
            continue
        if section is not None and section not in urls:
            url_match = _URL_RE.match(line)
            if url_match:
                urls[section] = url_match.group(1).strip('"')
    if "origin" in urls:
        return urls["origin"]
    return next(iter(urls.values()), None)


def _resolve_ref(git_dir: str, ref: str) -> str | None:
    try:
        value = _read_text(os.path.join(git_dir, ref)).strip()
    except OSError:
        value = ""
    if _SHA_RE.match(value):
        return value
    try:
        packed = _read_text(os.path.join(git_dir, "packed-refs"))
    except OSError:
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name.strip() == ref and _SHA_RE.match(sha):
            return sha
    return None


def git_origin(path: str) -> tuple[str | None, str | None]:
    """``(remote url without credentials, HEAD commit)`` of the checkout holding ``path``.

    Either part is None when unknown (not a checkout, no remote, unborn branch).
    """
    git_dir = _find_git_dir(path)
    if git_dir is None:
        return None, None
    common = _common_dir(git_dir)
    try:
        config = _read_text(os.path.join(common, "config"))
    except OSError:
        config = ""
    remote = _remote_url(config)
    commit: str | None = None
    try:
        head = _read_text(os.path.join(git_dir, "HEAD")).strip()
    except OSError:
        head = ""
    if head.startswith("ref:"):
        ref = head[len("ref:") :].strip()
        commit = _resolve_ref(git_dir, ref) or _resolve_ref(common, ref)
    elif _SHA_RE.match(head):
        commit = head
    return (strip_url_credentials(remote) if remote else None), commit
