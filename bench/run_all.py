"""Run every ``bench/bench_*.py`` module's ``main()`` and print one table of the verdicts.

Each module exposes ``main(argv=None) -> dict`` with ``name``, ``ours``,
``baseline``, ``ratio`` (ours / baseline), ``target`` and ``ok``; it may add
more keys, shown under the table. A module with several verdicts returns a
list of such dicts (one row each). A module that raises is a failed row.

    python bench/run_all.py [--only tracking load_ext]

Exit status 0 only when every benchmark is ok.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
COLUMNS = ("name", "ours", "baseline", "ratio", "target", "ok")


def discover(only: list[str] | None = None) -> list[Path]:
    """The benchmark modules, sorted; ``only`` keeps those whose name contains one of its words."""
    paths = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        paths = [p for p in paths if any(word in p.stem for word in only)]
    return paths


def run_module(path: Path) -> list[dict[str, Any]]:
    """Import ``path`` and call its ``main([])``: its rows; a failure becomes one with ``ok: False``."""
    name = path.stem.removeprefix("bench_")
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        if str(BENCH_DIR) not in sys.path:  # the benchmarks share bench/verdict.py
            sys.path.insert(0, str(BENCH_DIR))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        result = module.main([])
        rows = result if isinstance(result, list) else [result]
        if not rows or not all(isinstance(row, dict) for row in rows):
            raise TypeError(f"{path.name}: main() returned {type(result).__name__}, not dict(s)")
        return [{"name": name, **row} for row in rows]
    except Exception as exc:
        traceback.print_exc()
        return [{"name": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}]


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def format_table(results: list[dict[str, Any]]) -> str:
    """``name | ours | baseline | ratio | target | ok``, aligned, then each row's extra keys."""
    rows = [list(COLUMNS)] + [[_cell(r.get(c)) for c in COLUMNS] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    for result in results:
        extra = {k: v for k, v in result.items() if k not in COLUMNS}
        if extra:
            lines.append(
                f"  {result['name']}: " + ", ".join(f"{k}={_cell(v)}" for k, v in extra.items())
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    args = parser.parse_args(argv)
    paths = discover(args.only)
    if not paths:
        print("no benchmark matched", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        print(f"== {path.name}", flush=True)
        results.extend(run_module(path))
    print()
    print(format_table(results))
    return 0 if all(r.get("ok") is True for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
