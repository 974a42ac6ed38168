"""A notebook's imports resolve to the installed distributions that provide them, pinned."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from notebooks import write_notebook

from jupyter_mlops.core.pipeline.requirements import (
    imported_modules,
    notebook_requirements,
    resolve_modules,
)


def test_imports_are_read_from_code_not_magics_or_shell() -> None:
    cells = [
        "import os, json\nimport sklearn.linear_model as lm\nfrom pandas import DataFrame",
        "%matplotlib inline\n!pip install nothing\nfiles = !ls\nimport numpy as np",
        "%%bash\nimport notpython",
        "from . import relative\nfrom .x import y",
        "def f():\n    import yaml\n    return yaml",
        "this is not python (\nimport broken",
    ]
    assert imported_modules(cells) == {"os", "json", "sklearn", "pandas", "numpy", "yaml"}


def test_modules_resolve_to_pinned_distributions(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("X = 1\n")
    needs = resolve_modules(
        ["os", "sklearn", "yaml", "helpers", "nowhere_to_be_found"], local_dirs=[tmp_path]
    )
    assert needs.pins == {
        "scikit-learn": metadata.version("scikit-learn"),
        "PyYAML": metadata.version("PyYAML"),
    }
    assert needs.local == ("helpers",)
    assert needs.unresolved == ("nowhere_to_be_found",)
    assert needs.lines() == sorted(needs.lines(), key=str.lower)


def test_an_example_notebook_needs_what_it_imports() -> None:
    example = Path(__file__).resolve().parents[4] / "examples" / "train_classifier.ipynb"
    needs = notebook_requirements([example])
    assert "scikit-learn" in needs.pins
    # this project, installed editable here (no top-level modules listed), by its own name
    assert needs.pins["jupyter-mlops"] == metadata.version("jupyter-mlops")
    assert not needs.unresolved


def test_a_written_notebook(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", "alpha = 1", ["import sklearn", "import json"])
    needs = notebook_requirements([nb], providers={"sklearn": ["scikit-learn"]})
    assert list(needs.pins) == ["scikit-learn"]
