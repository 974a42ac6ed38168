"""Export notebooks to a pipeline folder a production engineer can read and run.

::

    out/
      pipeline.yaml      name, steps (notebook, parameter schema, inputs, outputs, depends_on)
      params.yaml        {step: {param: default}}: what ``dvc exp run -S step.param=v`` edits
      dvc.yaml           one papermill stage per notebook (see ``dvc`` for the safe command)
      environment.yml    conda-style: what the notebooks import, pinned, + papermill, ipykernel,
                         ``jupyter-mlops==<this version>`` (see ``export_files``)
      requirements.txt   the same pip list; requirements.lock: every installed pin (``lock``)
      Dockerfile         python:X.Y-slim running ``jupyter mlops run .``; .dockerignore
      README.md          how to run it, and the export's warnings
      notebooks/STEP.ipynb
      wheels/            where the jupyter-mlops wheel goes for ``docker build``

Everything is checked before anything is written: notebooks inside the root,
a ``parameters`` cell in each, declared paths relative and free of ``${``,
dependencies known and acyclic.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.core.environment.model import python_minor
from jupyter_mlops.core.pipeline import dvc
from jupyter_mlops.core.pipeline.model import ExportResult, Step
from jupyter_mlops.core.pipeline.notebook import declarations, read_notebook
from jupyter_mlops.core.pipeline.params import infer_parameters
from jupyter_mlops.core.pipeline.paths import confine, declared_path
from jupyter_mlops.exceptions import MlopsError, PathError, UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.environment import EnvironmentSnapshot

__all__ = [
    "ExportResult",
    "Step",
    "dump_yaml",
    "export_pipeline",
    "step_names",
    "topological_order",
]

Declared = Mapping[str, Sequence[str]]
_YAML_BREAKS = "\x85\u2028\u2029\ufeff"
_RESERVED = (
    "pipeline.yaml",
    "params.yaml",
    "dvc.yaml",
    "dvc.lock",
    "environment.yml",
    "requirements.txt",
    "requirements.lock",
    "Dockerfile",
    ".dockerignore",
    "README.md",
)
_RESERVED_DIRS = ("notebooks", "wheels")


def dump_yaml(document: object) -> str:
    """YAML text of ``document`` as the export writes it (safe dumper, unicode kept).

    Strings holding a character PyYAML would emit as a raw line break (NEL,
    LINE/PARAGRAPH SEPARATOR) or a BOM are written double-quoted, where it
    escapes them; otherwise they would not read back exactly.
    """
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = '"' if any(ch in _YAML_BREAKS for ch in value) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, _str)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def step_names(stems: Sequence[str]) -> list[str]:
    """Safe, unique step names (``[a-z][a-z0-9_]*``) for notebook stems, in order."""
    names: list[str] = []
    for stem in stems:
        base = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "step"
        if not base[0].isalpha():
            base = f"step_{base}"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def topological_order(depends: Mapping[str, Sequence[str]]) -> list[str]:
    """Step names so that each comes after its dependencies; a cycle raises UsageError."""
    order: list[str] = []
    remaining = {name: set(deps) for name, deps in depends.items()}
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps - set(order)]
        if not ready:
            raise UsageError(
                f"the steps depend on each other in a cycle: {', '.join(sorted(remaining))}",
                hint="remove one of the depends_on entries or declared inputs",
            )
        for name in ready:
            order.append(name)
            del remaining[name]
    return order


def _resolve_depends(entry: str, steps: list[Step]) -> str:
    for step in steps:
        source = Path(step.source)
        if entry in (step.name, step.source, source.name, source.stem):
            return step.name
    valid = ", ".join(s.name for s in steps)
    raise UsageError(f"depends_on names an unknown step {entry!r}", hint=f"steps: {valid}")


def _build_steps(
    notebooks: Sequence[Path | str], root: Path, declared: dict[str, Declared]
) -> tuple[list[Step], dict[str, Path]]:
    sources = [confine(nb, root) for nb in notebooks]
    if not sources:
        raise UsageError("no notebooks to export")
    if len(set(sources)) != len(sources):
        raise UsageError("the same notebook is listed twice")
    steps: list[Step] = []
    raw_depends: list[list[str]] = []
    for source, name in zip(sources, step_names([s.stem for s in sources]), strict=True):
        rel = source.relative_to(root.resolve()).as_posix()
        try:
            nb = read_notebook(source)
            params = infer_parameters(nb)
            decl = declarations(nb)
        except MlopsError as exc:
            exc.notebook = exc.notebook or rel
            exc.message = f"{rel}: {exc.message}"
            raise
        for key, extra in declared.items():
            decl[key] += [v for v in extra.get(name, ()) if v not in decl[key]]
        step = Step(name=name, source=rel, parameters=params)
        for key in ("inputs", "outputs", "metrics"):
            paths = [declared_path(p, f"{rel}: {key} entry") for p in decl[key]]
            for path in paths:
                if path in _RESERVED or path.split("/", 1)[0] in _RESERVED_DIRS:
                    raise UsageError(
                        f"{rel}: {key} entry {path!r} is a file the export writes itself",
                        hint="declare data files outside notebooks/, wheels/ and the pipeline files",
                    )
            setattr(step, key, list(dict.fromkeys(paths)))
        steps.append(step)
        raw_depends.append(decl["depends_on"])
    names = [step.name for step in steps]
    for key, extra in declared.items():
        unknown = sorted(set(extra) - set(names))
        if unknown:
            raise UsageError(
                f"{key} given for unknown steps: {', '.join(unknown)}",
                hint=f"steps: {', '.join(names)}",
            )
    for step, deps in zip(steps, raw_depends, strict=True):
        step.depends_on = list(dict.fromkeys(_resolve_depends(d, steps) for d in deps))
    _link_and_check(steps)
    by_name = {step.name: source for step, source in zip(steps, sources, strict=True)}
    _sort(steps)
    return steps, by_name


def _link_and_check(steps: list[Step]) -> None:
    producer: dict[str, str] = {}
    for step in steps:
        for path in [step.output, *step.outputs, *step.metrics]:
            if path in producer:
                raise UsageError(
                    f"{path!r} is an output of both {producer[path]!r} and {step.name!r}"
                )
            producer[path] = step.name
    for step in steps:
        for path in step.inputs:
            up = producer.get(path)
            if up == step.name:
                raise UsageError(f"step {step.name!r} declares {path!r} as input and output")
            if up is not None and up not in step.depends_on:
                step.depends_on.append(up)
        if step.name in step.depends_on:
            raise UsageError(f"step {step.name!r} depends on itself")


def _sort(steps: list[Step]) -> None:
    order = topological_order({s.name: s.depends_on for s in steps})
    steps.sort(key=lambda s: order.index(s.name))


EXPORT_FILES = (
    "pipeline.yaml",
    "params.yaml",
    "dvc.yaml",
    "environment.yml",
    "requirements.txt",
    "Dockerfile",
    ".dockerignore",
    "README.md",
)
"""The files :func:`export_pipeline` writes at the top of the pipeline folder (and
``requirements.lock`` with ``lock=True``; ``wheels/`` holds a note)."""
LOCK_FILE = "requirements.lock"


def _check_destinations(target: Path, names: Sequence[str]) -> None:
    """Refuse before writing anything when an entry of ``target`` is a symlink that leads out of it."""
    if not target.exists():
        return  # a new folder: nothing in it yet
    for name in names:
        try:
            confine(target / name, target)
        except PathError as exc:
            raise PathError(
                f"{name!r} in the output folder {target.name!r} is a symlink that leads out of it",
                hint="remove the link, or export to a new folder",
            ) from exc


def export_pipeline(
    notebooks: Sequence[Path | str],
    out_dir: Path | str,
    root: Path | str,
    *,
    name: str | None = None,
    inputs: Declared | None = None,
    outputs: Declared | None = None,
    metrics: Declared | None = None,
    depends_on: Declared | None = None,
    snapshot: EnvironmentSnapshot | None = None,
    lock: bool = False,
) -> ExportResult:
    """Write the pipeline folder ``out_dir`` for ``notebooks`` (all inside ``root``).

    ``inputs``/``outputs``/``metrics``/``depends_on`` map step names to paths
    (or step names) and add to what the notebooks declare in their metadata
    (``jupyter_mlops: {inputs: [...], ...}``). The pip list of ``environment.yml``
    and ``requirements.txt`` is what the notebooks import, resolved and pinned in
    this interpreter (:mod:`.export_files`); a ``snapshot`` (a user-given
    ``environment.yml``) replaces it. ``lock`` also writes ``requirements.lock``
    (every distribution installed here), which the ``Dockerfile`` then installs;
    without it a ``requirements.lock`` left by an earlier export is removed.
    """
    from jupyter_mlops.core.pipeline import export_files as files_

    root_path = Path(root)
    target = confine(out_dir, root_path)
    declared = {
        "inputs": inputs or {},
        "outputs": outputs or {},
        "metrics": metrics or {},
        "depends_on": depends_on or {},
    }
    steps, sources = _build_steps(notebooks, root_path, declared)
    if any(target == s or target in s.parents for s in sources.values()):
        raise UsageError("the output folder must not contain the notebooks being exported")
    pipeline_name = name or target.name
    warnings = [
        f"{s.name}: parameter {p.name!r} (line {p.line}) has a default that is not a "
        "JSON-like literal; it is left out of params.yaml"
        for s in steps
        for p in s.parameters
        if not p.literal
    ]
    notebook_paths = [sources[s.name] for s in steps]
    if snapshot is None:
        pip_lines, needs = files_.pip_requirements(notebook_paths)
        env_text = files_.environment_yml(pipeline_name, pip_lines, files_.python_version())
        warnings += needs
    else:
        env_text, pip_lines = files_.snapshot_environment(snapshot)
        warnings += files_.missing_from(pip_lines, notebook_paths)
    python = python_minor(snapshot.python_version) if snapshot else ""
    python = python or files_.python_version()
    lock_text = None
    if lock:
        lock_text, lock_warnings = files_.lock_file()
        warnings += lock_warnings
    by_name = {s.name: s for s in steps}

    written = ["notebooks", *(s.notebook for s in steps), *EXPORT_FILES, LOCK_FILE, "wheels"]
    _check_destinations(target, written)
    (target / "notebooks").mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for step in steps:
        copy = target / step.notebook
        shutil.copyfile(sources[step.name], copy)
        files.append(copy)

    def write(filename: str, text: str) -> None:
        path = target / filename
        path.write_text(text, encoding="utf-8")
        files.append(path)

    write(
        "pipeline.yaml", dump_yaml({"name": pipeline_name, "steps": [s.to_dict() for s in steps]})
    )
    params = {s.name: {p.name: p.default for p in s.parameters if p.literal} for s in steps}
    write("params.yaml", dump_yaml(params))
    stages = {s.name: dvc.stage(s, [by_name[d].output for d in s.depends_on]) for s in steps}
    write("dvc.yaml", dump_yaml({"stages": stages}))
    write("environment.yml", env_text)
    write("requirements.txt", files_.requirements_txt(pip_lines))
    if lock_text is not None:
        write(LOCK_FILE, lock_text)
    elif (target / LOCK_FILE).is_file():
        (target / LOCK_FILE).unlink()  # from an earlier --lock export: stale now
    write("Dockerfile", files_.dockerfile(python, lock=lock_text is not None))
    write(".dockerignore", files_.dockerignore())
    (target / "wheels").mkdir(exist_ok=True)
    write("wheels/README.md", files_.WHEELS_NOTE)
    write("README.md", files_.readme(pipeline_name, steps, warnings, lock=lock_text is not None))
    return ExportResult(target, pipeline_name, steps, files, warnings)
