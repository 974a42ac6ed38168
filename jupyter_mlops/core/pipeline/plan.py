"""Planning a pipeline run: what executes where, checked before anything runs.

:func:`plan_run` reads a pipeline folder (``pipeline.yaml``) or one notebook,
checks every parameter value (all errors at once) and lays out the files.
It writes nothing; :func:`prepare` (called by the runner) creates the folders.

Layout on disk, always inside the root:

* a pipeline folder, one trial: runs in place (cwd = the pipeline folder),
  output notebooks ``outputs/STEP.ipynb`` as in ``dvc.yaml``;
* a pipeline folder, a sweep (more than one trial): each trial runs in its own
  workspace ``runs/<stamp>/t<N>/`` that mirrors the pipeline folder (real
  folders, files symlinked, except ``outputs/``, ``runs/``, ``.git``, ``.dvc``,
  ``dvc.lock`` and the steps' declared outputs and metrics), so trials never
  overwrite each other's data; outputs ``runs/<stamp>/t<N>/outputs/STEP.ipynb``;
  its ``params.yaml`` holds the trial's values (``dvc repro`` there reruns it);
* one notebook: cwd = its folder, output
  ``<folder>/outputs/<stem>/<stamp>[/t<N>]/<stem>.ipynb``.

As with papermill, one notebook without a cell tagged ``parameters`` runs as
it is (nothing injected); giving it values is an error that says how to tag
the cell. Every step of a pipeline folder has a ``parameters`` cell (export
asks for one).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.core.pipeline.export import step_names, topological_order
from jupyter_mlops.core.pipeline.model import Execution
from jupyter_mlops.core.pipeline.notebook import parameters_cell_index, read_notebook
from jupyter_mlops.core.pipeline.params import Parameter, infer_parameters
from jupyter_mlops.core.pipeline.paths import confine, declared_path
from jupyter_mlops.core.pipeline.sweep import Checker, StepValues, expand, flatten_values, merge
from jupyter_mlops.exceptions import InvalidValueError, MlopsError, UsageError

__all__ = ["RunPlan", "StepSpec", "plan_run", "prepare"]

SKIPPED_IN_WORKSPACE = ("outputs", "runs", ".git", ".dvc", "dvc.lock")


@dataclass(frozen=True)
class StepSpec:
    """One step as the plan sees it (from ``pipeline.yaml`` or a lone notebook)."""

    name: str
    notebook: Path
    output: str
    depends_on: tuple[str, ...]
    writes: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    tagged: bool = True
    """False for a lone notebook without a ``parameters`` cell (it takes no values)."""
    inputs: tuple[str, ...] = ()
    """Declared inputs (relative to the pipeline folder): part of the cache key."""


@dataclass
class RunPlan:
    """Everything :func:`~jupyter_mlops.core.pipeline.runner.run_plan` needs; nothing run yet."""

    name: str
    target: Path
    pipeline_dir: Path
    root: Path
    executions: list[Execution]
    depends: dict[int, list[int]]
    trials: list[StepValues]
    workspaces: list[Path] = field(default_factory=list)
    excluded: tuple[str, ...] = ()
    is_pipeline: bool = True
    sweep: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (REST, ``--format json``); paths relative to the root."""
        return {
            "name": self.name,
            "target": self._rel(self.target),
            "pipeline_dir": self._rel(self.pipeline_dir),
            "executions": [
                {
                    **e.to_dict(),
                    "notebook": self._rel(Path(e.notebook)),
                    "output": self._rel(Path(e.output)),
                    "cwd": self._rel(Path(e.cwd)),
                    "env": {},  # never values of the environment
                }
                for e in self.executions
            ],
            "depends": {str(k): v for k, v in self.depends.items()},
            "trials": self.trials,
            "sweep": self.sweep,
        }

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)


