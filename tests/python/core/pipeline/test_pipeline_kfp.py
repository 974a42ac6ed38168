"""``export --target kfp``: a real export compiled with the real kfp SDK, the spec read back.

No cluster: the compiled spec is checked as data, kfp loads it back, and one
step's container command runs here as Kubeflow's launcher would run it (each
placeholder replaced inside its own argv item, no shell; see :mod:`kfp_helpers`).
How steps share files through the workspace: ``test_pipeline_kfp_workspace.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from kfp_helpers import (
    PREP_PARAMS,
    REPO_ROOT,
    WORKSPACE_PLACEHOLDER,
    concat,
    edit,
    export_churn,
    launcher_argv,
    load,
    platform,
    run_in_pod,
    snapshot,
)
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.pipeline import export_pipeline
from jupyter_mlops.core.pipeline.export import dump_yaml
from jupyter_mlops.core.pipeline.kfp import (
    KFP_FILE,
    STEP_MODULE,
    WORKSPACE_INPUT,
    compile_kfp,
    default_image,
)
from jupyter_mlops.core.pipeline.step import main as step_main
from jupyter_mlops.core.pipeline.step import resolve_step_parameters
from jupyter_mlops.exceptions import InvalidValueError, UsageError

WEIRD = "a b; $(touch pwned) `touch pwned` 'q' \"d\" | & > x \n--kernel=evil\n# c: 1 ${x} é"


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    """A real 2-step export (``prep`` then ``train``), ``resources`` added to ``train``."""
    return export_churn(tmp_path)


def test_compiled_spec_has_components_typed_parameters_order_and_resources(
    exported: Path,
) -> None:
    path = compile_kfp(exported)
    assert path == exported / KFP_FILE
    spec = load(path)
    assert spec["pipelineInfo"]["name"] == "churn-model"
    assert set(spec["components"]) == {"comp-prep", "comp-train"}
    executors = spec["deploymentSpec"]["executors"]
    for step, params in (("prep", PREP_PARAMS), ("train", "lr epochs")):
        container = executors[f"exec-{step}"]["container"]
        assert container["image"] == default_image("Churn Model") == "churn-model:latest"
        assert container["command"] == ["python", "-m", STEP_MODULE]
        args = container["args"]
        assert args[:3] == [step, f"notebooks/{step}.ipynb", f"outputs/{step}.ipynb"]
        assert concat(args[3]) == [
            "--workspace=",
            f"{{{{$.inputs.parameters['{WORKSPACE_INPUT}']}}}}",
        ]
        for item in args[4:]:
            prefix, placeholder = concat(item)
            name = prefix.removeprefix("--param=").removesuffix("=")
            assert prefix == f"--param={name}="
            assert name in params
            assert placeholder == f"{{{{$.inputs.parameters['{name}']}}}}"
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    typed = {name: (p["parameterType"], p["defaultValue"]) for name, p in inputs.items()}
    assert typed == {
        "prep__seed": ("NUMBER_INTEGER", 7),
        "prep__label": ("STRING", "plain"),
        "prep__ratio": ("NUMBER_DOUBLE", 0.25),
        "prep__flags": ("LIST", [1, 2]),
        "prep__opts": ("STRUCT", {"k": "v"}),
        "prep__verbose": ("BOOLEAN", True),
        "train__lr": ("NUMBER_DOUBLE", 0.1),
        "train__epochs": ("NUMBER_INTEGER", 3),
    }  # `thing = None` has no type: the step reads it from params.yaml
    component_inputs = spec["components"]["comp-train"]["inputDefinitions"]["parameters"]
    assert component_inputs == {
        WORKSPACE_INPUT: {"parameterType": "STRING"},
        "lr": {"parameterType": "NUMBER_DOUBLE"},
        "epochs": {"parameterType": "NUMBER_INTEGER"},
    }
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["train"]["dependentTasks"] == ["prep"]
    assert "dependentTasks" not in tasks["prep"]
    assert tasks["train"]["inputs"]["parameters"]["lr"] == {"componentInputParameter": "train__lr"}
    for task in tasks.values():  # the input that makes Kubeflow mount the workspace in the pod
        workspace = task["inputs"]["parameters"][WORKSPACE_INPUT]
        assert workspace == {"runtimeValue": {"constant": WORKSPACE_PLACEHOLDER}}
    assert platform(path)["pipelineConfig"]["workspace"]["size"] == "10Gi"
    assert all(not task["cachingOptions"].get("enableCache") for task in tasks.values())
    resources = executors["exec-train"]["container"]["resources"]
    assert resources["resourceCpuRequest"] == "2"
    assert resources["resourceMemoryRequest"] == "4Gi"
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert resources["accelerator"]["resourceCount"] == "1"
    assert "resources" not in executors["exec-prep"]["container"]

    from kfp import components

    loaded = components.load_component_from_file(str(path))  # kfp reads its own format back
    assert loaded.name == "churn-model"
    assert set(loaded.component_spec.inputs) == set(inputs)
    kubernetes = loaded.platform_spec.platforms["kubernetes"]
    assert kubernetes.pipelineConfig.workspace.size == "10Gi"
    compile_kfp(exported, image="registry.example.com/team/churn:1.0", workspace_size=2**30)
    image = load(path)["deploymentSpec"]["executors"]["exec-prep"]["container"]["image"]
    assert image == "registry.example.com/team/churn:1.0"
    assert platform(path)["pipelineConfig"]["workspace"]["size"] == str(2**30)


@pytest.mark.slow
def test_string_with_shell_metacharacters_stays_one_literal_argv_item(
    exported: Path, tmp_path: Path
) -> None:
    """prep's container command, run here without a shell: the notebook sees every value intact."""
    edit(exported / "params.yaml", lambda doc: doc["prep"].update(label=WEIRD))
    spec = load(compile_kfp(exported))
    assert spec["root"]["inputDefinitions"]["parameters"]["prep__label"]["defaultValue"] == WEIRD
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    argv = launcher_argv(spec, "prep", {"prep__seed": 11}, workspace)  # beats params.yaml
    assert f"--param=label={WEIRD}" in argv
    assert len(argv) == 3 + 3 + 1 + 6  # command, step notebook output, workspace, 6 parameters
    run_in_pod(argv, exported)
    seen = json.loads((workspace / "churn-model" / "data" / "clean.json").read_text())
    assert seen == {
        "seed": 11,
        "label": WEIRD,
        "ratio": 0.25,
        "flags": [1, 2],
        "opts": {"k": "v"},
        "verbose": True,
        "thing": None,
    }
    assert not list(exported.parent.rglob("pwned"))


