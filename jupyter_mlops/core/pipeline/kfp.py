"""Kubeflow Pipelines: an exported pipeline folder compiled for a cluster (``export --target kfp``).

::

    path = compile_kfp(Path("pipelines/breast-cancer"), image="registry/bc:1", workspace_size="20Gi")
    # pipelines/breast-cancer/kfp-pipeline.yaml: upload it in the Kubeflow UI or with
    # kfp.Client().create_run_from_pipeline_package(str(path), arguments={...})

One container component per step, in the image the export's ``Dockerfile``
builds (``<slug of the name>:latest`` unless ``image`` is given; its workdir
is the pipeline folder), running
``python -m jupyter_mlops.core.pipeline.step STEP NOTEBOOK OUTPUT`` with one
``--param=NAME=VALUE`` argv item per parameter and ``--workspace=`` kfp's
pipeline workspace (:data:`WORKSPACE_INPUT`, ``dsl.WORKSPACE_PATH_PLACEHOLDER``;
kfp >= 2.14): one volume of ``workspace_size`` per run, mounted in every step.
The first step copies the image's pipeline folder into it and every step runs
in that copy (:func:`~jupyter_mlops.core.pipeline.step.workspace_copy`), so
the files one step writes are there for the next. Each ``params.yaml`` value of
a parameter with a type becomes a typed pipeline parameter ``STEP__NAME``
with that default (others keep their ``params.yaml`` value). ``depends_on``
becomes ``.after()``; a step's ``resources`` in ``pipeline.yaml``
(:data:`RESOURCE_KEYS`) become its requests and limits. Kubeflow caching is
off: a step's result depends on files the cache key does not see.

The pipeline is built with the ``kfp`` DSL as data (signatures and
placeholders, never generated source); ``kfp`` is imported on first use only
(it is not a dependency of jupyter-mlops). The spec is written with the safe
YAML dumper: ``Compiler.compile`` heads its file with comments that paste
defaults verbatim, which a value holding a line break turns into YAML.
"""

from __future__ import annotations

import inspect
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.export import dump_yaml
from jupyter_mlops.core.pipeline.notebook import read_notebook
from jupyter_mlops.core.pipeline.params import infer_parameters
from jupyter_mlops.core.pipeline.paths import confine
from jupyter_mlops.core.pipeline.plan import plan_run
from jupyter_mlops.exceptions import InvalidValueError, UsageError

__all__ = [
    "DEFAULT_WORKSPACE_SIZE",
    "KFP_FILE",
    "RESOURCE_KEYS",
    "STEP_MODULE",
    "WORKSPACE_INPUT",
    "check_kfp_options",
    "compile_kfp",
    "default_image",
]

KFP_FILE = "kfp-pipeline.yaml"
STEP_MODULE = "jupyter_mlops.core.pipeline.step"
WORKSPACE_INPUT = "mlops_workspace"
"""Each component's input that receives the workspace path (no notebook parameter may have this name)."""
DEFAULT_WORKSPACE_SIZE = "10Gi"
RESOURCE_KEYS = ("cpu", "cpu_limit", "memory", "memory_limit", "gpu", "gpu_type")
"""What a step's ``resources:`` may set: cpu as cores (``2``, ``"0.5"``, ``"500m"``),
memory as bytes or a quantity (``"4Gi"``), gpu as a count, gpu_type (``nvidia.com/gpu``)."""

_KFP_HINT = "pip install 'kfp>=2.14,<3'"
_TYPES: dict[str, type] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
}
_STEP_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*\Z")
_CPU = re.compile(r"(?:\d*\.)?\d+\Z|\d+m\Z")
_MEMORY = re.compile(r"(\d+)(Ki|Mi|Gi|Ti|Pi|Ei|K|M|G|T|P|E)?\Z")
_UNITS = {"": 1} | {u: 1000 ** (i + 1) for i, u in enumerate("KMGTPE")}
_UNITS |= {f"{u}i": 1024 ** (i + 1) for i, u in enumerate("KMGTPE")}
_MAX_EXACT = 2**53  # Kubeflow stores numbers as doubles
_GPU_TYPE = "nvidia.com/gpu"


@dataclass(frozen=True)
class _Input:
    param: str  # the notebook's parameter
    pipeline: str  # the pipeline parameter: STEP__PARAM
    kind: type
    default: object