def _load_pipeline(folder: Path, root: Path) -> tuple[str, list[StepSpec]]:
    import yaml

    path = confine(folder / "pipeline.yaml", root)  # a symlinked manifest must not lead out
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidValueError(f"cannot read {path}: {exc}") from exc
    steps = document.get("steps") if isinstance(document, dict) else None
    if not isinstance(steps, list) or not steps:
        raise InvalidValueError(f"{path} has no list of steps", hint="export the pipeline again")
    name = document.get("name") or folder.name
    specs: list[StepSpec] = []
    errors: list[str] = []
    for entry in steps:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidValueError(f"{path}: a step has no name: {entry!r}")
        step = entry["name"]
        try:
            notebook_rel = declared_path(entry.get("notebook"), f"step {step!r}: notebook")
            notebook = confine(folder / notebook_rel, folder)
            confine(notebook, root)
            output = declared_path(
                entry.get("output", f"outputs/{step}.ipynb"), f"step {step!r}: output"
            )
            writes = [
                declared_path(p, f"step {step!r}: {key}")
                for key in ("outputs", "metrics")
                for p in entry.get(key) or []
            ]
            inputs = [declared_path(p, f"step {step!r}: inputs") for p in entry.get("inputs") or []]
            depends = entry.get("depends_on") or []
            if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
                raise InvalidValueError(f"step {step!r}: depends_on must be a list of step names")
            params = infer_parameters(read_notebook(notebook))
        except MlopsError as exc:
            errors.append(f"step {step!r}: {exc}")
            continue
        specs.append(
            StepSpec(
                step,
                notebook,
                output,
                tuple(depends),
                tuple(writes),
                tuple(params),
                inputs=tuple(inputs),
            )
        )
    if errors:
        raise UsageError(f"{path.name}: " + "; ".join(errors))
    known = {s.name for s in specs}
    for spec in specs:
        unknown = sorted(set(spec.depends_on) - known)
        if unknown:
            raise UsageError(f"step {spec.name!r} depends on unknown steps: {', '.join(unknown)}")
    order = topological_order({s.name: list(s.depends_on) for s in specs})
    specs.sort(key=lambda s: order.index(s.name))
    return str(name), specs


def _notebook_step(path: Path) -> StepSpec:
    try:
        nb = read_notebook(path)
        tagged = parameters_cell_index(nb) is not None
        params = infer_parameters(nb) if tagged else []
    except MlopsError as exc:
        exc.message = f"{path.name}: {exc.message}"
        raise
    name = step_names([path.stem])[0]
    return StepSpec(name, path, f"{path.stem}.ipynb", (), (), tuple(params), tagged)


def _stamp(folder: Path) -> str:
    base = time.strftime("%Y%m%d-%H%M%S")
    stamp, n = base, 2
    while (folder / stamp).exists():
        stamp, n = f"{base}-{n}", n + 1
    return stamp


def _typed(values: StepValues) -> Any:
    """The one value of a checked ``{step: {param: value}}`` (the first step's when several)."""
    for params in values.values():
        for value in params.values():
            return value
    return None


def _is_pipeline(target: Path) -> bool:
    return target.is_dir() and (target / "pipeline.yaml").is_file()


