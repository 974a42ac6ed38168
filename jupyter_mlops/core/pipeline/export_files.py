"""The environment and container files of an exported pipeline, and its README.

::

    environment.yml    conda-style: python=X.Y, pip, and the pip list below
    requirements.txt   the same pip list: what the notebooks import, pinned to the versions
                       that ran, plus papermill, ipykernel and jupyter-mlops (name==version)
    requirements.lock  with ``lock=True``: every distribution installed here, pinned
    Dockerfile         python:X.Y-slim, installs requirements.lock (else requirements.txt),
                       runs ``jupyter mlops run .`` as a non-root user
    .dockerignore      outputs, stores and caches stay out of the image
    wheels/            where the jupyter-mlops wheel goes while it is not on PyPI

The pip list comes from :func:`~.requirements.notebook_requirements` of the
interpreter doing the export: a module no installed distribution provides, a
module beside the notebooks, or a distribution installed from a local folder
becomes a warning (in :attr:`~.model.ExportResult.warnings` and the README),
never a path in a file. A user-given ``environment.yml`` (a snapshot) replaces
the computed list; jupyter-mlops is then still pinned by version.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.core.environment.model import normalize_name
from jupyter_mlops.core.pipeline.requirements import (
    installed_requirements,
    notebook_requirements,
)
from jupyter_mlops.core.version import __version__

if TYPE_CHECKING:
    from jupyter_mlops.core.environment import EnvironmentSnapshot
    from jupyter_mlops.core.pipeline.model import Step

__all__ = [
    "RUNNERS",
    "SELF",
    "WHEELS_NOTE",
    "dockerfile",
    "dockerignore",
    "environment_yml",
    "image_name",
    "lock_file",
    "missing_from",
    "pip_requirements",
    "python_version",
    "readme",
    "requirements_txt",
    "snapshot_environment",
]

SELF = "jupyter-mlops"
RUNNERS = ("papermill", "ipykernel")
"""What every step needs besides its imports: papermill runs it in an ipykernel kernel."""

_WHERE = [
    "jupyter-mlops is not on PyPI yet: build its wheel in a clone (python -m build), then",
    "pip install --find-links /path/to/dist -r requirements.txt, or",
    "PIP_FIND_LINKS=/path/to/dist conda env create -f environment.yml, or",
    "copy the wheel into wheels/ and docker build (see README.md)",
]


def python_version() -> str:
    """``3.11``: the running interpreter's minor version."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pip_requirements(notebooks: Sequence[Path]) -> tuple[list[str], list[str]]:
    """``(pip lines, warnings)`` for ``notebooks``: their imports resolved and pinned here, plus
    :data:`RUNNERS` and ``jupyter-mlops==<this version>`` (never a path), sorted by name."""
    needs = notebook_requirements(notebooks)
    pins = {normalize_name(name): (name, version) for name, version in needs.pins.items()}
    for name in RUNNERS:
        pins.setdefault(name, (name, _installed(name) or ""))
    pins[SELF] = (SELF, __version__)  # this version, even when installed editable
    lines = [f"{n}=={v}" if v else n for n, v in sorted(pins.values(), key=lambda p: p[0].lower())]
    warnings = [
        f"the notebooks import {m!r}, which no installed distribution provides: add what "
        "provides it to requirements.txt and environment.yml by hand"
        for m in needs.unresolved
    ]
    warnings += [
        f"the notebooks import {m!r} from a file beside them, which the export does not copy: "
        "make it an installable package, or copy it beside notebooks/"
        for m in needs.local
    ]
    warnings += [
        f"{d}=={needs.pins[d]} was installed from a local folder or file: a package index may "
        "not have it; build its wheel and install with --find-links"
        for d in needs.from_path
        if normalize_name(d) != SELF
    ]
    return lines, warnings


def _notes(prefix: str = "") -> list[str]:
    """Where jupyter-mlops comes from, as comment lines."""
    return [f"{prefix}# {note}" for note in _WHERE]


def environment_yml(name: str, pip_lines: Sequence[str], python: str) -> str:
    """A conda-style ``environment.yml``: ``python=X.Y``, ``pip`` and the ``pip:`` list."""
    from jupyter_mlops.core.environment.render import dump_yaml
    from jupyter_mlops.core.environment.snapshot import conda_env_name

    document = {
        "name": conda_env_name(name),
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": list(pip_lines)}],
    }
    header = [
        "# What the pipeline's notebooks import, pinned to the versions that ran at export,",
        "# plus papermill, ipykernel and jupyter-mlops; requirements.txt is the same pip list.",
    ]
    return "\n".join([*header, *_notes()]) + "\n" + dump_yaml(document)