@dataclass(frozen=True)
class _Step:
    name: str
    notebook: str
    output: str
    depends_on: tuple[str, ...]
    inputs: tuple[_Input, ...]
    resources: dict[str, str | int] = field(default_factory=dict)


def default_image(name: str) -> str:
    """``<slug>:latest`` for pipeline ``name``: the image the export's Dockerfile builds."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return f"{slug or 'pipeline'}:latest"


def check_kfp_options(
    *, image: str | None = None, workspace_size: str | int = DEFAULT_WORKSPACE_SIZE
) -> str:
    """Check :func:`compile_kfp`'s options and that kfp is installed (``UsageError``); the size."""
    if image is not None and (not _IMAGE.match(image) or len(image) > 255):
        hint = "for example registry.example.com/team/pipeline:1.0"
        raise InvalidValueError(f"image {image!r} is not a container image reference", hint=hint)
    size, _ = _memory("workspace_size", workspace_size)
    _import_kfp()
    return size


def compile_kfp(
    pipeline_dir: Path,
    *,
    image: str | None = None,
    workspace_size: str | int = DEFAULT_WORKSPACE_SIZE,
) -> Path:
    """Write ``pipeline_dir/kfp-pipeline.yaml`` (Kubeflow Pipelines IR) for an exported folder.

    ``workspace_size`` (a Kubernetes quantity such as ``"10Gi"``, or bytes) is
    the size of the run's shared workspace volume. Everything is checked first
    (the folder, ``params.yaml`` against each notebook, ``resources``,
    ``image``, ``workspace_size``); on any error nothing is written.
    Raises :class:`UsageError` when ``kfp`` is not installed.
    """
    folder = Path(pipeline_dir)
    if not (folder / "pipeline.yaml").is_file():
        raise UsageError(
            f"{folder} has no pipeline.yaml",
            hint="give a pipeline folder made by `jupyter mlops export`",
        )
    target = confine(folder / KFP_FILE, folder)  # a symlink there must not lead out
    size = check_kfp_options(image=image, workspace_size=workspace_size)
    name, steps = _read(folder)
    kfp = _import_kfp()
    try:
        pipeline = _build(kfp, name, steps, image or default_image(name), size)
    except (ValueError, TypeError) as exc:  # kfp's own checks
        raise UsageError(f"kfp could not build the pipeline: {exc}") from exc
    text = _render(kfp, pipeline)
    partial = target.with_name(f".{KFP_FILE}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, target)
    return target


def _import_kfp() -> Any:
    try:
        import kfp.dsl  # type: ignore[import-untyped]
    except ImportError as exc:
        raise UsageError("export --target kfp needs the kfp package", hint=_KFP_HINT) from exc
    return kfp


def _read(folder: Path) -> tuple[str, list[_Step]]:
    """The pipeline's name and steps in order, every value checked."""
    import yaml

    plan = plan_run(folder, root=folder)  # names, order, paths and params.yaml, all checked
    document = yaml.safe_load((folder / "pipeline.yaml").read_text(encoding="utf-8"))
    entries = {entry["name"]: entry for entry in document["steps"]}
    by_index = {e.index: e.step for e in plan.executions}
    steps: list[_Step] = []
    taken: dict[str, str] = {}
    for execution in plan.executions:
        step = execution.step
        if not _STEP_NAME.match(step):
            raise InvalidValueError(
                f"pipeline.yaml: step name {step!r} is not lowercase letters, digits and _",
                hint="rename the step (and its key in params.yaml), or export again",
            )
        types = {
            p.name: _TYPES[p.type]
            for p in infer_parameters(read_notebook(Path(execution.notebook)))
            if p.type in _TYPES
        }
        inputs = []
        for param, value in execution.parameters.items():
            if param not in types or value is None:
                continue  # no type to give Kubeflow: the step reads params.yaml
            if param == WORKSPACE_INPUT:
                raise UsageError(
                    f"{step}.{param}: the name {WORKSPACE_INPUT} is taken by the Kubeflow export",
                    hint="rename the parameter in the notebook and in params.yaml",
                )
            pipeline_name = f"{step}__{param}"
            if pipeline_name in taken:
                raise UsageError(
                    f"pipeline parameter {pipeline_name} would stand for both "
                    f"{taken[pipeline_name]} and {step}.{param}",
                    hint="rename one of the steps or parameters",
                )
            if isinstance(value, int) and abs(value) > _MAX_EXACT:
                raise InvalidValueError(
                    f"params.yaml: {step}.{param} = {value} is too large for Kubeflow, "
                    f"which keeps numbers as doubles (at most {_MAX_EXACT})"
                )
            taken[pipeline_name] = f"{step}.{param}"
            inputs.append(_Input(param, pipeline_name, types[param], value))
        steps.append(
            _Step(
                name=step,
                notebook=Path(execution.notebook).relative_to(plan.pipeline_dir).as_posix(),
                output=Path(execution.output).relative_to(plan.pipeline_dir).as_posix(),
                depends_on=tuple(by_index[i] for i in plan.depends[execution.index]),
                inputs=tuple(inputs),
                resources=_resources(step, entries[step].get("resources")),
            )
        )
    return plan.name, steps


def _resources(step: str, raw: object) -> dict[str, str | int]:
    """A step's ``resources`` checked; cpu and memory as Kubernetes quantities."""
    if raw is None:
        return {}
    where = f"pipeline.yaml: step {step!r}: resources"
    if not isinstance(raw, dict):
        raise InvalidValueError(
            f"{where} must be a mapping, such as {{cpu: 2, memory: 4Gi, gpu: 1}}"
        )
    unknown = sorted(str(k) for k in set(raw) - set(RESOURCE_KEYS))
    if unknown:
        raise UsageError(
            f"{where}: unknown keys {', '.join(unknown)}",
            hint=f"known keys: {', '.join(RESOURCE_KEYS)}",
        )
    out: dict[str, str | int] = {}
    amounts: dict[str, float] = {}
    for key, parse in (("cpu", _cpu), ("memory", _memory)):
        for name in (key, f"{key}_limit"):
            if name in raw:
                out[name], amounts[name] = parse(f"{where}.{name}", raw[name])
        if key in amounts and f"{key}_limit" in amounts and amounts[key] > amounts[f"{key}_limit"]:
            raise InvalidValueError(f"{where}: {key} {out[key]} is more than {key}_limit")
    if "gpu" in raw:
        gpu = raw["gpu"]
        if isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0:
            raise InvalidValueError(f"{where}.gpu must be a whole number of GPUs, got {gpu!r}")
        if gpu:
            out["gpu"] = gpu
            out["gpu_type"] = _GPU_TYPE
    if "gpu_type" in raw:
        kind = raw["gpu_type"]
        if "gpu" not in out:
            raise UsageError(f"{where}: gpu_type needs gpu (a count of at least 1)")
        if not isinstance(kind, str) or not _IMAGE.match(kind):
            raise InvalidValueError(
                f"{where}.gpu_type must be a resource name such as {_GPU_TYPE}, got {kind!r}"
            )
        out["gpu_type"] = kind
    return out


def _cpu(where: str, value: object) -> tuple[str, float]:
    """``value`` as a Kubernetes cpu quantity (``"2"``, ``"500m"``) and in cores."""
    problem = f"{where} must be a positive number of cores (2, '0.5') or millicores ('500m')"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not (math.isfinite(value) and value > 0):
            raise InvalidValueError(f"{problem}, got {value!r}")
        if float(value).is_integer():
            return str(int(value)), float(value)
        value = f"{round(value * 1000)}m"
    if not isinstance(value, str) or not _CPU.match(value):
        raise InvalidValueError(f"{problem}, got {value!r}")
    cores = int(value[:-1]) / 1000 if value.endswith("m") else float(value)
    if not cores > 0:
        raise InvalidValueError(f"{problem}, got {value!r}")
    return value, cores


def _memory(where: str, value: object) -> tuple[str, float]:
    """``value`` as a Kubernetes memory quantity (``"4Gi"``, ``"512M"``) and in bytes."""
    problem = f"{where} must be a positive number of bytes or a quantity such as '4Gi' or '512M'"
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    match = _MEMORY.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) == 0:
        raise InvalidValueError(f"{problem}, got {value!r}")
    return str(value), int(match[1]) * _UNITS[match[2] or ""]


