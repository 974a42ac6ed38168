"""An exported pipeline under real DVC: ``git init`` + ``dvc init``, ``dvc repro``, ``dvc exp run -S``.

Two notebooks written by the test: the first, named ``a $(touch pwned) b.ipynb``,
writes ``data/rows.json`` (declared as an output in its metadata) from a plain
number and a string default full of quotes, ``$(...)`` and backticks; the
second reads it (declared input) and writes ``metrics.json`` (declared
metrics). They are exported with ``jupyter mlops export`` and run by DVC
itself, in a subprocess, the way a user runs them. Nothing a notebook name or
parameter value holds may reach a shell: no ``pwned`` file appears anywhere.

DVC and git keep all their state inside ``tmp_path``: the repository's own
config holds the git identity, DVC's site cache and global/system config
folders and the XDG folders point into ``tmp_path``, analytics are off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from notebooks import code_cell

import jupyter_mlops
from jupyter_mlops.cli.main import main as cli_main

pytestmark = pytest.mark.slow

PACKAGE_PARENT = str(Path(jupyter_mlops.__file__).resolve().parents[1])
TRAP = "a $(touch pwned) b.ipynb"
TRAP_STEP = "a_touch_pwned_b"
LABEL = 'it\'s "q" $(touch pwned) `touch pwned` ; touch pwned'


def _notebook(params: str, body: str, declared: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "cells": [code_cell(params, ["parameters"]), code_cell(body)],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "jupyter_mlops": declared,
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


PREPARE = _notebook(
    f"rows = 5\nlabel = {LABEL!r}\n",
    "import json, os\n"
    "os.makedirs('data', exist_ok=True)\n"
    "with open('data/rows.json', 'w') as f:\n"
    "    json.dump({'rows': rows, 'label': label}, f)\n",
    {"outputs": ["data/rows.json"]},
)
TRAIN = _notebook(
    "scale = 2.0\n",
    "import json\n"
    "with open('data/rows.json') as f:\n"
    "    data = json.load(f)\n"
    "with open('metrics.json', 'w') as f:\n"
    "    json.dump({'score': data['rows'] * scale}, f)\n",
    {"inputs": ["data/rows.json"], "metrics": ["metrics.json"]},
)


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    """This interpreter's ``python`` first on PATH; DVC's and git's state inside ``tmp_path``."""
    state = tmp_path / "state"
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")])),
        "DVC_NO_ANALYTICS": "1",
        "DVC_STUDIO_OFFLINE": "1",
        "DVC_SITE_CACHE_DIR": str(state / "dvc-site-cache"),
        "DVC_GLOBAL_CONFIG_DIR": str(state / "dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(state / "dvc-system"),
        "XDG_CACHE_HOME": str(state / "cache"),
        "XDG_CONFIG_HOME": str(state / "config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(state / "gitconfig"),  # never created: read as empty
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "JUPYTER_MLOPS_SPOOL_DIR": str(state / "spool"),
    }
    env.pop("DVC_ROOT", None)
    return env


class Repo:
    """A git + DVC repository in ``path``; commands run with an isolated environment."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def git(self, *args: str) -> str:
        return self._run(["git", *args], self.path)

    def dvc(self, *args: str, cwd: Path | None = None) -> str:
        return self._run([sys.executable, "-m", "dvc", *args], cwd or self.path)

    def dvc_json(self, *args: str, cwd: Path) -> Any:
        return json.loads(self._run([sys.executable, "-m", "dvc", *args], cwd, stdout_only=True))

    def _run(self, argv: list[str], cwd: Path, *, stdout_only: bool = False) -> str:
        done = subprocess.run(
            argv, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"{argv[:4]}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout if stdout_only else done.stdout + done.stderr

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)


def _walk(node: object) -> Iterator[dict[str, Any]]:
    """Every ``data`` record (one per revision) in ``dvc exp show --json`` output."""
    if isinstance(node, dict):
        if isinstance(node.get("data"), dict) and "params" in node["data"]:
            yield node["data"]
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _pwned(tmp_path: Path, *cwds: Path) -> list[Path]:
    """``pwned`` files anywhere under ``tmp_path`` or directly in one of ``cwds``."""
    hits = list(tmp_path.rglob("pwned"))
    return hits + [cwd / "pwned" for cwd in cwds if (cwd / "pwned").exists()]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """A fresh git + DVC repo holding the two notebooks and their exported pipeline (committed)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("dvc")
    pytest.importorskip("papermill")
    path = tmp_path / "repo"
    path.mkdir()
    repo = Repo(path, _isolated_env(tmp_path))
    repo.git("init", "-q")
    repo.git("config", "user.name", "Test")
    repo.git("config", "user.email", "test@example.invalid")
    repo.git("config", "commit.gpgsign", "false")
    repo.dvc("init", "-q")
    (path / TRAP).write_text(json.dumps(PREPARE), encoding="utf-8")
    (path / "train.ipynb").write_text(json.dumps(TRAIN), encoding="utf-8")
    monkeypatch.chdir(path)
    assert cli_main(["export", TRAP, "train.ipynb", "-o", "pipeline", "--name", "trap"]) == 0
    repo.commit("notebooks and their exported pipeline")
    return repo


def test_dvc_repro_and_exp_run_execute_the_exported_pipeline(
    repo: Repo, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pipeline = repo.path / "pipeline"
    cwds = (Path.cwd(), request.config.invocation_params.dir, pipeline)
    stages = yaml.safe_load((pipeline / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    assert list(stages) == [TRAP_STEP, "train"]
    for stage in stages.values():  # neither the file name nor a value reaches a command
        assert not set(stage["cmd"]) & set("$`'\";&|()"), stage["cmd"]
    assert yaml.safe_load((pipeline / "params.yaml").read_text(encoding="utf-8")) == {
        TRAP_STEP: {"rows": 5, "label": LABEL},
        "train": {"scale": 2.0},
    }

    out = repo.dvc("repro", cwd=pipeline)
    assert f"Running stage '{TRAP_STEP}'" in out
    assert "Running stage 'train'" in out
    for path in (f"outputs/{TRAP_STEP}.ipynb", "outputs/train.ipynb", "data/rows.json"):
        assert (pipeline / path).is_file(), path
    data = json.loads((pipeline / "data/rows.json").read_text(encoding="utf-8"))
    assert data == {"rows": 5, "label": LABEL}  # the string arrived byte for byte
    assert json.loads((pipeline / "metrics.json").read_text(encoding="utf-8")) == {"score": 10.0}
    assert (pipeline / "dvc.lock").is_file()
    assert _pwned(tmp_path, *cwds) == []
    repo.commit("baseline run")

    out = repo.dvc("exp", "run", "-S", "train.scale=3.5", cwd=pipeline)
    assert "Running stage 'train'" in out
    assert f"Running stage '{TRAP_STEP}'" not in out  # its parameters did not change
    assert json.loads((pipeline / "metrics.json").read_text(encoding="utf-8")) == {"score": 17.5}
    shown = repo.dvc_json("exp", "show", "--json", cwd=pipeline)
    records = [
        (
            rec["params"]["pipeline/params.yaml"]["data"]["train"]["scale"],
            rec["metrics"]["pipeline/metrics.json"]["data"]["score"],
        )
        for rec in _walk(shown)
        if "pipeline/metrics.json" in (rec.get("metrics") or {})
    ]
    assert (2.0, 10.0) in records  # the committed baseline
    assert (3.5, 17.5) in records  # the experiment (and the workspace it was applied to)

    executed = (pipeline / "outputs/train.ipynb").stat().st_mtime_ns
    out = repo.dvc("repro", cwd=pipeline)
    assert "Running stage" not in out
    assert "up to date" in out
    assert (pipeline / "outputs/train.ipynb").stat().st_mtime_ns == executed
    assert _pwned(tmp_path, *cwds) == []
