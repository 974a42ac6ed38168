"""Small real ``.ipynb`` files for tests that run notebooks (papermill, ``jupyter mlops run``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["code_cell", "write_notebook"]

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def code_cell(source: str, tags: list[str] | None = None) -> dict[str, Any]:
    """A code cell (nbformat 4.5, with an id) holding ``source``, tagged ``tags``."""
    return {
        "id": os.urandom(4).hex(),
        "cell_type": "code",
        "metadata": {"tags": tags} if tags else {},
        "source": source,
        "outputs": [],
        "execution_count": None,
    }


def write_notebook(
    path: Path, parameters: str, cells: list[str], metadata: dict[str, Any] | None = None
) -> Path:
    """A Python 3 notebook at ``path``: a cell tagged ``parameters``, then ``cells``.

    ``metadata`` is added to the notebook's metadata (e.g. ``{"jupyter_mlops": ...}``).
    """
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": KERNELSPEC, **(metadata or {})},
        "cells": [code_cell(parameters, ["parameters"]), *(code_cell(s) for s in cells)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path
