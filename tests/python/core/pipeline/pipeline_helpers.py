"""Small ``.ipynb`` fixtures for the pipeline tests, written as plain JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def code_cell(source: str, *, tags: list[str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": metadata,
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def notebook(params: str | None, *body: str, mlops: dict[str, Any] | None = None) -> dict[str, Any]:
    """A notebook with ``params`` as its tagged cell (none when None) and ``body`` cells."""
    cells = [code_cell(params, tags=["parameters"])] if params is not None else []
    cells += [code_cell(source) for source in body]
    if not cells:
        cells = [code_cell("x = 1")]
    metadata: dict[str, Any] = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    if mlops is not None:
        metadata["jupyter_mlops"] = mlops
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write_notebook(path: Path, nb: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path
