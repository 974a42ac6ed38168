"""``jupyter mlops params|export`` on notebooks written by the test, and the example pipeline."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from child_python import PACKAGE_PARENT, last_line

import jupyter_mlops
from jupyter_mlops.cli.main import COMMANDS, main

REPO = Path(__file__).resolve().parents[2]
EXPORTED = REPO / "examples" / "pipeline" / "exported"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_notebook(
    path: Path, parameters: str | None, body: str, declared: dict[str, list[str]]
) -> Path:
    cells: list[dict[str, Any]] = []
    if parameters is not None:
        cells.append(
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": parameters,
                "outputs": [],
                "execution_count": None,
            }
        )
    cells.append(
        {
            "cell_type": "code",
            "metadata": {},
            "source": body,
            "outputs": [],
            "execution_count": None,
        }
    )
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"jupyter_mlops": declared},
        "cells": cells,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """prepare.ipynb (writes data/rows.csv) and train.ipynb (reads it) in a fresh folder."""
    folder = tmp_path / "project"
    folder.mkdir()
    write_notebook(
        folder / "prepare.ipynb",
        "rows: int = 10\nseed = 1\n",
        "print(rows)",
        {"outputs": ["data/rows.csv"]},
    )
    write_notebook(
        folder / "train.ipynb",
        "lr: float = 0.1\nlayers = [1, 2]\nn = len(layers)\n",
        "print(lr)",
        {"inputs": ["data/rows.csv"], "metrics": ["metrics.json"]},
    )
    monkeypatch.chdir(folder)
    return folder


def test_commands_are_registered() -> None:
    assert "params" in COMMANDS
    assert "export" in COMMANDS
    assert not COMMANDS["export"].uses_store


def test_export_writes_the_pipeline(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys, "export", "train.ipynb", "prepare.ipynb", "-o", "pipe", "--name", "demo"
    )
    assert code == 0, err
    pipe = project / "pipe"
    for name in (
        "pipeline.yaml",
        "params.yaml",
        "dvc.yaml",
        "README.md",
        "environment.yml",
        "requirements.txt",
        "Dockerfile",
    ):
        assert (pipe / name).is_file(), name
        assert name in out
    assert not (pipe / "requirements.lock").exists()
    assert "notebooks/prepare.ipynb" in out
    # the non-literal default is reported, and left out of params.yaml
    assert "warning:" in err
    assert "'n'" in err
    pipeline = yaml.safe_load((pipe / "pipeline.yaml").read_text())
    assert pipeline["name"] == "demo"
    assert [s["name"] for s in pipeline["steps"]] == ["prepare", "train"]
    assert pipeline["steps"][1]["depends_on"] == ["prepare"]
    params = yaml.safe_load((pipe / "params.yaml").read_text())
    assert params == {"prepare": {"rows": 10, "seed": 1}, "train": {"lr": 0.1, "layers": [1, 2]}}
    stages = yaml.safe_load((pipe / "dvc.yaml").read_text())["stages"]
    assert "data/rows.csv" in stages["prepare"]["outs"]
    assert "data/rows.csv" in stages["train"]["deps"]
    # jupyter-mlops itself: a pin (never the editable checkout's path), and where to get it
    env_text = (pipe / "environment.yml").read_text()
    pin = f"jupyter-mlops=={jupyter_mlops.__version__}"
    pip = next(d["pip"] for d in yaml.safe_load(env_text)["dependencies"] if isinstance(d, dict))
    assert pin in pip
    assert not [p for p in pip if p.startswith("-e")]
    assert "not on PyPI yet" in env_text
    assert "not on PyPI yet" in (pipe / "README.md").read_text()


def test_export_lock_and_kfp_target(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--lock adds requirements.lock (the Dockerfile installs it); --target kfp compiles too."""
    pytest.importorskip("kfp")
    code, out, err = run_cli(
        capsys,
        "export",
        "prepare.ipynb",
        "-o",
        "pipe",
        "--lock",
        "--target",
        "kfp",
        "--image",
        "registry.example/prepare:1",
        "--workspace-size",
        "20Gi",
    )
    assert code == 0, err
    pipe = project / "pipe"
    listed = [line.strip() for line in out.splitlines()[1:]]
    assert "requirements.lock" in listed
    assert "-r requirements.lock" in (pipe / "Dockerfile").read_text()
    (kfp_file,) = [name for name in listed if name.startswith("kfp")]
    spec = yaml.safe_load_all((pipe / kfp_file).read_text())
    text = (pipe / kfp_file).read_text()
    assert "registry.example/prepare:1" in text
    assert any("20Gi" in json.dumps(doc) for doc in spec)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--target", "kfp", "--image", "bad image"], "is not a container image reference"),
        (["--target", "kfp", "--workspace-size", "lots"], "workspace_size must be"),
        (["--image", "registry.example/p:1"], "options of the Kubeflow target"),
        (["--workspace-size", "20Gi"], "options of the Kubeflow target"),
    ],
)
def test_export_bad_kfp_options_write_nothing(
    project: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code, _, err = run_cli(capsys, "export", "prepare.ipynb", "-o", "pipe", *options)
    assert code == 2, err
    assert message in err
    assert not (project / "pipe").exists()


def test_kfp_steps_run_the_image_the_readme_builds(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("kfp")
    code, _, err = run_cli(
        capsys, "export", "prepare.ipynb", "-o", "pipe", "--name", "Demo Pipe", "--target", "kfp"
    )
    assert code == 0, err
    readme = (project / "pipe" / "README.md").read_text()
    (build,) = [line for line in readme.splitlines() if line.startswith("docker build -t ")]
    image = build.split()[3]
    assert image == "demo-pipe"
    assert f"image: {image}:latest" in (project / "pipe" / "kfp-pipeline.yaml").read_text()


def test_export_unknown_target_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "export", "prepare.ipynb", "-o", "pipe", "--target", "airflow")
    assert code == 2
    assert "invalid choice: 'airflow'" in err
    assert not (project / "pipe").exists()


def test_export_root_option(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.chdir(project.parent)
    code, _, err = run_cli(
        capsys,
        "export",
        str(project / "prepare.ipynb"),
        "-o",
        str(project / "out"),
        "--root",
        str(project),
    )
    assert code == 0, err
    assert yaml.safe_load((project / "out" / "pipeline.yaml").read_text())["name"] == "out"


def test_export_without_parameters_cell_exits_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(project / "plain.ipynb", None, "x = 1", {})
    code, _out, err = run_cli(capsys, "export", "prepare.ipynb", "plain.ipynb", "-o", "pipe")
    assert code == 2
    assert "plain.ipynb" in err
    assert "no cell tagged 'parameters'" in err
    assert "Add Tag 'parameters'" in err  # the hint
    assert "Traceback" not in err
    assert not (project / "pipe").exists()  # nothing written


def test_export_outside_root_exits_2(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = write_notebook(tmp_path / "outside.ipynb", "a = 1", "", {})
    code, _, err = run_cli(capsys, "export", str(outside), "-o", "pipe")
    assert code == 2
    assert "outside the root folder" in err
    code, _, err = run_cli(capsys, "export", "prepare.ipynb", "-o", str(tmp_path / "elsewhere"))
    assert code == 2
    assert "outside the root folder" in err
    assert not (tmp_path / "elsewhere").exists()


def test_export_missing_notebook_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "export", "nope.ipynb", "-o", "pipe")
    assert code == 2
    assert "cannot read notebook" in err


def test_export_needs_output(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "export", "prepare.ipynb")
    assert code == 2
    assert "-o/--output" in err


def test_params_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "params", "train.ipynb", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["notebook"] == "train.ipynb"
    by_name = {p["name"]: p for p in data["parameters"]}
    assert list(by_name) == ["lr", "layers", "n"]
    assert by_name["lr"] == {
        "name": "lr",
        "type": "float",
        "default": 0.1,
        "literal": True,
        "annotation": "float",
        "line": 1,
    }
    assert by_name["layers"]["type"] == "list"
    assert by_name["layers"]["default"] == [1, 2]
    assert by_name["n"]["literal"] is False
    assert by_name["n"]["default"] is None


def test_params_table(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "params", "train.ipynb")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "DEFAULT", "NOTE"]
    assert lines[1].split() == ["lr", "float", "0.1"]
    assert lines[2].split() == ["layers", "list", "[1,", "2]"]
    assert lines[3].split() == ["n", "unknown", "?", "non-literal"]


def test_params_without_parameters_cell_exits_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(project / "plain.ipynb", None, "x = 1", {})
    code, _, err = run_cli(capsys, "params", "plain.ipynb")
    assert code == 2
    assert "no cell tagged 'parameters'" in err
    assert "Traceback" not in err


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from jupyter_mlops.cli.main import main\n"
        "for argv in (['export', '--help'], ['params', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = [m for m in ('mlflow', 'nbformat', 'papermill', 'yaml', 'IPython')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    assert last_line(code) == "HEAVY []"


@pytest.mark.slow
def test_exported_example_pipeline_runs(tmp_path: Path) -> None:
    """The checked-in examples/pipeline/exported: each dvc.yaml stage command, in order."""
    pytest.importorskip("papermill")
    pytest.importorskip("sklearn")
    work = tmp_path / "exported"
    shutil.copytree(EXPORTED, work, ignore=shutil.ignore_patterns("outputs", "data"))
    stages = yaml.safe_load((work / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "train"]
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "JUPYTER_MLOPS_SPOOL_DIR": str(tmp_path / "spool"),
        "PYTHONPATH": PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    for name, stage in stages.items():
        argv = shlex.split(stage["cmd"])
        assert argv[0] == "python"
        argv[0] = sys.executable
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{name}: {done.stderr[-2000:]}"
        for out in stage["outs"]:
            assert (work / out).is_file(), f"{name}: {out}"
    metrics = json.loads((work / "metrics.json").read_text())
    assert 0.8 < metrics["accuracy"] <= 1.0
