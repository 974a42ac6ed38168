"""Benchmark: ``%load_ext jupyter_mlops`` against ``import mlflow``.

Loading the extension must not pay for MLflow: it should take at most a tenth
of what ``import mlflow`` costs. Each measurement runs in a fresh interpreter
(so nothing is cached in ``sys.modules``) and times only the step itself:
IPython's own start-up is excluded from ours, the interpreter start-up from
both. The figure is the median over ``--repeat`` interpreters.

    python bench/bench_load_ext.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from verdict import verdict

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET = 0.1

OURS = """
import time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
shell.extension_manager.load_extension("jupyter_mlops")
print(time.perf_counter() - start)
"""

BASELINE = """
import time
start = time.perf_counter()
import mlflow
print(time.perf_counter() - start)
"""


def _time_once(script: str) -> float:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


def _median(script: str, repeat: int) -> float:
    _time_once(script)  # warm the OS file cache and the bytecode caches
    return statistics.median(_time_once(script) for _ in range(repeat))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return ``{name, ours, baseline, ratio, target, ok}`` (seconds).

    ``argv`` are this benchmark's options (``None``: defaults, not ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters per side")
    args = parser.parse_args([] if argv is None else argv)
    ours = _median(OURS, args.repeat)
    baseline = _median(BASELINE, args.repeat)
    ratio = ours / baseline
    result = verdict(
        "load_ext", ours, baseline, ratio=ratio, target=TARGET, ok=ratio <= TARGET, ratio_digits=4
    )
    print(
        f"%load_ext jupyter_mlops: {ours * 1000:.1f} ms   import mlflow: {baseline * 1000:.1f} ms"
        f"   ratio {ratio:.3f} (target <= {TARGET}) {'OK' if result['ok'] else 'FAIL'}"
    )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
