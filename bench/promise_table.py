"""Print the promise table: what the reliability and security tests checked, and the figures.

::

    .venv/bin/python bench/promise_table.py            # runs the tests, then prints the table
    .venv/bin/python bench/promise_table.py --from DIR # print what an earlier run recorded

It runs the security, fault and load tests (``tests/python/security``,
``tests/python/faults``, ``tests/python/load``) with ``$MLOPS_PROMISE_DIR`` set;
each test records its figures with ``tests/python/promises.py`` (routes
checked, paths tried, canaries planted, faults injected, metrics sent vs
stored, latencies, memory). In this mode the tests also run the slow
baselines they only describe otherwise (plain MLflow under the same load).
The exit status is pytest's, or 1 when a recorded promise did not hold.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUITES = ["tests/python/security", "tests/python/faults", "tests/python/load"]
SECTIONS = ["access", "paths", "xss", "secrets", "faults", "load"]


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in figures.items())


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """The rows recorded under ``folder`` (one JSON object per line)."""
    path = folder / "promises.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The table in Markdown, grouped by section, with a total line."""
    by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_section[row["section"]].append(row)
    order = SECTIONS + sorted(set(by_section) - set(SECTIONS))
    lines = ["| section | promise | held | figures |", "|---|---|---|---|"]
    for section in order:
        for row in by_section.get(section, []):
            held = "yes" if row["ok"] else "**NO**"
            lines.append(f"| {section} | {row['promise']} | {held} | {_figures(row['figures'])} |")
    held = sum(1 for row in rows if row["ok"])
    lines.append("")
    lines.append(f"{held} of {len(rows)} promises held.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", help="print the rows recorded in DIR")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args(argv)
    status = 0
    if args.source:
        folder = Path(args.source)
    else:
        folder = Path(tempfile.mkdtemp(prefix="mlops-promises-"))
        env = {**os.environ, "MLOPS_PROMISE_DIR": str(folder)}
        suites = [s for s in SUITES if (REPO / s).exists()]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        status = subprocess.call([*command, *suites, *args.pytest_args], cwd=REPO, env=env)
    rows = read_rows(folder)
    print(render(rows))
    print(f"\n(rows recorded in {folder})")
    if not rows:
        return status or 1
    return status or (0 if all(row["ok"] for row in rows) else 1)


if __name__ == "__main__":
    sys.exit(main())