def _signature(inputs: list[tuple[str, type, object]]) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [inspect.Parameter(n, kind, annotation=t, default=d) for n, t, d in inputs]
    )


def _named(function: Callable[..., Any], name: str, signature: inspect.Signature) -> Any:
    """``function`` as kfp reads a decorated one: its name and typed signature are data."""
    function.__name__ = function.__qualname__ = name
    function.__doc__ = None
    setattr(function, "__signature__", signature)  # noqa: B010 (mypy: not a declared attribute)
    return function


def _component(kfp: Any, step: _Step, image: str) -> Any:
    """The container component of ``step``: one typed input per parameter."""
    dsl = kfp.dsl

    def container(workspace: Any, *values: Any) -> Any:
        args: list[Any] = [step.name, step.notebook, step.output]
        args.append(dsl.ConcatPlaceholder(["--workspace=", workspace]))
        for item, value in zip(step.inputs, values, strict=True):
            args.append(dsl.ConcatPlaceholder([f"--param={item.param}=", value]))
        return dsl.ContainerSpec(image=image, command=["python", "-m", STEP_MODULE], args=args)

    empty = inspect.Parameter.empty
    inputs: list[tuple[str, type, object]] = [(WORKSPACE_INPUT, str, empty)]
    inputs += [(i.param, i.kind, empty) for i in step.inputs]
    signature = _signature(inputs)
    return dsl.container_component(_named(container, step.name, signature))


