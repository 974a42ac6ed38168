"""The layering rules of CONTRIBUTING.md, checked in fresh interpreters.

* ``jupyter_mlops.core`` and every module under it (found by walking the
  package, so new modules are covered) import none of tornado, jupyter_server,
  IPython or ipywidgets, and not MLflow either (it is imported lazily, on use).
* ``import jupyter_mlops`` imports none of MLflow, jupyter_server or IPython.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jupyter_mlops

PACKAGE_PARENT = str(Path(jupyter_mlops.__file__).resolve().parents[1])
ADAPTER_MODULES = ("tornado", "jupyter_server", "IPython", "ipywidgets")

_PROBE = """
import importlib, json, pkgutil, sys
{imports}
def loaded(name):
    return any(m == name or m.startswith(name + ".") for m in sys.modules)
print(json.dumps({{"modules": sorted(m for m in sys.modules if m.startswith("jupyter_mlops")),
                   "loaded": [n for n in {names!r} if loaded(n)]}}))
"""

_WALK_CORE = """
import jupyter_mlops.core
for info in pkgutil.walk_packages(jupyter_mlops.core.__path__, "jupyter_mlops.core."):
    importlib.import_module(info.name)
"""


def probe(imports: str, names: tuple[str, ...]) -> dict[str, list[str]]:
    """Run ``imports`` in a new interpreter; which of ``names`` got imported, and our modules."""
    code = _PROBE.format(imports=imports, names=names)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": PACKAGE_PARENT},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_core_imports_no_adapter_framework() -> None:
    data = probe(_WALK_CORE, ADAPTER_MODULES)
    assert "jupyter_mlops.core.tracking.store" in data["modules"]
    assert "jupyter_mlops.core.tracking.query" in data["modules"]
    assert data["loaded"] == [], f"jupyter_mlops.core imports {data['loaded']}"


def test_core_imports_mlflow_lazily() -> None:
    data = probe(_WALK_CORE, ("mlflow",))
    assert data["loaded"] == [], "a module under jupyter_mlops.core imports mlflow at import time"


@pytest.mark.parametrize("statement", ["import jupyter_mlops", "import jupyter_mlops.config"])
def test_package_import_is_cheap(statement: str) -> None:
    data = probe(statement, ("mlflow", "jupyter_server", "IPython", "tornado"))
    assert data["loaded"] == []


def test_core_modules_are_all_walked() -> None:
    """The walk finds every ``.py`` file under ``core/`` (guards the probe itself)."""
    core = Path(jupyter_mlops.__file__).parent / "core"
    files = {
        "jupyter_mlops.core." + ".".join(p.relative_to(core).with_suffix("").parts)
        for p in core.rglob("*.py")
        if p.name != "__init__.py"
    }
    data = probe(_WALK_CORE, ())
    assert files <= set(data["modules"])
