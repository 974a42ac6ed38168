"""The artifact queue's staging folder: validation, staged copies, manifest and owner sidecar.

The queue of run ``R`` lives in ``<spool_dir>/R.artifacts/``::

    owner.json        a QueueOwner: run id, tracking URI without credentials, owner pid,
                      process start time, host, and whether the owner closed the queue
    manifest.jsonl    append-only, one JSON array per line (see below)
    .lock             flock'ed by whoever delivers (owner thread, recoverer)
    entries/<id>/     the staged content of one entry
    report-<id>.lock  flock'ed by the worker rendering report entry <id> while it lives

Manifest lines::

    ["a", id, name, artifact_path]   upload entries/<id>/<name> into artifact_path (or the root)
    ["A", id, artifact_path]         upload the contents of entries/<id>/ into artifact_path
    ["r", id, stem, artifact_dir]    upload entries/<id>/<stem>.ipynb and its HTML report
    ["d", id]                        entry delivered (its staged files are then removed)
    ["x", id]                        entry given up (rejected by the store, or discarded)

Every line is one ``os.write`` on an ``O_APPEND`` descriptor, so writers in several
processes never interleave. A line cut short by a crash does not parse and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlops.core.tracking.owner import OwnerRecord
from jupyter_mlops.exceptions import InvalidValueError

__all__ = [
    "DONE",
    "DROPPED",
    "ENTRIES",
    "FILE",
    "LOCK",
    "MANIFEST",
    "OWNER",
    "QUEUE_SUFFIX",
    "REPORT",
    "TREE",
    "Entry",
    "QueueOwner",
    "append_line",
    "check_artifact_path",
    "check_readable",
    "clone_or_copy",
    "copy_tree",
    "figure_saver",
    "read_manifest",
    "remove_tree",
    "serialize_dict",
    "source_path",
    "split_artifact_file",
    "try_lock",
]

QUEUE_SUFFIX = ".artifacts"
MANIFEST = "manifest.jsonl"
OWNER = "owner.json"
LOCK = ".lock"
ENTRIES = "entries"
FILE, TREE, REPORT, DONE, DROPPED = "a", "A", "r", "d", "x"

_FICLONE = 0x40049409  # Linux ioctl: copy-on-write clone (btrfs, xfs, ...)
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


def check_artifact_path(value: str | None, what: str = "artifact_path") -> str | None:
    """``value`` as a normalized relative POSIX path, None for the run's root.

    Raises :class:`InvalidValueError` for a non-string, an absolute path, a
    backslash, a NUL or a ``..`` part.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValueError(
            f"{what} must be a string, not {type(value).__name__}.",
            hint="give a relative path inside the run's artifacts, e.g. 'plots'",
        )
    hint = "give a relative path inside the run's artifacts, e.g. 'plots' or 'data/table.csv'"
    if "\\" in value or "\x00" in value:
        raise InvalidValueError(f"{what} {value!r} contains a backslash or NUL.", hint=hint)
    if value.startswith("/") or _DRIVE_RE.match(value):
        raise InvalidValueError(f"{what} {value!r} is absolute.", hint=hint)
    if ".." in value.split("/"):
        raise InvalidValueError(f"{what} {value!r} leaves the run's artifacts ('..').", hint=hint)
    normalized = posixpath.normpath(value) if value else "."
    return None if normalized == "." else normalized


def split_artifact_file(artifact_file: str) -> tuple[str | None, str]:
    """``(artifact_dir, file_name)`` of a run-relative file path, as MLflow splits it."""
    path = check_artifact_path(artifact_file, "artifact_file")
    if path is None or artifact_file.endswith("/"):
        raise InvalidValueError(
            f"artifact_file {artifact_file!r} names no file.",
            hint="give a file path such as 'metrics.json' or 'reports/summary.txt'",
        )
    directory, name = posixpath.split(path)
    return directory or None, name


def source_path(value: str | os.PathLike[str], what: str) -> Path:
    """``value`` as a Path; :class:`InvalidValueError` if it is not path-like."""
    try:
        return Path(os.fspath(value))
    except TypeError:
        raise InvalidValueError(
            f"{what} must be a path, not {type(value).__name__}.",
            hint="give the path of a file as a string or pathlib.Path",
        ) from None


def check_readable(src: Path) -> None:
    """:class:`InvalidValueError` unless ``src`` can be opened for reading."""
    try:
        with open(src, "rb"):
            pass
    except FileNotFoundError:
        raise InvalidValueError(
            f"{src} does not exist.",
            hint=f"check the path; relative paths start in the working directory {Path.cwd()}",
        ) from None
    except OSError as exc:
        raise InvalidValueError(
            f"Cannot read {src}: {exc.strerror}.", hint="check the file's permissions"
        ) from None


def serialize_dict(dictionary: Any, name: str) -> str:
    """The text ``mlflow.log_dict`` writes: YAML for ``.yml``/``.yaml``, else JSON."""
    try:
        if os.path.splitext(name)[1] in (".yml", ".yaml"):
            import yaml

            return str(yaml.dump(dictionary, indent=2, default_flow_style=False))
        return json.dumps(dictionary, indent=2, default=str)
    except Exception as exc:
        raise InvalidValueError(
            f"Could not serialize the dictionary for {name!r}: {exc}",
            hint="log plain dicts, lists, strings and numbers (or use a .json file name)",
        ) from None