def plan_run(
    target: Path | str,
    *,
    root: Path | str,
    overrides: Mapping[str, object] | None = None,
    from_text: bool = False,
    grid: Mapping[str, Sequence[object]] | None = None,
    param_sets: Sequence[Mapping[str, object]] | None = None,
    timeout: float | None = None,
    kernel_name: str | None = None,
) -> RunPlan:
    """Plan running ``target`` (a pipeline folder or one ``.ipynb``, inside ``root``).

    ``overrides``: ``{"STEP.PARAM" or "PARAM": value}`` (or ``{STEP: {PARAM: value}}``,
    as in ``params.yaml``) for every trial;
    ``grid``: ``{name: [values]}``, one trial per combination; ``param_sets``:
    one trial per mapping (times the grid). ``from_text`` parses the strings of
    ``overrides`` and ``grid`` by the parameter's type (``param_sets`` are
    typed already); the plan's ``sweep`` records them typed, so the CLI's
    ``--grid lr=0.1,0.3`` and a request's ``{"lr": [0.1, 0.3]}`` plan the same. Raises (:class:`UsageError`, :class:`PathError`, ...) with
    every problem at once; nothing is written.
    """
    root_path = confine(root, root)
    path = confine(target, root_path)
    if _is_pipeline(path):
        name, specs = _load_pipeline(path, root_path)
        folder, is_pipeline = path, True
    elif path.is_dir():
        raise UsageError(
            f"{target!s} is a folder without pipeline.yaml",
            hint="give a pipeline folder made by `jupyter mlops export`, or one .ipynb",
        )
    elif path.suffix != ".ipynb":
        raise UsageError(f"{target!s} is not a notebook (.ipynb) or a pipeline folder")
    else:
        spec = _notebook_step(path)
        name, specs, folder, is_pipeline = path.stem, [spec], path.parent, False
    if timeout is not None and not timeout > 0:
        raise UsageError(f"timeout must be a positive number of seconds, got {timeout!r}")

    steps = {s.name: list(s.parameters) for s in specs}
    untagged = {s.name: s.notebook.relative_to(root_path).as_posix() for s in specs if not s.tagged}
    typed = Checker(steps, from_text=False, untagged=untagged)
    base: StepValues = {}
    if is_pipeline:
        confine(folder / "params.yaml", root_path)  # a symlinked params.yaml must not lead out
        for spec in specs:
            try:
                # not at module top: `python -m ...pipeline.step` must load `step` itself
                from jupyter_mlops.core.pipeline.step import load_step_values

                values = load_step_values(folder, spec.name)
            except MlopsError as exc:
                raise UsageError(f"params.yaml: {exc.message}") from exc
            base[spec.name] = typed.check(
                {f"{spec.name}.{k}": v for k, v in values.items()}, what="params.yaml "
            ).get(spec.name, {})
    text = Checker(steps, from_text=from_text, untagged=untagged)
    flat = flatten_values(overrides or {}, list(steps))
    typed_overrides = {name: text.check({name: value}) for name, value in flat.items()}
    changed = merge(*typed_overrides.values())
    axes = text.check_grid(dict(grid or {}))
    sets = []
    for i, param_set in enumerate(param_sets or []):
        if not isinstance(param_set, Mapping):
            typed.value_errors.append(f"parameter set {i}: not a mapping of names to values")
            continue
        flat = flatten_values(param_set, list(steps))
        sets.append(typed.check(flat, what=f"parameter set {i}: "))
    typed.absorb(text)
    typed.raise_errors()
    trials = expand(changed, axes, sets)

    sweep = len(trials) > 1
    stamp_parent = folder / "runs" if is_pipeline else folder / "outputs" / path.stem
    stamp = _stamp(stamp_parent) if sweep or not is_pipeline else ""
    workspaces: list[Path] = []
    executions: list[Execution] = []
    depends: dict[int, list[int]] = {}
    for t, trial in enumerate(trials):
        if is_pipeline:
            cwd = stamp_parent / stamp / f"t{t}" if sweep else folder
            if sweep:
                workspaces.append(confine(cwd, root_path))
        else:
            cwd = folder
        by_name: dict[str, int] = {}
        for spec in specs:
            index = len(executions)
            by_name[spec.name] = index
            if is_pipeline:
                output = cwd / spec.output
            else:
                output = stamp_parent / stamp / (f"t{t}" if sweep else "") / spec.output
            params = {**base.get(spec.name, {}), **trial.get(spec.name, {})}
            notebook_rel = spec.notebook.relative_to(root_path).as_posix()
            executions.append(
                Execution(
                    index=index,
                    trial=t,
                    step=spec.name,
                    notebook=str(spec.notebook),
                    output=str(confine(output, root_path)),
                    cwd=str(cwd),
                    parameters=params,
                    timeout=timeout,
                    kernel_name=kernel_name,
                    env={"JUPYTER_MLOPS_NOTEBOOK": notebook_rel},
                    inputs=spec.inputs,
                    writes=spec.writes,
                )
            )
            depends[index] = [by_name[d] for d in spec.depends_on]
    excluded = tuple(
        dict.fromkeys([*SKIPPED_IN_WORKSPACE, *(w for s in specs for w in (s.output, *s.writes))])
    )
    # the values as typed (the CLI's text and the panel's JSON record the same)
    definition: dict[str, Any] = {"trials": len(trials)}
    if overrides:
        definition["overrides"] = {k: _typed(v) for k, v in typed_overrides.items()}
    if grid:
        definition["grid"] = {k: [_typed(v) for v in a] for k, a in zip(grid, axes, strict=True)}
    if param_sets:
        definition["param_sets"] = [dict(s) for s in param_sets]
    return RunPlan(
        name=name,
        target=path,
        pipeline_dir=folder,
        root=root_path,
        executions=executions,
        depends=depends,
        trials=trials,
        workspaces=workspaces,
        excluded=excluded,
        is_pipeline=is_pipeline,
        sweep=definition,
    )


def _mirror(source: Path, dest: Path, excluded: Sequence[str]) -> None:
    """``dest`` mirrors ``source``: real folders, symlinked files, ``excluded`` left out."""
    skip = set(excluded)
    for dirpath, dirnames, filenames in os.walk(source):
        rel = Path(dirpath).relative_to(source)

        def kept(name: str, rel: Path = rel) -> bool:
            relpath = (rel / name).as_posix()
            return relpath not in skip and not any(relpath.startswith(s + "/") for s in skip)

        target_dir = dest / rel
        target_dir.mkdir(parents=True, exist_ok=True)
        linked = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]  # not walked: linked
        dirnames[:] = [d for d in dirnames if kept(d) and d not in linked]
        for f in [*filenames, *linked]:
            if kept(f):
                link = target_dir / f
                if not link.exists() and not link.is_symlink():
                    link.symlink_to(Path(dirpath) / f)


def prepare(plan: RunPlan) -> None:
    """Create the trial workspaces and output folders of ``plan`` (inside its root)."""
    from jupyter_mlops.core.pipeline.export import dump_yaml

    for trial, workspace in enumerate(plan.workspaces):
        confine(workspace, plan.root)
        _mirror(plan.pipeline_dir, workspace, plan.excluded)
        values = {e.step: e.parameters for e in plan.executions if e.trial == trial}
        params = workspace / "params.yaml"  # the trial's own values, not a link to the defaults
        params.unlink(missing_ok=True)
        params.write_text(dump_yaml(values), encoding="utf-8")
    for execution in plan.executions:
        Path(confine(execution.output, plan.root)).parent.mkdir(parents=True, exist_ok=True)
