"""Path confinement: every user-supplied path must resolve inside a root folder.

:func:`confine` resolves symlinks before comparing, so a link that points out of
the root is refused like ``..`` or an absolute path elsewhere. The comparison is
by path components, so ``/root-x`` is not inside ``/root``.
:func:`declared_path` checks the relative paths a pipeline declares (inputs,
outputs, metrics): they go into ``dvc.yaml``, where DVC would interpolate
``${...}``, so that and control characters are refused too.
:func:`resolve` turns a path from a request (relative, POSIX style) into a real
path inside the root; :func:`relative` and :func:`strip_root` show paths to the
user relative to the root again, as the file browser does.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from jupyter_mlops.exceptions import MlopsError, NotFoundError, PathError, UsageError

__all__ = [
    "confine",
    "declared_path",
    "relative",
    "resolve",
    "strip_root",
    "strip_root_from",
]


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise PathError(f"{what} contains a NUL byte: {text!r}")


def confine(path: Path | str, root: Path | str) -> Path:
    """``path`` resolved (symlinks included), refused with :class:`PathError` if outside ``root``.

    A relative ``path`` is taken relative to ``root``. The path need not exist;
    the existing part of it is resolved through any symlinks.
    """
    _check_text(os.fspath(path), "path")
    _check_text(os.fspath(root), "root")
    try:
        root_real = Path(root).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise PathError(f"root folder {os.fspath(root)!r} cannot be used: {exc}") from exc
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root_real / candidate
    try:
        real = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops
        raise PathError(f"path {os.fspath(path)!r} cannot be resolved: {exc}") from exc
    if real != root_real and not real.is_relative_to(root_real):
        raise PathError(
            f"path {os.fspath(path)!r} is outside the root folder {str(root_real)!r}",
            hint="use a path inside the server root; symlinks are followed before this check",
        )
    return real


def declared_path(text: object, what: str) -> str:
    """A declared pipeline path (relative, inside the pipeline folder), normalised to POSIX form."""
    if not isinstance(text, str) or not text.strip():
        raise PathError(f"{what} must be a non-empty relative path, got {text!r}")
    _check_text(text, what)
    if any(ch in text for ch in "\n\r\t") or "${" in text:
        raise PathError(
            f"{what} {text!r} contains a control character or '${{'",
            hint="DVC interpolates '${...}' in dvc.yaml; rename the file",
        )
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or text.startswith("~"):
        raise PathError(
            f"{what} {text!r} must be relative to the pipeline folder, without '..'",
        )
    normal = pure.as_posix()
    if normal in ("", "."):
        raise PathError(f"{what} {text!r} names the pipeline folder itself")
    return normal


def resolve(
    root: Path, text: object, what: str, *, must_exist: bool = True, allow_hidden: bool = False
) -> Path:
    """``text`` (a relative POSIX path from a request) as a real path inside ``root``.

    Like the contents manager, hidden files and folders (a part starting with
    ``.``, before or after following symlinks) are refused unless ``allow_hidden``.
    """
    if not isinstance(text, str) or not text.strip():
        raise UsageError(f"{what} must be a non-empty path relative to the server root.")
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("~"):
        raise UsageError(
            f"{what} {text[:200]!r} is absolute; paths are relative to the server root.",
            hint="use the path the file browser shows, e.g. notebooks/train.ipynb",
        )
    if ".." in posix.parts or ".." in windows.parts:
        raise UsageError(f"{what} {text[:200]!r} must not contain '..'.")
    path = confine(text, root)
    hidden = [p for p in (*posix.parts, *path.relative_to(root).parts) if p.startswith(".")]
    if hidden and not allow_hidden:
        raise NotFoundError(
            f"{what} {text[:200]!r} is hidden (a name starts with '.').",
            hint="the server does not serve hidden files (c.ContentsManager.allow_hidden)",
        )
    if must_exist and not path.exists():
        raise NotFoundError(f"{what} {text[:200]!r} does not exist under the server root.")
    return path


def relative(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root`` in POSIX form (``"."`` for the root itself)."""
    return Path(path).relative_to(root).as_posix()


def strip_root(text: str, root: Path | str) -> str:
    """``text`` with the ``root/`` prefix taken out of the paths in it."""
    return text.replace(f"{root}{os.sep}", "")


def strip_root_from(exc: MlopsError, root: Path | str) -> MlopsError:
    """``exc`` with :func:`strip_root` applied to its message and ``errors`` (in place)."""
    exc.message = strip_root(exc.message, root)
    if exc.errors is not None:
        exc.errors = [strip_root(error, root) for error in exc.errors]
    return exc