def _apply_resources(task: Any, resources: Mapping[str, str | int]) -> None:
    setters = {
        "cpu": task.set_cpu_request,
        "cpu_limit": task.set_cpu_limit,
        "memory": task.set_memory_request,
        "memory_limit": task.set_memory_limit,
    }
    for key, setter in setters.items():
        if key in resources:
            setter(str(resources[key]))
    if "gpu" in resources:
        task.set_accelerator_type(str(resources["gpu_type"]))
        task.set_accelerator_limit(int(resources["gpu"]))


def _build(kfp: Any, name: str, steps: list[_Step], image: str, workspace_size: str) -> Any:
    """The ``@dsl.pipeline`` of ``steps``; its parameters are ``STEP__PARAM`` with defaults.

    Every task gets the workspace placeholder as its :data:`WORKSPACE_INPUT`:
    that input is what tells Kubeflow to mount the workspace in its pod.
    """
    dsl = kfp.dsl
    components = {step.name: _component(kfp, step, image) for step in steps}
    inputs = [i for step in steps for i in step.inputs]

    def pipeline(*channels: Any) -> None:
        by_name = dict(zip((i.pipeline for i in inputs), channels, strict=True))
        tasks: dict[str, Any] = {}
        for step in steps:
            values = {i.param: by_name[i.pipeline] for i in step.inputs}
            values[WORKSPACE_INPUT] = dsl.WORKSPACE_PATH_PLACEHOLDER
            task = components[step.name](**values)
            task.set_caching_options(False)
            _apply_resources(task, step.resources)
            for dependency in step.depends_on:
                task.after(tasks[dependency])
            tasks[step.name] = task

    signature = _signature([(i.pipeline, i.kind, i.default) for i in inputs])
    slug = default_image(name).rsplit(":", 1)[0]
    decorate = dsl.pipeline(
        name=slug,
        display_name=name,
        description="Exported by jupyter-mlops",
        pipeline_config=dsl.PipelineConfig(workspace=dsl.WorkspaceConfig(size=workspace_size)),
    )
    return decorate(_named(pipeline, slug.replace("-", "_"), signature))


def _render(kfp: Any, pipeline: Any) -> str:
    """The compiled spec as YAML (plus the platform spec, when kfp made one)."""
    from google.protobuf import json_format  # type: ignore[import-untyped]

    documents = [json_format.MessageToDict(pipeline.pipeline_spec)]
    if pipeline.platform_spec.platforms:
        documents.append(json_format.MessageToDict(pipeline.platform_spec))
    header = (
        f"# Kubeflow Pipelines definition, compiled by jupyter-mlops with kfp {kfp.__version__}\n"
        "# from pipeline.yaml and params.yaml: export again rather than edit it.\n"
    )
    return header + "---\n".join(dump_yaml(_sorted(document)) for document in documents)


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys in order: the same input, the same file."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
