"""Malformed notebook files give clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.pipeline import read_notebook
from jupyter_mlops.core.pipeline.notebook import declarations
from jupyter_mlops.exceptions import InvalidValueError, PathError


def test_reads_a_notebook(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "a.ipynb", notebook("n = 1"))
    assert read_notebook(path)["nbformat"] == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "top level is not an object"),
        (json.dumps({"nbformat": 4, "cells": []}).encode(), "has no cells"),
        (json.dumps({"nbformat": 4}).encode(), "has no cells"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat 3"),
        (json.dumps({"nbformat": 4, "cells": [1]}).encode(), "cell 0 is malformed"),
        (json.dumps({"nbformat": 4, "cells": [{"source": ""}]}).encode(), "cell 0 is malformed"),
    ],
)
def test_malformed_notebooks(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    with pytest.raises(InvalidValueError, match=message):
        read_notebook(path)


def test_missing_notebook(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="cannot read notebook"):
        read_notebook(tmp_path / "missing.ipynb")


def test_declarations_from_metadata() -> None:
    nb = notebook("n = 1", mlops={"inputs": ["data/raw.csv"], "metrics": ["m.json"]})
    assert declarations(nb) == {
        "inputs": ["data/raw.csv"],
        "outputs": [],
        "metrics": ["m.json"],
        "depends_on": [],
    }
    with pytest.raises(InvalidValueError, match="inputs must be a list of strings"):
        declarations(notebook("n = 1", mlops={"inputs": "data.csv"}))
    with pytest.raises(InvalidValueError, match="must be an object"):
        declarations(notebook("n = 1", mlops=[]))  # type: ignore[arg-type]
