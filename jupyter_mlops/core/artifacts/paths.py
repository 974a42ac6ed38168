"""Where a run's artifact paths may lead, and what kind of file each is.

* :func:`clean_path` refuses, with a :class:`~jupyter_mlops.exceptions.UsageError`
  (HTTP 400), absolute paths, ``..`` segments (also percent-encoded, once or
  more: ``%2e%2e``, ``%252e%252e``), backslashes, NUL and control characters.
* :func:`confine` resolves every symlink and refuses, with a
  :class:`~jupyter_mlops.exceptions.PathError` (403), a path that lands outside
  the run's artifact folder.
* :func:`artifact_kind` / :func:`media_type`: how a file is previewed and served
  (text is served as ``text/plain``, never as something a browser would run).
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from jupyter_mlops.exceptions import PathError, UsageError

__all__ = [
    "MAX_PATH_CHARS",
    "MLMODEL_FILE",
    "artifact_kind",
    "clean_path",
    "confine",
    "local_root",
    "media_type",
]

MLMODEL_FILE = "MLmodel"
MAX_PATH_CHARS = 1024

_TEXT = {
    ".txt", ".log", ".csv", ".tsv", ".yaml", ".yml", ".json", ".jsonl", ".md", ".py",
    ".toml", ".ini", ".cfg", ".conf", ".sql", ".sh", ".r", ".rst", ".xml", ".ipynb",
    ".env", ".lock", ".out", ".err", ".tex",
}  # fmt: skip
_TEXT_NAMES = {MLMODEL_FILE, "requirements.txt", "Dockerfile", "LICENSE", "README"}
_IMAGES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_path(path: str | None) -> str:
    """``path`` as a normalised relative POSIX path (``""``: the root), or ``UsageError``."""
    raw = path or ""
    if len(raw) > MAX_PATH_CHARS:
        raise UsageError(f"Artifact path is longer than {MAX_PATH_CHARS} characters.")
    seen, current = [raw], raw
    for _ in range(4):  # every percent-decoding of it must be harmless too
        decoded = unquote(current)
        if decoded == current:
            break
        seen.append(decoded)
        current = decoded
    for form in seen:
        problem = _path_problem(form)
        if problem:
            raise UsageError(
                f"Artifact path {raw[:120]!r} is refused: {problem}.",
                hint="give a path relative to the run's artifact root, like 'plots/roc.png'",
            )
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    return "/".join(parts)


def _path_problem(form: str) -> str | None:
    if _CONTROL.search(form):
        return "it holds NUL or control characters"
    if "\\" in form:
        return "it holds a backslash"
    if form.startswith("/") or re.match(r"^[A-Za-z]:", form):
        return "it is absolute"
    if ".." in form.split("/"):
        return "it holds a '..' segment"
    return None


def local_root(artifact_uri: str) -> Path | None:
    """The folder of a local artifact URI (``file://`` or a plain path); ``None`` for remote ones."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" and artifact_uri.startswith("/"):
        return Path(artifact_uri)
    return None


def artifact_kind(path: str) -> str:
    """``image``, ``svg``, ``html``, ``text`` or ``binary``, from the file name."""
    name = PurePosixPath(path).name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in _IMAGES:
        return "image"
    if suffix == ".svg":
        return "svg"
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in _TEXT or name in _TEXT_NAMES:
        return "text"
    return "binary"


def media_type(path: str) -> str:
    """The ``Content-Type`` to serve ``path`` with (text as ``text/plain``, never sniffed as HTML)."""
    kind = artifact_kind(path)
    if kind == "image":
        return _IMAGES[PurePosixPath(path).suffix.lower()]
    return {
        "svg": "image/svg+xml",
        "html": "text/html; charset=utf-8",
        "text": "text/plain; charset=utf-8",
    }.get(kind, "application/octet-stream")


def confine(root: Path, rel: str, run_id: str) -> Path:
    """``root/rel`` with every symlink resolved; ``PathError`` when that leaves ``root``."""
    real_root = root.resolve()
    target = (real_root / rel).resolve() if rel else real_root
    if target != real_root and not target.is_relative_to(real_root):
        raise PathError(
            f"Artifact {rel!r} of run {run_id} leads outside the run's artifact folder "
            "(a symbolic link); it is not served.",
            hint="copy the file into the run's artifacts instead of linking to it",
            run_id=run_id,
        )
    return target
