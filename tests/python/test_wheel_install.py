"""The wheel, built from this checkout, installs cleanly next to the newest JupyterLab 4.

What a user does: ``python -m build`` in a clone, then ``pip install
dist/jupyter_mlops-*.whl`` into a fresh environment, where pip resolves the
newest JupyterLab 4 from the package index. Both halves must then be listed
``enabled OK``: the prebuilt lab extension (its declared ``@jupyterlab/*``
ranges must admit that JupyterLab) and the server extension.

The wheel is built without build isolation from a copy of the working tree
(tracked and untracked-but-not-ignored files, plus the already built
``jupyter_mlops/labextension``), with ``SKIP_JUPYTER_BUILDER=1``: the frontend
is not rebuilt here (``make install`` builds it), but the wheel must contain it.
Skipped, with the reason, only when the package index cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = REPO / "jupyter_mlops" / "labextension"
LAB_NAME = "jupyter-mlops"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [pytest.mark.wheel, pytest.mark.slow, pytest.mark.timeout(900)]


def _run(
    argv: list[str],
    *,
    timeout: float = 600,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )


def _index_unreachable() -> str | None:
    """Why the package index cannot be reached, or None when pip can see JupyterLab 4 there."""
    done = _run([sys.executable, "-m", "pip", "index", "versions", "jupyterlab"], timeout=120)
    if done.returncode != 0 or "Available versions" not in done.stdout:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"the package index cannot be reached (pip index versions jupyterlab: {tail[0]})"
    return None


def _copy_checkout(dest: Path) -> None:
    """The working tree's files (as ``git`` sees them) and the built labextension, into ``dest``."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        source = REPO / name
        if source.is_file() and not name.startswith(("tests/", "examples/", "bench/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    # what `npm run build:prod` wrote; install.json is shipped from the top level
    shutil.copytree(
        LABEXTENSION,
        dest / "jupyter_mlops" / "labextension",
        ignore=shutil.ignore_patterns("install.json"),
    )


def _build_wheel(source: Path, out: Path) -> Path:
    env = {**_environ(), "SKIP_JUPYTER_BUILDER": "1"}
    done = _run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=source,
        env=env,
    )
    assert done.returncode == 0, (
        f"python -m build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    (wheel,) = out.glob("jupyter_mlops-*.whl")
    return wheel


def _environ() -> dict[str, str]:
    """This environment, minus what would let the new venv see this one."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _check_wheel_contents(wheel: Path) -> None:
    """The prebuilt labextension (declaring this package.json's ranges) and the server config."""
    data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        lab = f"{data}/share/jupyter/labextensions/{LAB_NAME}"
        assert f"{lab}/package.json" in names, sorted(names)[:20]
        assert f"{lab}/install.json" in names
        assert any(n.startswith(f"{lab}/static/remoteEntry.") for n in names)
        assert f"{data}/etc/jupyter/jupyter_server_config.d/jupyter_mlops.json" in names
        built = json.loads(zf.read(f"{lab}/package.json"))
    declared = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["dependencies"]
    assert built["dependencies"] == declared, (
        "the built labextension is stale (its dependencies differ from package.json): "
        "run `npm run build:prod`"
    )


def test_wheel_installs_next_to_the_newest_jupyterlab_4(tmp_path: Path) -> None:
    if not (LABEXTENSION / "package.json").is_file():
        pytest.fail("jupyter_mlops/labextension is not built: run `make install` first")
    reason = _index_unreachable()
    if reason:
        pytest.skip(reason)

    source = tmp_path / "src"
    _copy_checkout(source)
    wheel = _build_wheel(source, tmp_path / "dist")
    _check_wheel_contents(wheel)

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    bin_dir = venv / "bin"
    env = _environ()
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    installed = _run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            str(wheel),
            "jupyterlab>=4,<5",
        ],
        env=env,
        timeout=900,
    )
    if installed.returncode != 0 and "NewConnectionError" in installed.stderr:
        pytest.skip(f"the package index cannot be reached: {installed.stderr[-500:]}")
    assert installed.returncode == 0, installed.stderr[-3000:]

    version = _run(
        [str(bin_dir / "python"), "-c", "import jupyterlab; print(jupyterlab.__version__)"], env=env
    ).stdout.strip()
    lab = _run([str(bin_dir / "jupyter"), "labextension", "list"], env=env)
    lab_out = ANSI.sub("", lab.stdout + lab.stderr)
    npm_version = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["version"]
    expected = f"{LAB_NAME} v{npm_version} enabled OK"
    ours = [line.strip() for line in lab_out.splitlines() if line.strip().startswith(LAB_NAME)]
    assert any(line.startswith(expected) for line in ours), (
        f"JupyterLab {version}: `jupyter labextension list` says {ours or lab_out!r}, "
        f"not {expected!r}"
    )
    assert "not compatible" not in lab_out, f"JupyterLab {version}: {lab_out}"

    server = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], env=env)
    server_out = ANSI.sub("", server.stdout + server.stderr)
    assert re.search(r"^\s*jupyter_mlops enabled\s*$", server_out, re.M), (
        f"JupyterLab {version}: `jupyter server extension list` says {server_out!r}"
    )
    assert re.search(r"^\s*jupyter_mlops \S+ OK\s*$", server_out, re.M), (
        f"JupyterLab {version}: `jupyter server extension list` says {server_out!r}"
    )