def snapshot_environment(snapshot: EnvironmentSnapshot) -> tuple[str, list[str]]:
    """``(environment.yml text, pip lines)`` for a user-given snapshot, ``jupyter-mlops`` pinned.

    The pin replaces an editable path or a bare name (a path means nothing on
    another machine) and is added when the snapshot lacks it.
    """
    from jupyter_mlops.core.environment import PipPackage, render_environment_yml
    from jupyter_mlops.core.environment.specs import pip_requirement

    pin = PipPackage(SELF, __version__, requested=True)
    others = [p for p in snapshot.pip_packages if p.name != SELF]
    packages = tuple(sorted([*others, pin], key=lambda p: p.name))
    lines = render_environment_yml(snapshot._replace(pip_packages=packages)).splitlines()
    at = next(i for i, text in enumerate(lines) if text.strip() == f"- {SELF}=={__version__}")
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    text = "\n".join([*lines[:at], *_notes(indent), *lines[at:]]) + "\n"
    return text, [pip_requirement(p) for p in packages]


def missing_from(pip_lines: Iterable[str], notebooks: Sequence[Path]) -> list[str]:
    """Warnings for the distributions ``notebooks`` import that ``pip_lines`` do not name."""
    listed = {normalize_name(re.split(r"[\s<>=!~;@\[]", line, maxsplit=1)[0]) for line in pip_lines}
    needs = notebook_requirements(notebooks)
    return [
        f"the notebooks import {name} (installed here: {version}), which the given "
        "environment file does not list"
        for name, version in sorted(needs.pins.items())
        if normalize_name(name) not in listed
    ]


def requirements_txt(pip_lines: Sequence[str]) -> str:
    """``requirements.txt``: the pip list, one requirement a line, under a short header."""
    header = ["# The pip list of environment.yml (written by jupyter mlops export)."]
    return "\n".join([*header, *_notes(), *pip_lines]) + "\n"


def lock_file() -> tuple[str, list[str]]:
    """``(requirements.lock text, warnings)``: every distribution installed here, pinned.

    ``pip`` is left out (the image brings its own). A distribution installed from
    a local folder or file is left out with a warning, except jupyter-mlops,
    which is pinned by its version like in ``requirements.txt``.
    """
    installed = installed_requirements()
    local = {normalize_name(d) for d in installed.from_path} - {SELF}
    lines = [
        f"{name}=={version}"
        for name, version in installed.pins.items()
        if normalize_name(name) not in local
    ]
    header = [
        f"# Every distribution of the exporting environment (Python {python_version()}), pinned:",
        "# pip install -r requirements.lock rebuilds it exactly (same platform and Python).",
    ]
    warnings = [
        f"requirements.lock leaves out {d}=={installed.pins[d]}: it was installed from a local "
        "folder or file"
        for d in installed.from_path
        if normalize_name(d) in local
    ]
    return "\n".join([*header, *_notes(), *lines]) + "\n", warnings


