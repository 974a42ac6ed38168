"""What a notebook asks of MLflow itself, read from its source without running it.

Under ``jupyter mlops run`` the execution's run is MLflow's run in the kernel
(``$MLFLOW_RUN_ID``, as under ``mlflow run``), and MLflow refuses to resume a
run of another experiment than the one ``mlflow.set_experiment`` chose. So
when a notebook names its experiment with a literal
(``mlflow.set_experiment("churn")``), the runner puts its runs there unless
``--experiment`` says otherwise.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from pathlib import Path

from jupyter_mlops.core.tracking.context import _parse_lenient

__all__ = ["declared_experiment", "declared_experiments"]


def _literal_name(call: ast.Call) -> str | None:
    """The experiment name of a ``set_experiment(...)`` call, when it is a string literal."""
    for keyword in call.keywords:
        if keyword.arg == "experiment_name":
            value = keyword.value
            return (
                value.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str)
                else None
            )
        if keyword.arg == "experiment_id":
            return None
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def declared_experiments(notebook: Path) -> set[str | None]:
    """Experiments the notebook's ``mlflow.set_experiment`` calls name (None: not a literal)."""
    try:
        nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    found: set[str | None] = set()
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        tree = _parse_lenient("".join(source) if isinstance(source, list) else str(source))
        if tree is None:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name == "set_experiment":
                found.add(_literal_name(node))
    return found


def declared_experiment(notebooks: Iterable[Path]) -> str | None:
    """The one experiment all ``notebooks`` name with a literal, or None (none, or they differ)."""
    names: set[str | None] = set()
    for notebook in notebooks:
        names |= declared_experiments(notebook)
    if len(names) == 1:
        (name,) = names
        return name
    return None
