"""What a notebook needs installed: its imports, resolved to the distributions that provide them.

::

    needs = notebook_requirements(["train.ipynb", "prep.ipynb"])
    needs.pins          # {"scikit-learn": "1.7.2", "pandas": "2.3.3", ...}: what ran here
    needs.unresolved    # ["mylib"]: imported, but no installed distribution provides it
    needs.local         # ["helpers"]: a module beside the notebook (copied, not installed)

Imports are read with :mod:`ast` from the code cells (IPython magics, shell
escapes and cell magics are skipped, a cell that does not parse is skipped
whole); only absolute imports count. The standard library
(:data:`sys.stdlib_module_names`) needs nothing. Every other top-level module
is looked up in :func:`importlib.metadata.packages_distributions` of this
interpreter (else a distribution of the module's own name: editable installs
list no modules) and pinned to the installed version (``sklearn`` ->
``scikit-learn==1.7.2``); a module several distributions provide pins them all.
Nothing here runs the notebook or imports what it imports.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_mlops.core.pipeline.notebook import cell_source, read_notebook

__all__ = ["Requirements", "imported_modules", "notebook_requirements", "resolve_modules"]

_SKIP_LINE = ("%", "!")


@dataclass(frozen=True)
class Requirements:
    """Distributions to install (name -> version that ran), and what could not be resolved."""

    pins: Mapping[str, str] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()
    local: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """``name==version`` lines, sorted by name (a pip requirements file's body)."""
        return [f"{name}=={version}" for name, version in sorted(self.pins.items(), key=_lower)]


def _lower(item: tuple[str, str]) -> str:
    return item[0].lower()


def _python_source(source: str) -> str:
    """``source`` without IPython's line magics and shell escapes (indentation kept)."""
    if source.lstrip().startswith("%%"):
        return ""  # a cell magic: the body is not Python (%%bash, %%writefile) or is run by it
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(_SKIP_LINE) or "= !" in line or "= %" in line:
            lines.append(line[: len(line) - len(stripped)] + "pass")
        else:
            lines.append(line)
    return "\n".join(lines)


def imported_modules(sources: Iterable[str]) -> set[str]:
    """Top-level names of the absolute imports in ``sources`` (code cells or files)."""
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(_python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def resolve_modules(
    modules: Iterable[str],
    *,
    local_dirs: Iterable[Path] = (),
    providers: Mapping[str, list[str]] | None = None,
) -> Requirements:
    """The distributions providing ``modules`` here, pinned (see the module doc).

    ``local_dirs``: folders whose ``name.py`` / ``name/`` shadow an installed module
    (the notebook's own helpers). ``providers``: module -> distributions (default:
    :func:`importlib.metadata.packages_distributions`; tests pass their own).
    """
    providers = metadata.packages_distributions() if providers is None else providers
    folders = list(local_dirs)
    pins: dict[str, str] = {}
    unresolved: list[str] = []
    local: list[str] = []
    for module in sorted(set(modules)):
        if module in sys.stdlib_module_names or module == "__future__":
            continue
        if any((d / f"{module}.py").is_file() or (d / module).is_dir() for d in folders):
            local.append(module)
            continue
        dists = list(providers.get(module) or []) or _same_name(module)
        if not dists:
            unresolved.append(module)
            continue
        for dist in dists:
            try:
                pins[dist] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                unresolved.append(module)
    return Requirements(pins, tuple(dict.fromkeys(unresolved)), tuple(local))


def _same_name(module: str) -> list[str]:
    """A distribution named like ``module`` (``jupyter_mlops`` -> ``jupyter-mlops``): editable
    installs list no top-level modules, so :func:`packages_distributions` misses them."""
    for name in (module, module.replace("_", "-")):
        try:
            return [str(metadata.distribution(name).metadata["Name"])]
        except metadata.PackageNotFoundError:
            continue
    return []


def notebook_requirements(
    notebooks: Iterable[Path | str], *, providers: Mapping[str, list[str]] | None = None
) -> Requirements:
    """What the code cells of ``notebooks`` import, resolved (their folders count as local)."""
    sources: list[str] = []
    folders: set[Path] = set()
    for path in notebooks:
        nb = read_notebook(path)
        folders.add(Path(path).resolve().parent)
        sources.extend(cell_source(c) for c in nb.get("cells", []) if c.get("cell_type") == "code")
    return resolve_modules(imported_modules(sources), local_dirs=folders, providers=providers)
