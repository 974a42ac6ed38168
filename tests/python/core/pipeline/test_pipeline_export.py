"""Export to a pipeline folder: files and their content, dependencies, hostile names and values."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.environment import EnvironmentSnapshot, take_snapshot
from jupyter_mlops.core.pipeline import export_pipeline, infer_parameters, validate_overrides
from jupyter_mlops.core.pipeline.dvc import step_argv
from jupyter_mlops.core.pipeline.export import (
    EXPORT_FILES,
    dump_yaml,
    step_names,
    topological_order,
)
from jupyter_mlops.core.pipeline.model import Step
from jupyter_mlops.core.pipeline.step import load_step_values, resolve_step_parameters
from jupyter_mlops.exceptions import InvalidValueError, PathError, UsageError

REPO_ROOT = Path(__file__).resolve().parents[4]
HOSTILE = "'; touch pwned; '"


@pytest.fixture(scope="module")
def snapshot() -> EnvironmentSnapshot:
    return take_snapshot(requested_only=True)


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _two_notebooks(root: Path) -> None:
    write_notebook(
        root / "nbs" / "Prepare Data.ipynb",
        notebook(
            "rows: int = 100\nsource = 'raw.csv'\nseed = len('ab')\n",
            "open('data/clean.csv', 'w').write('x')",
            mlops={"inputs": ["data/raw.csv"], "outputs": ["data/clean.csv"]},
        ),
    )
    write_notebook(
        root / "nbs" / "train.ipynb",
        notebook(
            "lr = 0.1\nepochs = 3\nlayers = [16, 8]\n",
            mlops={"inputs": ["data/clean.csv"], "metrics": ["metrics.json"]},
        ),
    )


def test_export_two_notebooks(tmp_path: Path) -> None:
    _two_notebooks(tmp_path)
    result = export_pipeline(
        ["nbs/train.ipynb", "nbs/Prepare Data.ipynb"],  # out of order on purpose
        "pipe",
        tmp_path,
        name="demo",
        outputs={"train": ["model.pkl"]},
    )
    out = tmp_path / "pipe"
    assert result.out_dir == out.resolve()
    assert [s.name for s in result.steps] == ["prepare_data", "train"]
    assert {p.relative_to(result.out_dir).as_posix() for p in result.files} == {
        *EXPORT_FILES,
        "wheels/README.md",
        "notebooks/prepare_data.ipynb",
        "notebooks/train.ipynb",
    }
    assert {"environment.yml", "requirements.txt", "Dockerfile"} <= set(EXPORT_FILES)
    assert result.warnings == [
        "prepare_data: parameter 'seed' (line 3) has a default that is not a JSON-like "
        "literal; it is left out of params.yaml"
    ]

    pipeline = _load(out / "pipeline.yaml")
    assert pipeline["name"] == "demo"
    prepare, train = pipeline["steps"]
    assert prepare == {
        "name": "prepare_data",
        "notebook": "notebooks/prepare_data.ipynb",
        "source": "nbs/Prepare Data.ipynb",
        "output": "outputs/prepare_data.ipynb",
        "parameters": {
            "rows": {"type": "int", "default": 100, "annotation": "int"},
            "source": {"type": "str", "default": "raw.csv"},
            "seed": {"type": "unknown", "default": None, "literal": False},
        },
        "inputs": ["data/raw.csv"],
        "outputs": ["data/clean.csv"],
        "metrics": [],
        "depends_on": [],
    }
    assert train["depends_on"] == ["prepare_data"]  # from data/clean.csv
    assert train["outputs"] == ["model.pkl"]
    assert train["parameters"]["layers"] == {"type": "list", "default": [16, 8]}

    assert _load(out / "params.yaml") == {
        "prepare_data": {"rows": 100, "source": "raw.csv"},
        "train": {"lr": 0.1, "epochs": 3, "layers": [16, 8]},
    }
    stages = _load(out / "dvc.yaml")["stages"]
    assert list(stages) == ["prepare_data", "train"]
    assert stages["prepare_data"] == {
        "cmd": "python -m jupyter_mlops.core.pipeline.step prepare_data "
        "notebooks/prepare_data.ipynb outputs/prepare_data.ipynb",
        "deps": ["notebooks/prepare_data.ipynb", "data/raw.csv"],
        "params": ["prepare_data.rows", "prepare_data.source"],
        "outs": ["outputs/prepare_data.ipynb", "data/clean.csv"],
    }
    assert stages["train"]["deps"] == [
        "notebooks/train.ipynb",
        "data/clean.csv",
        "outputs/prepare_data.ipynb",
    ]
    assert stages["train"]["params"] == ["train.lr", "train.epochs", "train.layers"]
    assert stages["train"]["metrics"] == [{"metrics.json": {"cache": False}}]
    assert stages["train"]["outs"] == ["outputs/train.ipynb", "model.pkl"]

    env = _load(out / "environment.yml")
    assert "dependencies" in env
    assert not (out / "platform.yml").exists()
    assert not (out / "requirements.lock").exists()
    readme = (out / "README.md").read_text()
    assert "dvc repro" in readme
    assert "python -m jupyter_mlops.core.pipeline.step" in readme
    assert "jupyter mlops run ." in readme
    assert "## Warnings" in readme
    assert "parameter 'seed' (line 3)" in readme
    copied = json.loads((out / "notebooks" / "train.ipynb").read_text())
    assert copied == json.loads((tmp_path / "nbs" / "train.ipynb").read_text())


def _pip_list(env: Any) -> list[str]:
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_export_pins_jupyter_mlops_and_says_where_to_get_it(tmp_path: Path) -> None:
    """An editable path, a bare name or no entry at all: ``jupyter-mlops==<this version>``."""
    import jupyter_mlops

    pin = f"jupyter-mlops=={jupyter_mlops.__version__}"
    write_notebook(tmp_path / "a.ipynb", notebook("x = 1\n"))
    from jupyter_mlops.core.environment import DirectUrl, PipPackage, snapshot_from_file

    bare = snapshot_from_file(REPO_ROOT / "examples" / "pipeline" / "environment.yml")
    others = tuple(p for p in bare.pip_packages if p.name != "jupyter-mlops")
    checkout = str(tmp_path / "checkout")
    editable = PipPackage(
        "jupyter-mlops", "0.0.9", True, DirectUrl("editable", f"file://{checkout}", checkout)
    )
    cases = {
        "editable": bare._replace(pip_packages=(editable, *others)),
        "bare": bare,
        "absent": bare._replace(pip_packages=others),
    }
    assert "jupyter-mlops" in [p.name for p in cases["bare"].pip_packages]
    assert "jupyter-mlops" not in [p.name for p in cases["absent"].pip_packages]
    for case, snap in cases.items():
        out = tmp_path / case
        export_pipeline(["a.ipynb"], out, tmp_path, snapshot=snap)
        text = (out / "environment.yml").read_text(encoding="utf-8")
        pip = _pip_list(yaml.safe_load(text))
        assert [p for p in pip if "jupyter" in p or p.startswith("-e")] == [pin], case
        assert str(tmp_path) not in text, case  # never a local path
        assert "papermill==2.7.0" in pip, case
        lines = text.splitlines()
        at = lines.index(f"      - {pin}")
        assert lines[at - 4].strip().startswith("# jupyter-mlops is not on PyPI yet"), text
        assert "pip install --find-links /path/to/dist" in lines[at - 3], text
        requirements = (out / "requirements.txt").read_text(encoding="utf-8").splitlines()
        assert [r for r in requirements if not r.startswith("#")] == pip, case
        readme = (out / "README.md").read_text(encoding="utf-8")
        assert f"`{pin}`, which is not on PyPI yet" in readme
        assert "python -m build" in readme
    # the file reads back as the same snapshot (the comments are only comments)
    again = snapshot_from_file(tmp_path / "bare" / "environment.yml")
    assert any(p.name == "jupyter-mlops" and p.version for p in again.pip_packages)


def test_step_names_are_safe_and_unique() -> None:
    assert step_names(
        ["Prepare Data", "prepare-data", "2nd", "", "a $(touch pwned) b", "${x}"]
    ) == [
        "prepare_data",
        "prepare_data_2",
        "step_2nd",
        "step",
        "a_touch_pwned_b",
        "x",
    ]


def test_topological_order_and_cycles() -> None:
    assert topological_order({"c": ["b"], "b": ["a"], "a": []}) == ["a", "b", "c"]
    with pytest.raises(UsageError, match="cycle: a, b"):
        topological_order({"a": ["b"], "b": ["a"], "c": []})


def test_export_errors_write_nothing(tmp_path: Path, snapshot: EnvironmentSnapshot) -> None:
    write_notebook(tmp_path / "a.ipynb", notebook("n = 1", mlops={"depends_on": ["b"]}))
    write_notebook(tmp_path / "b.ipynb", notebook("n = 1", mlops={"depends_on": ["a.ipynb"]}))
    write_notebook(tmp_path / "plain.ipynb", notebook(None, "x = 1"))
    write_notebook(tmp_path / "bad.ipynb", notebook("n = 1", mlops={"inputs": ["../x"]}))
    (tmp_path / "broken.ipynb").write_text("{")
    cases: list[tuple[list[str], type[Exception], str]] = [
        (["a.ipynb", "b.ipynb"], UsageError, "cycle"),
        (["a.ipynb"], UsageError, "unknown step 'b'"),
        (["plain.ipynb"], UsageError, "plain.ipynb: the notebook has no cell tagged"),
        (["bad.ipynb"], PathError, "without '..'"),
        (["broken.ipynb"], InvalidValueError, "not valid JSON"),
        (["../outside.ipynb"], PathError, "outside the root"),
        ([], UsageError, "no notebooks"),
        (["b.ipynb", "./b.ipynb"], UsageError, "listed twice"),
        (["res.ipynb"], UsageError, "'params.yaml' is a file the export writes"),
        (["res2.ipynb"], UsageError, "'notebooks/x.ipynb' is a file the export writes"),
        (["res3.ipynb"], UsageError, "'Dockerfile' is a file the export writes"),
        (["res4.ipynb"], UsageError, "'wheels/a.whl' is a file the export writes"),
    ]
    write_notebook(tmp_path / "res3.ipynb", notebook("n = 1", mlops={"outputs": ["Dockerfile"]}))
    write_notebook(tmp_path / "res4.ipynb", notebook("n = 1", mlops={"inputs": ["wheels/a.whl"]}))
    write_notebook(tmp_path / "res.ipynb", notebook("n = 1", mlops={"outputs": ["params.yaml"]}))
    write_notebook(
        tmp_path / "res2.ipynb", notebook("n = 1", mlops={"inputs": ["notebooks/x.ipynb"]})
    )
    for notebooks, error, message in cases:
        with pytest.raises(error, match=message):
            export_pipeline(notebooks, "out", tmp_path, snapshot=snapshot)
        assert not (tmp_path / "out").exists()
    write_notebook(tmp_path / "sub" / "c.ipynb", notebook("n = 1"))
    with pytest.raises(UsageError, match="inputs given for unknown steps: nope"):
        export_pipeline(["sub/c.ipynb"], "out", tmp_path, inputs={"nope": ["x"]}, snapshot=snapshot)
    with pytest.raises(PathError):
        export_pipeline(["sub/c.ipynb"], "../out", tmp_path, snapshot=snapshot)
    with pytest.raises(UsageError, match="must not contain"):
        export_pipeline(["sub/c.ipynb"], ".", tmp_path, snapshot=snapshot)


def _simulate_dvc_interpolation(cmd: str, params: dict[str, Any]) -> str:
    """What DVC does to ``cmd`` before the shell sees it: ``${step.key}`` -> the raw value."""

    def value(match: re.Match[str]) -> str:
        step, key = match.group(1).split(".", 1)
        return str(params[step][key])

    return re.sub(r"\$\{([^}]+)\}", value, cmd)


def _hostile_export(root: Path, snapshot: EnvironmentSnapshot) -> tuple[Path, dict[str, Any]]:
    write_notebook(
        root / "a $(touch pwned) b.ipynb",
        notebook(
            f"text = {HOSTILE!r}\n",
            "open('seen.json', 'w').write(__import__('json').dumps(text))",
        ),
    )
    result = export_pipeline(["a $(touch pwned) b.ipynb"], "pipe", root, snapshot=snapshot)
    stage = _load(result.out_dir / "dvc.yaml")["stages"]["a_touch_pwned_b"]
    return result.out_dir, stage


def test_hostile_notebook_name_and_value_do_not_reach_the_shell(
    tmp_path: Path, snapshot: EnvironmentSnapshot
) -> None:
    """The stage cmd through ``bash -c`` (after simulated DVC interpolation), with a stand-in python."""
    out, stage = _hostile_export(tmp_path, snapshot)
    params = _load(out / "params.yaml")
    assert params == {"a_touch_pwned_b": {"text": HOSTILE}}
    cmd = _simulate_dvc_interpolation(stage["cmd"], params)
    assert cmd == stage["cmd"]  # no ${...} in the command: nothing for DVC to paste in
    assert shlex.split(cmd) == step_argv(result_step(out))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    stand_in = fake_bin / "python"
    stand_in.write_text(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open('argv.json', 'w'))\n"
    )
    stand_in.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["bash", "-c", cmd], cwd=out, env=env, check=True)
    argv = json.loads((out / "argv.json").read_text())
    assert argv == [
        "-m",
        "jupyter_mlops.core.pipeline.step",
        "a_touch_pwned_b",
        "notebooks/a_touch_pwned_b.ipynb",
        "outputs/a_touch_pwned_b.ipynb",
    ]
    # the runner reads the value from params.yaml, intact
    nb_path = out / argv[3]
    assert resolve_step_parameters(out, argv[2], nb_path) == {"text": HOSTILE}
    assert not list(tmp_path.rglob("pwned"))


def result_step(out: Path) -> Step:
    """The exported step, rebuilt from pipeline.yaml."""
    (entry,) = _load(out / "pipeline.yaml")["steps"]
    return Step(name=entry["name"], source=entry["source"], parameters=[])


def test_runner_refuses_bad_params_before_running(
    tmp_path: Path, snapshot: EnvironmentSnapshot
) -> None:
    out, stage = _hostile_export(tmp_path, snapshot)
    step = "a_touch_pwned_b"
    nb = out / "notebooks" / f"{step}.ipynb"
    (out / "params.yaml").write_text(dump_yaml({step: {"text": 3, "os.system('x')": 1}}))
    with pytest.raises(UsageError, match="not a Python identifier") as info:
        resolve_step_parameters(out, step, nb)
    assert "text: expected str" in info.value.message
    (out / "params.yaml").write_text("[1]")
    with pytest.raises(InvalidValueError, match="must map step names"):
        load_step_values(out, step)
    from jupyter_mlops.core.pipeline.step import main

    (out / "params.yaml").write_text(dump_yaml({step: {"nope": 1}}))
    cwd = Path.cwd()
    os.chdir(out)
    try:
        assert main(stage["cmd"].split()[3:]) == 2
        assert main([step, "../../etc/passwd", "outputs/x.ipynb"]) == 2
    finally:
        os.chdir(cwd)
    assert not (out / "outputs").exists()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text())
def test_text_parameters_survive_encoding_exactly(value: str) -> None:
    """params.yaml (as export and DVC write it) -> runner -> papermill's Python literal -> kernel."""
    from papermill.translators import translate_parameters

    params = infer_parameters(notebook("text = 'default'"))
    document = yaml.safe_load(dump_yaml({"step": {"text": value}}))
    values = validate_overrides(params, document["step"])
    code = translate_parameters("python3", "python", values)
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    assert namespace["text"] == value


@pytest.mark.slow
def test_stage_command_runs_a_real_kernel(tmp_path: Path, snapshot: EnvironmentSnapshot) -> None:
    """The real cmd through ``bash -c``: papermill, a python3 kernel, the hostile value intact."""
    out, stage = _hostile_export(tmp_path, snapshot)
    weird = "quote ' \" back \\ nl \n uni é 🎉 $(touch pwned) ${x}"
    (out / "params.yaml").write_text(dump_yaml({"a_touch_pwned_b": {"text": weird}}))
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        ["bash", "-c", stage["cmd"]], cwd=out, env=env, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "seen.json").read_text()) == weird
    assert (out / "outputs" / "a_touch_pwned_b.ipynb").exists()
    assert not list(tmp_path.rglob("pwned"))
