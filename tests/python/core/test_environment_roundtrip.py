"""Round trip with real virtualenvs and real pip installs (offline, from wheels built here).

1. venv A: ``pip install tiny-alpha==1.0 tiny-beta==2.0`` (tiny-alpha pulls tiny-dep);
2. snapshot A by prefix -> ``environment.yml``;
3. venv B: ``pip install -r`` the file's ``pip:`` section;
4. ``env check`` in B (a snapshot taken *inside* B's interpreter) passes;
5. ``pip install tiny-beta==2.1`` in B: the check reports exactly that change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from env_fixtures import build_wheel

from jupyter_mlops.core.environment import (
    EnvironmentSnapshot,
    PackageChange,
    check_drift,
    content_hash,
    snapshot_from_file,
    take_snapshot,
    write_snapshot,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow

SNAPSHOT_IN_CHILD = """
import sys
from jupyter_mlops.core.environment import render_snapshot_json, take_snapshot
sys.path.remove(sys.argv[1])  # the source tree is not part of the environment
print(render_snapshot_json(take_snapshot()))
"""


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    assert python.exists()
    return python


def _pip_install(python: Path, wheels: Path, *args: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-index",
            "--find-links",
            str(wheels),
            *args,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _snapshot_inside(python: Path) -> EnvironmentSnapshot:
    """take_snapshot() run by the venv's own interpreter (this source tree on its path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    out = subprocess.run(
        [str(python), "-c", SNAPSHOT_IN_CHILD, str(REPO_ROOT)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=python.parent,
    ).stdout
    return EnvironmentSnapshot.from_dict(json.loads(out))


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    build_wheel(folder, "tiny-alpha", "1.0", requires=["tiny-dep>=0.5"])
    build_wheel(folder, "tiny-beta", "2.0")
    build_wheel(folder, "tiny-beta", "2.1")
    build_wheel(folder, "tiny-dep", "0.5")
    return folder


def test_snapshot_recreate_check_then_drift(tmp_path: Path, wheels: Path) -> None:
    python_a = _venv(tmp_path / "venv-a")
    _pip_install(python_a, wheels, "tiny-alpha==1.0", "tiny-beta==2.0")

    snap_a = take_snapshot(tmp_path / "venv-a")
    assert [(p.name, p.version, p.requested, p.installer) for p in snap_a.pip_packages] == [
        ("tiny-alpha", "1.0", True, ""),
        ("tiny-beta", "2.0", True, ""),
        ("tiny-dep", "0.5", False, ""),
    ]
    env_file = write_snapshot(snap_a, tmp_path / "snap")[0]
    document = yaml.safe_load(env_file.read_text())
    pip_lines = document["dependencies"][-1]["pip"]
    assert pip_lines == ["tiny-alpha==1.0", "tiny-beta==2.0", "tiny-dep==0.5"]
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert document["dependencies"][:2] == [f"python={minor}", "pip"]

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pip_lines) + "\n")
    python_b = _venv(tmp_path / "venv-b")
    _pip_install(python_b, wheels, "-r", str(requirements))

    inside_b = _snapshot_inside(python_b)
    assert inside_b.platform["python_version"].startswith(minor)
    assert not check_drift(env_file, current=inside_b)
    assert content_hash(inside_b) == content_hash(snapshot_from_file(env_file))
    assert content_hash(take_snapshot(tmp_path / "venv-b")) == content_hash(snap_a)

    _pip_install(python_b, wheels, "tiny-beta==2.1")
    drift = check_drift(env_file, current=_snapshot_inside(python_b))
    assert drift.changed == (PackageChange("pip", "tiny-beta", "2.0", "2.1"),)
    assert (drift.added, drift.removed, drift.python) == ((), (), None)

    portable = write_snapshot(
        take_snapshot(tmp_path / "venv-a", requested_only=True), tmp_path / "portable"
    )[0]
    assert yaml.safe_load(portable.read_text())["dependencies"][-1]["pip"] == [
        "tiny-alpha==1.0",
        "tiny-beta==2.0",
    ]
    drift = check_drift(portable, current=take_snapshot(tmp_path / "venv-b"))
    assert drift.changed == (PackageChange("pip", "tiny-beta", "2.0", "2.1"),)
    assert drift.listed_only
