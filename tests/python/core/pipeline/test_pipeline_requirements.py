"""A notebook's imports resolve to the installed distributions that provide them, pinned; the
export's environment.yml, requirements.txt, requirements.lock and Dockerfile come from them."""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from pathlib import Path

import yaml
from notebooks import write_notebook

import jupyter_mlops
from jupyter_mlops.core.environment import snapshot_from_file
from jupyter_mlops.core.pipeline import export_pipeline
from jupyter_mlops.core.pipeline.requirements import (
    imported_modules,
    notebook_requirements,
    resolve_modules,
)

REPO = Path(__file__).resolve().parents[4]


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
    example = REPO / "examples" / "train_classifier.ipynb"
    needs = notebook_requirements([example])
    assert "scikit-learn" in needs.pins
    # this project, installed editable here (no top-level modules listed), by its own name
    assert needs.pins["jupyter-mlops"] == metadata.version("jupyter-mlops")
    assert not needs.unresolved


def test_a_written_notebook(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "a.ipynb", "alpha = 1", ["import sklearn", "import json"])
    needs = notebook_requirements([nb], providers={"sklearn": ["scikit-learn"]})
    assert list(needs.pins) == ["scikit-learn"]


def _pip(folder: Path) -> list[str]:
    env = yaml.safe_load((folder / "environment.yml").read_text(encoding="utf-8"))
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def _requirements(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_export_environment_is_what_the_notebooks_import(tmp_path: Path) -> None:
    """Pinned imports + papermill, ipykernel, jupyter-mlops; unresolved and local ones warned."""
    (tmp_path / "helpers.py").write_text("X = 1\n")
    write_notebook(
        tmp_path / "a.ipynb",
        "alpha = 1",
        ["import sklearn, yaml\nimport helpers\nimport nowhere_to_be_found", "%load_ext x"],
    )
    write_notebook(tmp_path / "b.ipynb", "beta = 2", ["import jupyter_mlops\nimport json"])
    result = export_pipeline(["a.ipynb", "b.ipynb"], "pipe", tmp_path, name="<b>demo</b> #1")
    out = result.out_dir
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = yaml.safe_load((out / "environment.yml").read_text(encoding="utf-8"))
    assert not set(env["name"]) & set(" /:<>#")  # conda-safe
    assert env["dependencies"][:2] == [f"python={python}", "pip"]
    version = metadata.version
    assert _pip(out) == [
        f"ipykernel=={version('ipykernel')}",
        f"jupyter-mlops=={jupyter_mlops.__version__}",
        f"papermill=={version('papermill')}",
        f"PyYAML=={version('PyYAML')}",
        f"scikit-learn=={version('scikit-learn')}",
    ]
    assert _requirements(out / "requirements.txt") == _pip(out)
    for name in ("environment.yml", "requirements.txt", "Dockerfile"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text, name
        assert str(REPO) not in text, name
        assert not re.search(r"^\s*(- )?-e ", text, re.M), name  # no editable install
    # the snapshot reader takes the file back
    again = snapshot_from_file(out / "environment.yml")
    assert {p.name for p in again.pip_packages} >= {"scikit-learn", "jupyter-mlops"}

    assert len(result.warnings) == 2, result.warnings
    unresolved, local = result.warnings
    assert "'nowhere_to_be_found'" in unresolved
    assert "which no installed distribution provides" in unresolved
    assert "'helpers'" in local
    assert "does not copy" in local
    readme = (out / "README.md").read_text(encoding="utf-8")
    warnings = readme.split("## Warnings\n", 1)[1]
    assert "nowhere\\_to\\_be\\_found" in warnings
    assert "helpers" in warnings
    # the pipeline name is text in the README, never HTML
    assert readme.startswith("# Pipeline: \\<b\\>demo\\</b\\> \\#1\n")
    assert "<b>" not in readme


def test_a_given_environment_file_wins(tmp_path: Path) -> None:
    write_notebook(tmp_path / "a.ipynb", "alpha = 1", ["import yaml\nimport sklearn"])
    given = snapshot_from_file(REPO / "examples" / "pipeline" / "environment.yml")
    result = export_pipeline(["a.ipynb"], "pipe", tmp_path, snapshot=given)
    out = result.out_dir
    pip = _pip(out)
    assert pip == _requirements(out / "requirements.txt")
    assert f"jupyter-mlops=={jupyter_mlops.__version__}" in pip  # the given file's bare name
    assert "pandas==3.1.1" in pip  # listed there, not imported
    assert "PyYAML" not in " ".join(pip)
    (missing,) = result.warnings
    assert missing.startswith(
        f"the notebooks import PyYAML (installed here: {metadata.version('PyYAML')})"
    )


def _dockerfile(folder: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the folder's Dockerfile, continuation lines joined."""
    text = (folder / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    rows = [line.split(None, 1) for line in text.splitlines() if line and line[0] != "#"]
    return [(row[0], row[1] if len(row) > 1 else "") for row in rows]


def _check_dockerfile(folder: Path, installs: str) -> None:
    """What a build would need: a python:X.Y-slim base matching environment.yml, every COPY
    source in the folder and not ignored, the install file, a non-root user, the entrypoint."""
    rows = _dockerfile(folder)
    env = yaml.safe_load((folder / "environment.yml").read_text(encoding="utf-8"))
    python = env["dependencies"][0].removeprefix("python=")
    assert rows[0] == ("FROM", f"python:{python}-slim")
    ignored = (folder / ".dockerignore").read_text(encoding="utf-8").splitlines()
    for instruction, arguments in rows:
        if instruction == "COPY":
            *sources, _ = [a for a in arguments.split() if not a.startswith("--")]
            for source in sources:
                assert (folder / source).exists(), source
                assert source.rstrip("/") not in ignored, source
    runs = [a for i, a in rows if i == "RUN" and "pip install" in a]
    assert runs == [f"pip install --find-links wheels -r {installs}"]
    assert any(i == "COPY" and installs in a for i, a in rows)
    users = [a for i, a in rows if i == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert rows[-1] == ("ENTRYPOINT", '["jupyter", "mlops", "run", "."]')
    text = (folder / "Dockerfile").read_text(encoding="utf-8").upper()
    env_lines = [a for i, a in rows if i == "ENV"]
    assert not [e for e in env_lines if re.search(r"TOKEN|PASSWORD|SECRET|TRACKING_URI", e)]
    assert "ARG " not in text


def test_dockerfile_and_lock(tmp_path: Path) -> None:
    write_notebook(tmp_path / "a.ipynb", "alpha = 1", ["import sklearn"])
    plain = export_pipeline(["a.ipynb"], "pipe", tmp_path)
    _check_dockerfile(plain.out_dir, "requirements.txt")

    locked = export_pipeline(["a.ipynb"], "pipe", tmp_path, lock=True)
    lock = locked.out_dir / "requirements.lock"
    assert lock in locked.files
    _check_dockerfile(locked.out_dir, "requirements.lock")
    pins = _requirements(lock)
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+==\S+", line) for line in pins), pins
    names = {line.split("==")[0].lower() for line in pins}
    installed = {str(d.metadata["Name"]).lower() for d in metadata.distributions()}
    assert names == installed - {"pip"}  # here only jupyter-mlops is a path install: kept
    assert f"jupyter-mlops=={jupyter_mlops.__version__}" in pins
    assert f"scikit-learn=={metadata.version('scikit-learn')}" in pins
    assert str(REPO) not in lock.read_text(encoding="utf-8")
    assert "requirements.lock" in (locked.out_dir / "README.md").read_text(encoding="utf-8")

    again = export_pipeline(["a.ipynb"], "pipe", tmp_path)  # without lock: the stale one goes
    assert not lock.exists()
    _check_dockerfile(again.out_dir, "requirements.txt")
