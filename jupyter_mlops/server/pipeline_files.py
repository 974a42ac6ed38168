"""What the pipeline routes do with files under the server root (blocking; run in the thread pool).

* :func:`~jupyter_mlops.core.pipeline.paths.resolve` turns a path from a request
  (relative, POSIX style) into a real path inside the root: absolute paths, ``..``
  and symlinks that lead out are refused.
* :func:`check_export_body` checks the shape of a ``POST pipelines/export`` body.
* :func:`scan_pipelines` finds exported pipelines (``pipeline.yaml``) for ``GET pipelines``.
* :func:`notebook_parameters` is ``GET pipelines/parameters``.
* :func:`export_notebooks` is ``POST pipelines/export``, tagging the ``parameters``
  cell first when asked (the notebook is written back atomically, and restored
  when the export then fails, so a refused export leaves nothing changed).

Paths in what these return are relative to the root, POSIX style.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.paths import confine, relative, resolve, strip_root_from
from jupyter_mlops.exceptions import MlopsError, UsageError

__all__ = [
    "MAX_DEPTH",
    "MAX_PIPELINES",
    "check_export_body",
    "export_notebooks",
    "notebook_parameters",
    "scan_pipelines",
    "write_notebook",
]

MAX_DEPTH = 6
"""Folders below the root that :func:`scan_pipelines` looks into."""
MAX_PIPELINES = 200
"""Pipelines :func:`scan_pipelines` lists at most (``truncated`` says when there were more)."""
MAX_FOLDERS = 20_000
"""Folders :func:`scan_pipelines` visits at most, so a huge root cannot stall a request."""
SKIPPED_FOLDERS = frozenset({"node_modules", "runs", "outputs", "__pycache__", "site-packages"})
PREVIEW_CHARS = 80


def check_export_body(body: dict[str, Any]) -> tuple[list[Any], Any, str | None, int | None]:
    """``(notebooks, output, name, tag_cell)`` of an export body (paths are checked later)."""
    notebooks, name, tag_cell = body.get("notebooks"), body.get("name"), body.get("tag_cell")
    if not isinstance(notebooks, list) or not notebooks or len(notebooks) > 100:
        raise UsageError("notebooks must be a list of 1 to 100 notebook paths.")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise UsageError("name must be a string of at most 200 characters.")
    if tag_cell is not None:
        if isinstance(tag_cell, bool) or not isinstance(tag_cell, int):
            raise UsageError("tag_cell must be the index of a code cell (an integer).")
        if len(notebooks) != 1:
            raise UsageError(
                "tag_cell goes with exactly one notebook.",
                hint="tag the parameters cell of each notebook first, then export them together",
            )
    unknown = sorted(set(body) - {"notebooks", "output", "name", "tag_cell"})
    if unknown:
        raise UsageError(f"unknown fields: {', '.join(unknown)}")
    return notebooks, body.get("output"), name or None, tag_cell


def _rest_parameter(entry: dict[str, Any]) -> dict[str, Any]:
    """A parameter as the REST contract shows it: type ``any`` where none was inferred."""
    out = dict(entry)
    if out.get("type") not in ("int", "float", "str", "bool", "list", "dict"):
        out["type"] = "any"
    return out


def _folders(root: Path) -> Iterator[tuple[Path, int]]:
    """Folders under ``root`` (itself included), breadth first, symlinks never followed."""
    queue: list[tuple[Path, int]] = [(root, 0)]
    while queue:
        folder, depth = queue.pop(0)
        yield folder, depth
        if depth >= MAX_DEPTH:
            continue
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name in SKIPPED_FOLDERS:
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    queue.append((Path(entry.path), depth + 1))


def _read_pipeline(root: Path, folder: Path) -> dict[str, Any] | None:
    """The listing entry of ``folder/pipeline.yaml``, or None when it is not a usable pipeline."""
    import yaml

    manifest = folder / "pipeline.yaml"
    try:
        confine(manifest, root)
        document = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    except (MlopsError, OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        return None
    steps = []
    for step in document["steps"]:
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            return None
        params = step.get("parameters") or {}
        depends = step.get("depends_on") or []
        steps.append(
            {
                "name": step["name"],
                "notebook": str(step.get("notebook") or f"notebooks/{step['name']}.ipynb"),
                "depends_on": [str(d) for d in depends] if isinstance(depends, list) else [],
                "parameters": {
                    str(k): _rest_parameter(v)
                    for k, v in (params.items() if isinstance(params, dict) else [])
                    if isinstance(v, dict)
                },
            }
        )
    name = document.get("name")
    return {
        "path": relative(root, folder),
        "name": name if isinstance(name, str) and name else folder.name,
        "steps": steps,
    }


def scan_pipelines(root: Path) -> dict[str, Any]:
    """``GET pipelines``: every folder under ``root`` with a readable ``pipeline.yaml``."""
    found: list[dict[str, Any]] = []
    truncated = False
    for visited, (folder, _depth) in enumerate(_folders(root)):
        if visited >= MAX_FOLDERS:
            truncated = True
            break
        if not (folder / "pipeline.yaml").is_file():
            continue
        entry = _read_pipeline(root, folder)
        if entry is None:
            continue
        if len(found) >= MAX_PIPELINES:
            truncated = True
            break
        found.append(entry)
    found.sort(key=lambda p: p["path"])
    return {"pipelines": found, "truncated": truncated}


def notebook_parameters(
    root: Path, text: str | None, *, allow_hidden: bool = False
) -> dict[str, Any]:
    """``GET pipelines/parameters``: the tagged cell's parameters and the code cells to choose from."""
    from jupyter_mlops.core.pipeline import infer_parameters, parameters_cell_index, read_notebook
    from jupyter_mlops.core.pipeline.notebook import cell_source

    path = resolve(root, text, "path", allow_hidden=allow_hidden)
    rel = relative(root, path)
    nb = _read(path, rel, read_notebook)
    index = parameters_cell_index(nb)
    params = [] if index is None else _read(nb, rel, infer_parameters)
    cells = [
        {"index": i, "preview": cell_source(cell)[:PREVIEW_CHARS]}
        for i, cell in enumerate(nb["cells"])
        if cell.get("cell_type") == "code"
    ]
    return {
        "path": rel,
        "parameters_cell": index,
        "parameters": [_rest_parameter(p.describe()) for p in params],
        "cells": cells,
    }