def test_step_param_overrides_params_yaml_by_type(exported: Path) -> None:
    """``--param=NAME=VALUE``: text for a str, JSON for the rest; bad items exit 2 before a kernel."""
    nb = exported / "notebooks" / "prep.ipynb"
    overrides = {"label": "7", "seed": "8", "verbose": "false", "opts": '{"x": [1]}'}
    values = resolve_step_parameters(exported, "prep", nb, overrides)
    assert values["label"] == "7"  # a str takes the text as it is
    assert values["seed"] == 8
    assert values["verbose"] is False
    assert values["opts"] == {"x": [1]}
    assert values["ratio"] == 0.25  # the rest from params.yaml
    with pytest.raises(InvalidValueError, match="seed: expected int"):
        resolve_step_parameters(exported, "prep", nb, {"seed": "many"})
    cwd = Path.cwd()
    os.chdir(exported)
    try:
        base = ["prep", "notebooks/prep.ipynb", "outputs/prep.ipynb"]
        for bad in (["--param=nope=1"], ["--param=seed"], ["--param=seed=1", "--param=seed=2"]):
            assert step_main([*base, *bad]) == 2
    finally:
        os.chdir(cwd)
    assert not (exported / "outputs").exists()


@pytest.mark.parametrize(
    ("resources", "error", "message"),
    [
        ({"cpu": "2", "disk": "1Gi"}, UsageError, "unknown keys disk"),
        ({"cpu": -1}, InvalidValueError, "positive number of cores"),
        ({"cpu": "-500m"}, InvalidValueError, "positive number of cores"),
        ({"cpu": "0"}, InvalidValueError, "positive number of cores"),
        ({"cpu": 2, "cpu_limit": "500m"}, InvalidValueError, "cpu 2 is more than cpu_limit"),
        ({"memory": "4GB"}, InvalidValueError, "quantity such as '4Gi'"),
        ({"memory": "2Gi", "memory_limit": "1G"}, InvalidValueError, "more than memory_limit"),
        ({"gpu": -1}, InvalidValueError, "whole number of GPUs"),
        ({"gpu": True}, InvalidValueError, "whole number of GPUs"),
        ({"gpu_type": "nvidia.com/gpu"}, UsageError, "gpu_type needs gpu"),
        ("4 cpus", InvalidValueError, "must be a mapping"),
    ],
)
def test_bad_resources_write_nothing(
    exported: Path, resources: object, error: type[Exception], message: str
) -> None:
    target = exported / KFP_FILE
    compile_kfp(exported)
    before = target.read_bytes()
    edit(exported / "pipeline.yaml", lambda doc: doc["steps"][0].update(resources=resources))
    with pytest.raises(error, match=message):
        compile_kfp(exported)
    assert target.read_bytes() == before
    assert not list(exported.glob(f".{KFP_FILE}*"))


