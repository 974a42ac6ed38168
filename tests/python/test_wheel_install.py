"""The wheel, built from this checkout, installs cleanly next to the newest JupyterLab 4.

What a user does: ``python -m build`` in a clone, then ``pip install
dist/jupyter_mlops-*.whl`` into a fresh environment, where pip resolves the
newest JupyterLab 4 from the package index. Both halves must then be listed
``enabled OK``: the prebuilt lab extension (its declared ``@jupyterlab/*``
ranges must admit that JupyterLab) and the server extension.

The wheel is built once per session by :func:`wheel_build.built_wheel` (shared
with tests/python/test_export_rebuild.py). Skipped, with the reason, only when
the package index cannot be reached.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from wheel_build import (
    REPO,
    built_wheel,  # noqa: F401 (the session fixture: one build per session)
    make_venv,
    run,
    skip_without_index,
)

LAB_NAME = "jupyter-mlops"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.slow,
    # the session's one wheel build is shared with test_export_rebuild: one xdist worker
    pytest.mark.xdist_group("wheel"),
    pytest.mark.timeout(900),
]


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


def test_wheel_installs_next_to_the_newest_jupyterlab_4(
    tmp_path: Path,
    built_wheel: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    skip_without_index()
    wheel = built_wheel
    _check_wheel_contents(wheel)

    bin_dir, env = make_venv(tmp_path / "venv")
    installed = run(
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

    version = run(
        [str(bin_dir / "python"), "-c", "import jupyterlab; print(jupyterlab.__version__)"], env=env
    ).stdout.strip()
    lab = run([str(bin_dir / "jupyter"), "labextension", "list"], env=env)
    lab_out = ANSI.sub("", lab.stdout + lab.stderr)
    npm_version = json.loads((REPO / "package.json").read_text(encoding="utf-8"))["version"]
    expected = f"{LAB_NAME} v{npm_version} enabled OK"
    ours = [line.strip() for line in lab_out.splitlines() if line.strip().startswith(LAB_NAME)]
    assert any(line.startswith(expected) for line in ours), (
        f"JupyterLab {version}: `jupyter labextension list` says {ours or lab_out!r}, "
        f"not {expected!r}"
    )
    assert "not compatible" not in lab_out, f"JupyterLab {version}: {lab_out}"

    server = run([str(bin_dir / "jupyter"), "server", "extension", "list"], env=env)
    server_out = ANSI.sub("", server.stdout + server.stderr)
    assert re.search(r"^\s*jupyter_mlops enabled\s*$", server_out, re.M), (
        f"JupyterLab {version}: `jupyter server extension list` says {server_out!r}"
    )
    assert re.search(r"^\s*jupyter_mlops \S+ OK\s*$", server_out, re.M), (
        f"JupyterLab {version}: `jupyter server extension list` says {server_out!r}"
    )