def _read(arg: Any, rel: str, fn: Any) -> Any:
    """``fn(arg)``; errors name the notebook by its root-relative path, not its absolute one."""
    try:
        return fn(arg)
    except MlopsError as exc:
        if isinstance(arg, Path):
            exc.message = exc.message.replace(repr(str(arg)), repr(rel))
        if rel not in exc.message:
            exc.message = f"{rel}: {exc.message}"
        exc.notebook = rel
        raise


def write_notebook(path: Path, nb: dict[str, Any]) -> None:
    """Write ``nb`` to ``path`` atomically, formatted as Jupyter does (indent 1, UTF-8, final newline)."""
    text = json.dumps(nb, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    _write_atomic(path, text.encode("utf-8"))


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def export_notebooks(
    root: Path, body: dict[str, Any], *, allow_hidden: bool = False
) -> dict[str, Any]:
    """``POST pipelines/export``: write the pipeline folder; tag the ``parameters`` cell first if asked."""
    from jupyter_mlops.core.pipeline import export_pipeline, read_notebook, tag_parameters_cell

    notebooks, output, name, tag_cell = check_export_body(body)
    sources = [resolve(root, nb, "notebook", allow_hidden=allow_hidden) for nb in notebooks]
    for source in sources:
        if source.suffix != ".ipynb" or not source.is_file():
            raise UsageError(f"{relative(root, source)!r} is not a notebook (.ipynb) file.")
    target = resolve(root, output, "output", must_exist=False, allow_hidden=allow_hidden)
    if target == root:
        raise UsageError("output must be a folder below the server root, not the root itself.")
    if target.exists() and not target.is_dir():
        raise UsageError(f"output {relative(root, target)!r} exists and is not a folder.")
    original: bytes | None = None
    if tag_cell is not None:
        rel = relative(root, sources[0])
        nb = _read(sources[0], rel, read_notebook)
        tagged = _read(nb, rel, lambda n: tag_parameters_cell(n, tag_cell))
        original = sources[0].read_bytes()
        write_notebook(sources[0], tagged)
    try:
        result = export_pipeline(sources, target, root=root, name=name)
    except BaseException as exc:
        if original is not None:
            _write_atomic(sources[0], original)
        if isinstance(exc, MlopsError):
            strip_root_from(exc, root)
        raise
    return {
        "path": relative(root, result.out_dir),
        "name": result.name,
        "steps": [step.name for step in result.steps],
        "files": [relative(root, f) for f in result.files],
        "warnings": list(result.warnings),
    }
