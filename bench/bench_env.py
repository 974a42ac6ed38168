"""Benchmark: a full environment snapshot against ``pip freeze``.

Writing a run's ``environment.yml`` must cost far less than the command a user
would otherwise run to record their environment: at least 5 times faster than
``python -m pip freeze``, while recording more (conda-style file with the
Python version, requested flags, editable / VCS origins, the platform block).

Both sides run as whole fresh interpreters, alternately, and the figure is the
median wall time over ``--repeat`` pairs (after one warm-up each, which also
fills the OS file cache). Ours is ``take_snapshot()`` plus rendering
``environment.yml`` and ``platform.yml``; the baseline is ``pip freeze``.
Both get compiled bytecode as an installed package would have it: the
benchmark points ``PYTHONPYCACHEPREFIX`` at a temporary folder (and lifts
``PYTHONDONTWRITEBYTECODE``) so that neither side recompiles its sources on
every run.

    python bench/bench_env.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from verdict import verdict

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET = 5.0

OURS = """
import json
from jupyter_mlops.core.environment import render_environment_yml, render_platform_yml, take_snapshot
snapshot = take_snapshot()
environment_yml = render_environment_yml(snapshot)
platform_yml = render_platform_yml(snapshot)
print(json.dumps({
    "pip_packages": len(snapshot.pip_packages),
    "conda_packages": len(snapshot.conda_packages),
    "requested": sum(p.requested for p in snapshot.pip_packages),
    "direct_url": sum(p.direct_url is not None for p in snapshot.pip_packages),
    "platform_fields": len(snapshot.platform),
    "python": snapshot.python_version,
    "environment_yml_lines": len(environment_yml.splitlines()),
}))
"""

BASELINE = ["-m", "pip", "freeze", "--disable-pip-version-check"]


def _env(pycache: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONPYCACHEPREFIX"] = pycache
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=True, cwd=REPO_ROOT
    ).stdout
    return time.perf_counter() - start, out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return ``{name, ours, baseline, ratio, target, ok}`` (seconds).

    ``ratio`` is baseline / ours (higher is better); ``ok`` when it reaches ``target``.
    ``argv`` are this benchmark's options (``None``: defaults, not ``sys.argv``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters per side")
    args = parser.parse_args([] if argv is None else argv)
    ours_args = ["-c", OURS]
    with tempfile.TemporaryDirectory(prefix="bench-env-pycache-") as pycache:
        env = _env(pycache)
        _, info_text = _run(ours_args, env)  # warm-up: bytecode and file cache
        _, freeze_text = _run(BASELINE, env)
        ours_times: list[float] = []
        baseline_times: list[float] = []
        for _ in range(args.repeat):
            ours_times.append(_run(ours_args, env)[0])
            baseline_times.append(_run(BASELINE, env)[0])
    ours = statistics.median(ours_times)
    baseline = statistics.median(baseline_times)
    ratio = baseline / ours
    result = verdict("env_snapshot", ours, baseline, ratio=ratio, target=TARGET, ok=ratio >= TARGET)
    info = json.loads(info_text.strip().splitlines()[-1])
    freeze_lines = [line for line in freeze_text.splitlines() if line.strip()]
    print(
        f"env snapshot: {ours * 1000:.1f} ms   pip freeze: {baseline * 1000:.1f} ms"
        f"   ratio {ratio:.2f} (target >= {TARGET}) {'OK' if result['ok'] else 'FAIL'}"
    )
    print(
        f"  ours: {info['pip_packages']} pip + {info['conda_packages']} conda packages,"
        f" python {info['python']}, {info['requested']} requested flags,"
        f" {info['direct_url']} editable/VCS/URL origins, {info['platform_fields']} platform fields,"
        f" conda-style environment.yml ({info['environment_yml_lines']} lines)"
    )
    print(f"  pip freeze: {len(freeze_lines)} 'name==version' lines, nothing else")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