def test_good_resources_in_other_forms(exported: Path) -> None:
    resources = {"cpu": 0.25, "cpu_limit": 1, "memory": 1048576, "memory_limit": "2Mi"}
    edit(exported / "pipeline.yaml", lambda doc: doc["steps"][0].update(resources=resources))
    edit(exported / "pipeline.yaml", lambda doc: doc["steps"][1].update(resources={"gpu": 0}))
    executors = load(compile_kfp(exported))["deploymentSpec"]["executors"]
    got = executors["exec-prep"]["container"]["resources"]
    assert (got["resourceCpuRequest"], got["resourceCpuLimit"]) == ("250m", "1")
    assert (got["resourceMemoryRequest"], got["resourceMemoryLimit"]) == ("1048576", "2Mi")
    assert "resources" not in executors["exec-train"]["container"]  # gpu: 0 asks for none


def test_bad_folders_names_and_images_write_nothing(tmp_path: Path, exported: Path) -> None:
    with pytest.raises(UsageError, match=r"has no pipeline\.yaml"):
        compile_kfp(tmp_path / "prep.ipynb")
    with pytest.raises(UsageError, match=r"has no pipeline\.yaml"):
        compile_kfp(tmp_path)
    with pytest.raises(InvalidValueError, match="not a container image"):
        compile_kfp(exported, image="churn model; rm -rf /")
    for size in ("lots", "0", "-1Gi", "10GB", 0, True):
        with pytest.raises(InvalidValueError, match="workspace_size must be a positive"):
            compile_kfp(exported, workspace_size=size)
    params = load(exported / "params.yaml")

    def rename(doc: dict[str, Any]) -> None:
        doc["steps"][0]["name"] = "Prep"
        doc["steps"][1]["depends_on"] = ["Prep"]

    edit(exported / "pipeline.yaml", rename)
    (exported / "params.yaml").write_text(dump_yaml({"Prep": params["prep"], "train": {}}))
    with pytest.raises(InvalidValueError, match="step name 'Prep' is not lowercase"):
        compile_kfp(exported)
    assert not (exported / KFP_FILE).exists()


def test_pipeline_parameter_names_that_clash_are_refused(
    tmp_path: Path,
) -> None:
    """Step ``a`` parameter ``b__c`` and step ``a__b`` parameter ``c`` would both be ``a__b__c``."""
    write_notebook(tmp_path / "a.ipynb", notebook("b__c = 1\n"))
    write_notebook(tmp_path / "x.ipynb", notebook("c = 2\n"))
    out = export_pipeline(["a.ipynb", "x.ipynb"], "clash", tmp_path, snapshot=snapshot()).out_dir
    edit(out / "pipeline.yaml", lambda doc: doc["steps"][1].update(name="a__b"))
    (out / "params.yaml").write_text(dump_yaml({"a": {"b__c": 1}, "a__b": {"c": 2}}))
    with pytest.raises(UsageError, match=r"a__b__c would stand for both a\.b__c and a__b\.c"):
        compile_kfp(out)
    assert not (out / KFP_FILE).exists()


def test_parameter_named_like_the_workspace_input_is_refused(
    tmp_path: Path,
) -> None:
    write_notebook(tmp_path / "a.ipynb", notebook(f"{WORKSPACE_INPUT} = 'mine'\n"))
    out = export_pipeline(["a.ipynb"], "taken", tmp_path, snapshot=snapshot()).out_dir
    with pytest.raises(UsageError, match=f"a.{WORKSPACE_INPUT}: the name .* is taken") as info:
        compile_kfp(out)
    assert info.value.hint == "rename the parameter in the notebook and in params.yaml"
    assert not (out / KFP_FILE).exists()


def test_missing_kfp_says_how_to_install(exported: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "kfp" or m.startswith("kfp.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "kfp", None)  # what `import kfp` finds without the package
    with pytest.raises(UsageError, match="needs the kfp package") as info:
        compile_kfp(exported)
    assert info.value.hint == "pip install 'kfp>=2.14,<3'"
    assert not (exported / KFP_FILE).exists()


def test_shipped_example_compiles(tmp_path: Path) -> None:
    folder = shutil.copytree(REPO_ROOT / "examples" / "pipeline" / "exported", tmp_path / "bc")
    spec = load(compile_kfp(folder))
    params = load(folder / "params.yaml")
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["defaultValue"] for k, v in inputs.items()} == {
        f"{step}__{name}": value
        for step, values in params.items()
        for name, value in values.items()
    }
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"prepare", "train"}
    assert tasks["train"]["dependentTasks"] == ["prepare"]
    image = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["image"]
    assert image == "breast-cancer:latest"
