"""Path confinement: every user-supplied path must resolve inside a root folder.

:func:`confine` resolves symlinks before comparing, so a link that points out of
the root is refused like ``..`` or an absolute path elsewhere. The comparison is
by path components, so ``/root-x`` is not inside ``/root``.
:func:`declared_path` checks the relative paths a pipeline declares (inputs,
outputs, metrics): they go into ``dvc.yaml``, where DVC would interpolate
``${...}``, so that and control characters are refused too.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from jupyter_mlops.exceptions import PathError

__all__ = ["confine", "declared_path"]


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
