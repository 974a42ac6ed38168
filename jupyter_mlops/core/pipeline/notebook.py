"""Reading ``.ipynb`` JSON directly (nbformat is slow to import) and the ``parameters`` cell.

::

    nb = read_notebook("train.ipynb")           # dict; clear errors on malformed files
    index = parameters_cell_index(nb)           # None when no cell is tagged
    nb2 = tag_parameters_cell(nb, 0)            # a copy with cell 0 tagged ``parameters``
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from jupyter_mlops.exceptions import InvalidValueError, PathError, UsageError

__all__ = [
    "PARAMETERS_TAG",
    "cell_source",
    "declarations",
    "parameters_cell_index",
    "read_notebook",
    "tag_parameters_cell",
]

PARAMETERS_TAG = "parameters"
METADATA_KEY = "jupyter_mlops"
DECLARATION_KEYS = ("inputs", "outputs", "metrics", "depends_on")


def read_notebook(path: Path | str) -> dict[str, Any]:
    """The notebook at ``path`` as a JSON dict, checked enough to find its cells.

    Raises :class:`PathError` when unreadable and :class:`InvalidValueError`
    when it is not JSON, has no ``cells`` list or is not nbformat 4.
    """
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PathError(f"cannot read notebook {name!r}: {exc.strerror or exc}") from exc
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidValueError(
            f"{name!r} is not a notebook: not valid JSON ({exc})",
            hint="open and save it in JupyterLab to repair it",
            notebook=name,
        ) from exc
    if not isinstance(nb, dict):
        raise InvalidValueError(
            f"{name!r} is not a notebook: top level is not an object", notebook=name
        )
    if nb.get("nbformat") != 4:
        raise InvalidValueError(
            f"{name!r} has nbformat {nb.get('nbformat')!r}; only nbformat 4 is supported",
            hint="save it with a current JupyterLab to upgrade it",
            notebook=name,
        )
    cells = nb.get("cells")
    if not isinstance(cells, list) or not cells:
        raise InvalidValueError(f"{name!r} has no cells", notebook=name)
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise InvalidValueError(
                f"{name!r}: cell {index} is malformed (no cell_type)",
                notebook=name,
                cell_index=index,
            )
    return nb


def cell_source(cell: dict[str, Any]) -> str:
    """The source text of ``cell`` (a string or a list of lines in the JSON)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def _tags(cell: dict[str, Any]) -> list[Any]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return tags if isinstance(tags, list) else []


def parameters_cell_index(nb: dict[str, Any]) -> int | None:
    """Index of the first code cell tagged ``parameters`` (what papermill uses), or None."""
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in _tags(cell):
            return index
    return None


def tag_parameters_cell(nb: dict[str, Any], index: int) -> dict[str, Any]:
    """A copy of ``nb`` with code cell ``index`` tagged ``parameters`` (and no other cell)."""
    cells = nb.get("cells", [])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cells):
        raise UsageError(f"cell index {index!r} is out of range (0..{len(cells) - 1})")
    if cells[index].get("cell_type") != "code":
        raise UsageError(
            f"cell {index} is a {cells[index].get('cell_type')} cell",
            hint="pick the code cell that assigns the parameters",
            cell_index=index,
        )
    out = copy.deepcopy(nb)
    for position, cell in enumerate(out["cells"]):
        tags = [t for t in _tags(cell) if t != PARAMETERS_TAG]
        if position == index:
            tags.append(PARAMETERS_TAG)
        metadata = cell.setdefault("metadata", {})
        if tags:
            metadata["tags"] = tags
        else:
            metadata.pop("tags", None)
    return out


def declarations(nb: dict[str, Any]) -> dict[str, list[str]]:
    """``metadata.jupyter_mlops`` inputs/outputs/metrics/depends_on, as lists of strings."""
    metadata = nb.get("metadata")
    block = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    out: dict[str, list[str]] = {key: [] for key in DECLARATION_KEYS}
    if block is None:
        return out
    if not isinstance(block, dict):
        raise InvalidValueError(f"notebook metadata {METADATA_KEY!r} must be an object")
    for key in DECLARATION_KEYS:
        value = block.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidValueError(
                f"notebook metadata {METADATA_KEY}.{key} must be a list of strings, got {value!r}"
            )
        out[key] = list(value)
    return out