def figure_saver(
    figure: Any, name: str, save_kwargs: dict[str, Any] | None
) -> Callable[[Path], None]:
    """How ``mlflow.log_figure`` saves ``figure`` as file ``name`` (matplotlib or plotly)."""
    save = _figure_method(figure, os.path.splitext(name)[1], dict(save_kwargs or {}))

    def save_as(path: Path) -> None:
        try:
            save(path)
        except OSError:
            raise
        except Exception as exc:
            raise InvalidValueError(
                f"Could not save the figure as {name!r}: {exc}",
                hint="check the file extension and save_kwargs",
            ) from None

    return save_as


def _figure_method(figure: Any, ext: str, kwargs: dict[str, Any]) -> Callable[[Path], None]:
    if "matplotlib" in sys.modules:
        import matplotlib.figure

        if isinstance(figure, matplotlib.figure.Figure):
            return lambda path: figure.savefig(path, **kwargs)
    if "plotly" in sys.modules:
        import plotly.graph_objects  # type: ignore[import-not-found]

        if isinstance(figure, plotly.graph_objects.Figure):
            if ext == ".html":
                kwargs.setdefault("include_plotlyjs", "cdn")
                kwargs.setdefault("auto_open", False)
                return lambda path: figure.write_html(path, **kwargs)
            if ext in (".png", ".jpeg", ".webp", ".svg", ".pdf"):
                return lambda path: figure.write_image(path, **kwargs)
            raise InvalidValueError(
                f"Unsupported file extension for a plotly figure: {ext!r}.",
                hint="use .html, .png, .jpeg, .webp, .svg or .pdf",
            )
    raise InvalidValueError(
        f"Unsupported figure object type: {type(figure).__name__}.",
        hint="log a matplotlib.figure.Figure or a plotly.graph_objects.Figure",
    )


def copy_tree(src: Path, dest: Path) -> None:
    """Copy folder ``src``'s contents into ``dest`` (links followed, as MLflow does)."""
    try:
        shutil.copytree(src, dest, copy_function=clone_or_copy, dirs_exist_ok=True)
    except shutil.Error as exc:
        first = exc.args[0][0] if exc.args and exc.args[0] else exc
        raise InvalidValueError(
            f"Could not read everything in {src}: {first}",
            hint="fix or remove the unreadable files (broken links?) and log again",
        ) from None


def clone_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy file ``src`` to ``dst``: a copy-on-write clone where the filesystem has one.

    Never a hard link: the user may rewrite their file in place right after logging
    it, and the staged copy must keep what it held at the call.
    """
    if sys.platform.startswith("linux"):
        import fcntl

        try:
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            return
        except OSError:
            pass  # no reflink here: a plain (in-kernel) copy below
    shutil.copyfile(src, dst)


def try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive ``flock`` on ``path``, or None if held elsewhere.

    The same lock as :mod:`jupyter_mlops.core.tracking.recovery` uses; the operating system
    drops it when every descriptor sharing it is closed (its holders died).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # the queue folder is gone
        return None
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise OSError("the lock file was replaced")  # the folder was removed meanwhile
    except OSError:
        os.close(fd)
        return None
    return fd


def append_line(path: Path, record: list[object], *, fsync: bool = False) -> None:
    """Append one manifest line with a single ``os.write`` (``fsync`` on request)."""
    data = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """One staged upload: ``kind`` is ``a`` (file), ``A`` (folder contents) or ``r`` (report)."""

    kind: str
    id: str
    name: str  # file name (a), "" (A), notebook stem (r)
    artifact_path: str | None

    def record(self) -> list[object]:
        """The manifest line of this entry."""
        if self.kind == TREE:
            return [TREE, self.id, self.artifact_path]
        return [self.kind, self.id, self.name, self.artifact_path]


def read_manifest(path: Path) -> list[Entry]:
    """The entries of a manifest that are neither delivered nor dropped, in order."""
    pending: dict[str, Entry] = {}
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    for raw in data.split(b"\n"):
        try:
            rec = json.loads(raw)
        except ValueError:
            continue  # empty, or a line cut short by a crash
        if not isinstance(rec, list) or len(rec) < 2 or not isinstance(rec[1], str):
            continue
        kind, entry_id = rec[0], rec[1]
        if kind in (DONE, DROPPED):
            pending.pop(entry_id, None)
        elif kind == TREE and len(rec) == 3:
            pending[entry_id] = Entry(TREE, entry_id, "", rec[2])
        elif kind in (FILE, REPORT) and len(rec) == 4 and isinstance(rec[2], str):
            pending[entry_id] = Entry(kind, entry_id, rec[2], rec[3])
    return list(pending.values())


@dataclass
class QueueOwner(OwnerRecord):
    """Who owns a queue folder (no credentials), and whether it closed the queue."""

    closed: bool = False


def remove_tree(path: Path) -> None:
    """Remove a folder, ignoring one that is already gone."""
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)
