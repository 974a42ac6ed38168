"""What a notebook needs installed: its imports, resolved to the distributions that provide them.

::

    needs = notebook_requirements(["train.ipynb", "prep.ipynb"])
    needs.pins          # {"scikit-learn": "1.7.2", "pandas": "2.3.3", ...}: what ran here
    needs.unresolved    # ["mylib"]: imported, but no installed distribution provides it
    needs.local         # ["helpers"]: a module beside the notebook (copied, not installed)
    needs.from_path     # ["mylib"]: pinned, but installed from a local folder (no index has it)

Imports are read with :mod:`ast` from the code cells (IPython magics, shell
escapes and cell magics are skipped, a cell that does not parse is skipped
whole); only absolute imports count. The standard library
(:data:`sys.stdlib_module_names`) needs nothing. Every other top-level module
is looked up in :func:`importlib.metadata.packages_distributions` of this
interpreter (else a distribution of the module's own name: editable installs
list no modules) and pinned to the installed version (``sklearn`` ->
``scikit-learn==1.7.2``); a module several distributions provide pins them all.
Nothing here runs the notebook or imports what it imports.

:func:`installed_requirements` pins every distribution of this interpreter
instead (the ``pip freeze`` of ``jupyter mlops export --lock``).
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_mlops.core.environment.model import normalize_name
from jupyter_mlops.core.pipeline.notebook import cell_source, read_notebook

__all__ = [
    "Requirements",
    "imported_modules",
    "installed_from_path",
    "installed_requirements",
    "notebook_requirements",
    "resolve_modules",
]

_SKIP_LINE = ("%", "!")


@dataclass(frozen=True)
class Requirements:
    """Distributions to install (name -> version that ran), and what could not be resolved.

    ``from_path`` names the pinned distributions that were installed from a local
    folder or file (``pip install -e .``, ``pip install ./dist/x.whl``): a package
    index may not have them.
    """

    pins: Mapping[str, str] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()
    local: tuple[str, ...] = ()
    from_path: tuple[str, ...] = ()

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
    from_path = tuple(sorted(name for name in pins if installed_from_path(name)))
    return Requirements(pins, tuple(dict.fromkeys(unresolved)), tuple(local), from_path)


def _is_path_install(dist: metadata.Distribution) -> bool:
    try:
        text = dist.read_text("direct_url.json")
    except OSError:
        return False
    if not text:
        return False
    import json

    try:
        record = json.loads(text)
    except ValueError:
        return False
    url = record.get("url", "") if isinstance(record, dict) else ""
    return isinstance(url, str) and url.startswith("file:") and "vcs_info" not in record


def installed_from_path(name: str) -> bool:
    """Whether distribution ``name`` was installed from a local folder or file (PEP 610
    ``direct_url.json`` with a ``file:`` URL: editable, a folder, a wheel on disk)."""
    try:
        return _is_path_install(metadata.distribution(name))
    except metadata.PackageNotFoundError:
        return False


def installed_requirements(*, exclude: Iterable[str] = ("pip",)) -> Requirements:
    """Every distribution this interpreter sees, pinned (the first of a name on ``sys.path``).

    Names in ``exclude`` (compared PEP 503-normalized) are left out; ``from_path``
    names those installed from a local folder or file.
    """
    skip = {normalize_name(name) for name in exclude}
    pins: dict[str, str] = {}
    seen: set[str] = set()
    from_path: list[str] = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if not name or normalize_name(name) in seen:
            continue
        seen.add(normalize_name(name))
        if normalize_name(name) in skip:
            continue
        pins[str(name)] = dist.version
        if _is_path_install(dist):
            from_path.append(str(name))
    return Requirements(dict(sorted(pins.items(), key=_lower)), from_path=tuple(sorted(from_path)))


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