def image_name(name: str) -> str:
    """The Docker image name for pipeline ``name`` (``[a-z0-9-]``, at most 63 characters): the
    tag ``kfp.default_image`` gives the Kubeflow steps, without ``:latest``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-") or "pipeline"


def dockerfile(python: str, *, lock: bool) -> str:
    """A ``Dockerfile`` that installs the pipeline's requirements and runs ``jupyter mlops run .``.

    No secrets in it: the tracking URI and its credentials are given at ``docker
    run`` time (``-e MLFLOW_TRACKING_URI=...``); by default the runs go to
    ``mlflow.db`` inside the container.
    """
    requirements = "requirements.lock" if lock else "requirements.txt"
    copied = "requirements.txt requirements.lock" if lock else "requirements.txt"
    return "\n".join(
        [
            "# Runs this pipeline: jupyter mlops run . (written by jupyter mlops export).",
            "#   cp /path/to/dist/jupyter_mlops-*.whl wheels/   # while it is not on PyPI",
            "#   docker build -t IMAGE .",
            "#   docker run --rm IMAGE                     # arguments go to jupyter mlops run",
            "#   docker run --rm -e MLFLOW_TRACKING_URI=http://mlflow:5000 IMAGE -p STEP.PARAM V",
            f"FROM python:{python}-slim",
            "",
            "ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1",
            "RUN useradd --create-home --uid 10001 mlops \\",
            "    && mkdir /pipeline && chown mlops:mlops /pipeline",
            "WORKDIR /pipeline",
            f"COPY {copied} ./",
            "COPY wheels/ ./wheels/",
            f"RUN pip install --find-links wheels -r {requirements}",
            "COPY --chown=mlops:mlops . ./",
            "USER mlops",
            'ENTRYPOINT ["jupyter", "mlops", "run", "."]',
            "",
        ]
    )


def dockerignore() -> str:
    """``.dockerignore``: what ``jupyter mlops run`` and DVC leave behind stays out of the image."""
    ignored = [".git", ".dvc/cache", ".dvc/tmp", "outputs", "runs", "mlflow.db*", "mlruns"]
    return "\n".join(["# written by jupyter mlops export", *ignored, "**/__pycache__", ""])


WHEELS_NOTE = (
    "Put the jupyter-mlops wheel here (jupyter_mlops-*.whl, built with `python -m build` in a\n"
    "clone) before `docker build`: the Dockerfile installs with `--find-links wheels`.\n"
)


def _markdown_text(text: str) -> str:
    """``text`` as literal Markdown: characters that would format, link or open HTML escaped."""
    return re.sub(r"([\\`*_\[\]<>#|~!])", r"\\\1", " ".join(text.split()))


def readme(name: str, steps: Sequence[Step], warnings: Sequence[str], *, lock: bool) -> str:
    """The pipeline folder's ``README.md``: steps, how to run it, and the export's warnings."""
    lines = [
        f"# Pipeline: {_markdown_text(name)}",
        "",
        "Exported by jupyter-mlops. Steps, in order:",
    ]
    lines.append("")
    for step in steps:
        after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
        params = ", ".join(p.name for p in step.parameters) or "none"
        lines.append(f"- `{step.name}`: `{step.notebook}`{after}; parameters: {params}")
    installs = "requirements.lock   # exact" if lock else "requirements.txt"
    image = image_name(name)
    lines += [
        "",
        "## Run",
        "",
        "```bash",
        "python -m venv .venv && . .venv/bin/activate",
        f"pip install --find-links /path/to/dist -r {installs}",
        "jupyter mlops run .                   # every step, tracked in ./mlflow.db",
        f"jupyter mlops run . -p {steps[0].name}.PARAM VALUE",
        "",
        "conda env create -f environment.yml   # or: the same pip list in a conda environment",
        "",
        "git init && dvc init                  # once, if this folder is not in a DVC repo yet",
        "dvc repro                             # run every step that is out of date",
        f"dvc exp run -S {steps[0].name}.PARAM=VALUE   # one experiment with a changed parameter",
        "",
        "cp /path/to/dist/jupyter_mlops-*.whl wheels/",
        f"docker build -t {image} . && docker run --rm {image}",
        "```",
        "",
        "`environment.yml` and `requirements.txt` list what the notebooks import, pinned to",
        "the versions that ran at export, plus papermill, ipykernel and",
        f"`{SELF}=={__version__}`, which is not on PyPI yet: build its wheel in a clone of",
        "jupyter-mlops (`python -m build`) and let pip find it (`--find-links /path/to/dist`,",
        "`PIP_FIND_LINKS=/path/to/dist conda env create -f environment.yml`), or copy it into",
        "`wheels/` for the `Dockerfile` (a `python:X.Y-slim` image, run as a non-root user;",
        "it installs `requirements.lock` when the export wrote one, `jupyter mlops export",
        "--lock`). Give the tracking server at run time:",
        "`docker run -e MLFLOW_TRACKING_URI=... IMAGE`.",
        "",
        "Defaults live in `params.yaml`; the parameter types and declared inputs and",
        "outputs are in `pipeline.yaml`. Each DVC stage runs",
        "`python -m jupyter_mlops.core.pipeline.step STEP NOTEBOOK OUTPUT`, which reads",
        "`params.yaml`, checks the values against the notebook's `parameters` cell and",
        "executes it with papermill into `outputs/`.",
        "",
    ]
    if warnings:
        lines += ["## Warnings", ""]
        lines += [f"- {_markdown_text(w)}" for w in warnings]
        lines.append("")
    return "\n".join(lines)
