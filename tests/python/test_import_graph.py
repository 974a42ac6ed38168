"""House rules: no import cycles in ``jupyter_mlops``, ``core`` imports no adapter, no module over 400 lines.

Every import counts: module level, inside functions (a lazy import is still an
edge a reader must follow) and under ``TYPE_CHECKING``. ``from pkg import name``
is an edge to ``pkg.name`` when that is a module, else to ``pkg``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupyter_mlops

PACKAGE = Path(jupyter_mlops.__file__).resolve().parent
ADAPTERS = (
    "jupyter_mlops.server",
    "jupyter_mlops.kernel",
    "jupyter_mlops.cli",
    "jupyter_mlops.widgets",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Module name -> the ``jupyter_mlops`` modules it imports."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                subs = [f"{mod}.{alias.name}" for alias in node.names]
                targets = [s for s in subs if s in files] or [mod]
                if any(s not in files for s in subs) and mod not in targets:
                    targets.append(mod)
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target.startswith("jupyter_mlops") and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "jupyter_mlops.core.tracking.store" in graph
    assert "jupyter_mlops.server.app" in graph


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_core_imports_no_adapter_module() -> None:
    bad = sorted(
        f"{name} -> {target}"
        for name, targets in import_graph().items()
        if name.startswith("jupyter_mlops.core")
        for target in targets
        if target.startswith(ADAPTERS)
    )
    assert bad == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


MAX_LINES = 400


def test_no_module_over_400_lines() -> None:
    """The house rule of CONTRIBUTING.md: split by subject before a file becomes the place everything goes."""
    repo = PACKAGE.parent
    sources = [
        p for p in PACKAGE.rglob("*.py") if "labextension" not in p.relative_to(PACKAGE).parts
    ]
    sources += list((repo / "labextension" / "src").rglob("*.ts*"))
    assert len(sources) > 100
    too_long = sorted(
        f"{p.relative_to(repo)}: {n}"
        for p in sources
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    )
    assert too_long == []
