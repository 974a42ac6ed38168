"""A real export to compile for Kubeflow, and its steps run here as Kubeflow's launcher runs them.

No cluster: :func:`launcher_argv` rebuilds a step's container argv from the
compiled spec (each placeholder replaced inside its own argv item, the
workspace placeholder by a local folder, as the driver does), and
:func:`run_in_pod` runs it without a shell in a copy of the image's folder.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from pipeline_helpers import notebook, write_notebook

from jupyter_mlops.core.environment import EnvironmentSnapshot, take_snapshot
from jupyter_mlops.core.pipeline import export_pipeline
from jupyter_mlops.core.pipeline.export import dump_yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
PREP_PARAMS = (
    "seed: int = 7\nlabel = 'plain'\nratio = 0.25\nflags = [1, 2]\n"
    "opts = {'k': 'v'}\nverbose = True\nthing = None\n"
)
PREP_BODY = (
    "import json, os\nos.makedirs('data', exist_ok=True)\n"
    "json.dump(dict(seed=seed, label=label, ratio=ratio, flags=flags, opts=opts,"
    " verbose=verbose, thing=thing), open('data/clean.json', 'w'))"
)
TRAIN_BODY = (
    "import json\nseen = json.load(open('data/clean.json'))\n"
    "json.dump(dict(seen=seen, lr=lr, epochs=epochs), open('data/model.json', 'w'))"
)
RESOURCES = {"cpu": "2", "memory": "4Gi", "gpu": 1}
WORKSPACE_PLACEHOLDER = "{{$.workspace_path}}"


@functools.cache
def snapshot() -> EnvironmentSnapshot:
    """This environment's snapshot, taken once (the export pins requirements from it)."""
    return take_snapshot(requested_only=True)


def export_churn(folder: Path) -> Path:
    """A real 2-step export "Churn Model" in ``folder``: ``prep`` writes data/clean.json,
    ``train`` (with ``resources``) reads it and writes data/model.json."""
    write_notebook(
        folder / "prep.ipynb",
        notebook(PREP_PARAMS, PREP_BODY, mlops={"outputs": ["data/clean.json"]}),
    )
    write_notebook(
        folder / "train.ipynb",
        notebook("lr = 0.1\nepochs = 3\n", TRAIN_BODY, mlops={"inputs": ["data/clean.json"]}),
    )
    out = export_pipeline(
        ["prep.ipynb", "train.ipynb"], "Churn Model", folder, snapshot=snapshot()
    ).out_dir
    edit(out / "pipeline.yaml", lambda doc: doc["steps"][1].update(resources=RESOURCES))
    return out


def load(path: Path) -> Any:
    """The (first) YAML document of ``path``: the pipeline spec of a compiled file."""
    return next(yaml.safe_load_all(path.read_text(encoding="utf-8")))


def platform(path: Path) -> Any:
    """The Kubernetes platform spec of a compiled file (its second document)."""
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(documents) == 2
    return documents[1]["platforms"]["kubernetes"]


def edit(path: Path, change: Any) -> None:
    document = load(path)
    change(document)
    path.write_text(dump_yaml(document), encoding="utf-8")


def concat(item: str) -> list[str]:
    """The parts of a ``{"Concat": [...]}`` argv item (kfp's JSON form)."""
    parts = json.loads(item)["Concat"]
    assert all(isinstance(p, str) for p in parts)
    return list(parts)


def launcher_argv(
    spec: dict[str, Any], step: str, arguments: dict[str, Any], workspace: Path
) -> list[str]:
    """The argv Kubeflow's launcher runs for ``step``: each placeholder replaced in its own item.

    Values render as the launcher renders them: text verbatim, numbers and
    booleans as JSON scalars, lists and structs as JSON. The driver replaces
    the workspace placeholder with the workspace's mount path (``workspace``).
    """
    container = spec["deploymentSpec"]["executors"][f"exec-{step}"]["container"]
    task = spec["root"]["dag"]["tasks"][step]["inputs"]["parameters"]
    root = spec["root"]["inputDefinitions"]["parameters"]
    values: dict[str, str] = {}
    for name, source in task.items():
        if "runtimeValue" in source:
            constant = source["runtimeValue"]["constant"]
            values[name] = constant.replace(WORKSPACE_PLACEHOLDER, str(workspace))
            continue
        pipeline_name = source["componentInputParameter"]
        kind = root[pipeline_name]["parameterType"]
        value = arguments.get(pipeline_name, root[pipeline_name]["defaultValue"])
        if kind == "NUMBER_INTEGER":
            value = int(value)
        values[name] = value if kind == "STRING" else json.dumps(value)
    argv = list(container["command"])
    for item in container["args"]:
        if item.startswith('{"Concat"'):
            prefix, placeholder = concat(item)
            item = prefix + values[placeholder.split("'")[1]]
        argv.append(item)
    return argv


def pod_env() -> dict[str, str]:
    """The environment of a step's container: this Python first, this checkout importable."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def run_in_pod(argv: list[str], pod: Path) -> None:
    """``argv`` run without a shell in ``pod`` (a copy of the image's folder), as its container."""
    proc = subprocess.run(argv, cwd=pod, env=pod_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
