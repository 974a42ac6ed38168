"""The jupyter-mlops wheel, built once per test session from this checkout, and fresh venvs.

Tests that install the wheel import the fixture by name::

    from wheel_build import built_wheel  # noqa: F401 (a fixture)

The wheel is built without build isolation from a copy of the working tree
(tracked and untracked-but-not-ignored files, plus the already built
``jupyter_mlops/labextension``), with ``SKIP_JUPYTER_BUILDER=1``: the frontend
is not rebuilt here (``make install`` builds it), but the wheel must contain it.
New venvs install from the package index with pip's cache (no ``--no-cache-dir``),
so a second install of the same pins is quick.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = REPO / "jupyter_mlops" / "labextension"

__all__ = ["REPO", "built_wheel", "environ", "make_venv", "run", "skip_without_index"]


def run(
    argv: list[str],
    *,
    timeout: float = 600,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd, env=env
    )


def environ() -> dict[str, str]:
    """This environment, minus what would let a new venv see this one."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def skip_without_index() -> None:
    """Skip the test, with the reason, unless pip can see JupyterLab 4 on the package index."""
    done = run([sys.executable, "-m", "pip", "index", "versions", "jupyterlab"], timeout=120)
    if done.returncode != 0 or "Available versions" not in done.stdout:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(
            f"the package index cannot be reached (pip index versions jupyterlab: {tail[0]})"
        )


def _copy_checkout(dest: Path) -> None:
    """The working tree's files (as ``git`` sees them) and the built labextension, into ``dest``."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
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


_BUILT: list[Path] = []


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``jupyter_mlops-*.whl`` built from this checkout (once per session), alone in its folder.

    Each module that imports the fixture gets a fixture of its own from pytest,
    so the wheel itself is remembered here: one build, whoever asks first.
    """
    if not _BUILT:
        _BUILT.append(_build(tmp_path_factory))
    return _BUILT[0]


def _build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (LABEXTENSION / "package.json").is_file():
        pytest.fail("jupyter_mlops/labextension is not built: run `make install` first")
    source = tmp_path_factory.mktemp("wheel-src")
    out = tmp_path_factory.mktemp("dist")
    _copy_checkout(source)
    done = run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), "."],
        cwd=source,
        env={**environ(), "SKIP_JUPYTER_BUILDER": "1"},
    )
    assert done.returncode == 0, (
        f"python -m build failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    (wheel,) = out.glob("jupyter_mlops-*.whl")
    return wheel


def make_venv(path: Path) -> tuple[Path, dict[str, str]]:
    """A new venv at ``path`` (no system site-packages): its ``bin`` folder and an environment
    with that folder first on ``PATH``."""
    made = run([sys.executable, "-m", "venv", str(path)])
    assert made.returncode == 0, made.stderr
    bin_dir = path / "bin"
    env = environ()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return bin_dir, env
