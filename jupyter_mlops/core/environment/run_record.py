"""Runs and their environments: the glue between :mod:`.environment` and the MLflow store.

* :func:`log_environment` logs a snapshot with a run: ``environment/environment.yml``
  (and ``environment/platform.yml``) as artifacts, ``mlops.env.hash`` and the
  other ``mlops.env.*`` tags. :class:`EnvironmentJob` does it in a one-off
  background thread for :meth:`Tracker.start_run
  <jupyter_mlops.core.tracking.tracker.Tracker.start_run>`; failures warn once per
  process and never fail the run.
* :func:`load_run_environment` reads a run's snapshot back from its artifacts;
  :func:`latest_notebook_environment` finds the newest run of a notebook that has one.
* :func:`resolve_snapshot` turns "a run id or an ``environment.yml``" (CLI and
  magic arguments) into a snapshot, opening the store only for a run id.
* :func:`interpreter_prefix` finds the environment of a Python executable
  without running it; :func:`current_environment` / :func:`run_environment` /
  :func:`environment_diff` build the REST bodies (``api/openapi.yaml``).

Everything that leaves here has been through :func:`~.environment.scrub`.
MLflow is imported lazily (only once a client exists, or inside functions).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.tracking.search_input import like_literal as _like_literal
from jupyter_mlops.core.tracking.search_input import mlflow_errors as _mlflow_errors
from jupyter_mlops.core.tracking.search_input import validate_run_id
from jupyter_mlops.exceptions import NotFoundError, UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from jupyter_mlops.core.environment import EnvironmentDiff, EnvironmentSnapshot

__all__ = [
    "ENVIRONMENT_ARTIFACT",
    "EnvironmentJob",
    "RunEnvironment",
    "SnapshotSource",
    "current_environment",
    "diff_runs",
    "environment_diff",
    "interpreter_prefix",
    "latest_notebook_environment",
    "load_run_environment",
    "log_environment",
    "package_rows",
    "resolve_snapshot",
    "run_environment",
]

ENVIRONMENT_ARTIFACT = "environment/environment.yml"
_log = logging.getLogger("jupyter_mlops.environment")


# -- logging a run's environment -------------------------------------------------------


def log_environment(
    client: MlflowClient, run_id: str, snapshot: EnvironmentSnapshot | None = None
) -> str:
    """Log ``snapshot`` (default: this interpreter's) with run ``run_id``; its content hash.

    Artifacts first, tags last: a run tagged ``mlops.env.hash`` has its files.
    """
    from mlflow.entities import RunTag

    from jupyter_mlops.core.environment import HASH_TAG, run_artifacts, run_tags, take_snapshot

    snap = take_snapshot() if snapshot is None else snapshot
    for path, text in run_artifacts(snap).items():
        client.log_text(run_id, text, path)
    tags = run_tags(snap)
    client.log_batch(run_id, tags=[RunTag(key, value) for key, value in tags.items()])
    return tags[HASH_TAG]


class EnvironmentJob:
    """:func:`log_environment` for one run in a one-off daemon thread.

    :meth:`wait` before the run ends so its environment is recorded while it
    is still running. Any failure is logged as a warning once per process
    (then at debug level) and never reaches the caller.
    """

    _warned = False

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.run_id = run_id
        self._thread = threading.Thread(
            target=self._run, args=(client,), name="jupyter-mlops-environment", daemon=True
        )
        self._thread.start()

    def _run(self, client: MlflowClient) -> None:
        try:
            log_environment(client, self.run_id)
        except Exception as exc:
            from jupyter_mlops.core.environment import scrub
            from jupyter_mlops.core.tracking.delivery import scrub_error

            message = scrub(scrub_error(str(exc) or type(exc).__name__))
            level = logging.DEBUG if EnvironmentJob._warned else logging.WARNING
            EnvironmentJob._warned = True
            _log.log(
                level,
                "jupyter-mlops: the environment of run %s was not recorded: %s",
                self.run_id,
                message,
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the environment is logged (or failed); False if still running at ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


# -- reading a run's environment --------------------------------------------------------


class RunEnvironment(NamedTuple):
    """A run's recorded environment: its ``environment.yml`` text and the snapshot read from it."""

    run_id: str
    hash: str | None
    environment_yml: str
    snapshot: EnvironmentSnapshot


def _no_environment(run_id: str) -> NotFoundError:
    return NotFoundError(
        f"Run {run_id} has no environment snapshot ({ENVIRONMENT_ARTIFACT}).",
        hint="runs started with jupyter-mlops record one; older runs or runs logged "
        "with plain MLflow do not have it",
        run_id=run_id,
    )


def _download(client: MlflowClient, artifact_uri: str, run_id: str, path: str, dst: Path) -> None:
    """Artifact ``path`` of a run to ``dst/path``, without MLflow's progress bar on stderr."""
    local = dst / path
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo: Any = get_artifact_repository(artifact_uri, tracking_uri=client.tracking_uri)
        repo._download_file(remote_file_path=path, local_path=str(local))
    except (AttributeError, TypeError, ImportError):  # another MLflow: its public way, bar and all
        client.download_artifacts(run_id, path, dst_path=str(dst))


def load_run_environment(client: MlflowClient, run_id: str) -> RunEnvironment:
    """The environment recorded with run ``run_id``.

    ``NotFoundError`` for an unknown run or a run without ``environment/environment.yml``.
    """
    from jupyter_mlops.core.environment import scrub, snapshot_from_file

    validate_run_id(run_id)
    with _mlflow_errors(run_id=run_id):
        run = client.get_run(run_id)
        listed = {info.path for info in client.list_artifacts(run_id, "environment")}
    if ENVIRONMENT_ARTIFACT not in listed:
        raise _no_environment(run_id)
    with tempfile.TemporaryDirectory(prefix="jupyter-mlops-env-") as tmp:
        with _mlflow_errors(run_id=run_id):
            for name in sorted(listed):
                _download(client, run.info.artifact_uri, run_id, name, Path(tmp))
        path = Path(tmp) / ENVIRONMENT_ARTIFACT
        text = path.read_text(encoding="utf-8")
        snapshot = snapshot_from_file(path)
    tag = run.data.tags.get(mlops_tags.ENV_HASH)
    return RunEnvironment(run_id, scrub(tag) if tag else None, scrub(text), snapshot)


def latest_notebook_environment(
    client: MlflowClient, notebook: str, *, max_runs: int = 200
) -> RunEnvironment | None:
    """The environment of the newest run of ``notebook`` (tag ``mlops.notebook``) that has one.

    Looks at the ``max_runs`` newest runs of that notebook tagged with an
    environment hash, in every active experiment; None when there is none.
    """
    from jupyter_mlops.core.tracking.query import list_experiments

    ids = [exp["experiment_id"] for exp in list_experiments(client)["experiments"]]
    if not ids:
        return None
    # MLflow's filter language cannot escape quotes: match loosely, then compare exactly.
    filter_string = (
        f"tags.`{mlops_tags.NOTEBOOK}` LIKE '{_like_literal(notebook)}' "
        f"and tags.`{mlops_tags.ENV_HASH}` LIKE '%'"
    )
    page_token: str | None = None
    seen = 0
    while seen < max_runs:
        with _mlflow_errors():
            page = client.search_runs(
                ids,
                filter_string=filter_string,
                order_by=["attributes.start_time DESC"],
                max_results=min(50, max_runs - seen),
                page_token=page_token,
            )
        for run in page:
            seen += 1
            if run.data.tags.get(mlops_tags.NOTEBOOK) != notebook:
                continue
            try:
                return load_run_environment(client, run.info.run_id)
            except NotFoundError:
                continue
        page_token = page.token
        if not page_token:
            break
    return None


# -- "RUN_ID or environment.yml" ---------------------------------------------------------


class SnapshotSource(NamedTuple):
    """Where a snapshot came from: a short label for tables, and the run id when a run."""

    label: str
    snapshot: EnvironmentSnapshot
    run_id: str | None = None


def resolve_snapshot(text: str, connect: Callable[[], MlflowClient]) -> SnapshotSource:
    """``text`` as an existing ``environment.yml`` (or a folder holding one), else a run id.

    ``connect()`` gives the store's client; it is called only for a run id.
    Neither a file nor a run id: ``UsageError``.
    """
    from jupyter_mlops.core.environment import ENVIRONMENT_FILE, snapshot_from_file

    path = Path(text).expanduser()
    if path.is_dir() and (path / ENVIRONMENT_FILE).is_file():
        path = path / ENVIRONMENT_FILE
    if path.is_file():
        return SnapshotSource(text, snapshot_from_file(path))
    try:
        validate_run_id(text)
    except UsageError:
        raise UsageError(
            f"{text[:200]!r} is neither an environment file nor a run id.",
            hint="pass a path to an environment.yml or the id of a run",
        ) from None
    found = load_run_environment(connect(), text)
    return SnapshotSource(f"run {text[:8]}", found.snapshot, text)


def diff_runs(client: MlflowClient, run_a: str, run_b: str) -> EnvironmentDiff:
    """What changed from run ``run_a``'s environment to run ``run_b``'s."""
    from jupyter_mlops.core.environment import diff_snapshots

    old = load_run_environment(client, run_a).snapshot
    new = load_run_environment(client, run_b).snapshot
    return diff_snapshots(old, new)


# -- the environment of an interpreter ---------------------------------------------------


def _is_prefix(folder: str) -> bool:
    if os.path.isfile(os.path.join(folder, "pyvenv.cfg")):
        return True
    if os.path.isdir(os.path.join(folder, "conda-meta")):
        return True
    lib = os.path.join(folder, "lib")
    try:
        return any(
            name.startswith("python") and os.path.isdir(os.path.join(lib, name, "site-packages"))
            for name in os.listdir(lib)
        ) or os.path.isdir(os.path.join(folder, "Lib", "site-packages"))
    except OSError:
        return os.path.isdir(os.path.join(folder, "Lib", "site-packages"))


def interpreter_prefix(executable: str) -> str:
    """The environment folder (``sys.prefix``) of the Python at ``executable``, without running it.

    ``python``/``python3``/``python3.X`` mean this process's interpreter (as
    jupyter_client does when it launches a kernel); other bare names are looked
    up on ``PATH``. A venv's ``bin/python`` is usually a symlink to its base
    interpreter, so the folder around the link is tried before the resolved one.
    """
    import shutil

    info = sys.version_info
    if executable in {"python", f"python{info.major}", f"python{info.major}.{info.minor}"}:
        executable = sys.executable
    executable = executable.replace("{prefix}", sys.prefix)
    found = executable if os.path.dirname(executable) else shutil.which(executable)
    if not found or not os.path.isfile(found):
        raise NotFoundError(
            f"Python interpreter {executable[:200]!r} not found.",
            hint="check the kernel's kernelspec (jupyter kernelspec list)",
        )
    for candidate in (os.path.abspath(found), os.path.realpath(found)):
        folder = os.path.dirname(candidate)
        for prefix in (os.path.dirname(folder), folder):  # <prefix>/bin/python, <prefix>/python.exe
            if _is_prefix(prefix):
                return prefix
    raise NotFoundError(
        f"No Python environment found around {found[:200]!r}.",
        hint="the kernel's interpreter should live in a virtualenv or conda environment",
    )


# -- REST bodies -------------------------------------------------------------------------


def _scrubbed(data: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mlops.core.environment import scrub

    result: dict[str, Any] = json.loads(scrub(json.dumps(data)))
    return result


def package_rows(snapshot: EnvironmentSnapshot) -> list[dict[str, Any]]:
    """``[{name, version, source, requested, origin}]``, conda and pip together, sorted by name."""
    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "version": p.version or "",
            "source": "conda",
            "requested": p.requested,
            "origin": p.channel or None,
        }
        for p in snapshot.conda_packages
    ]
    for p in snapshot.pip_packages:
        url = p.direct_url
        origin = None
        if url is not None:
            origin = (url.git_remote or url.path or url.url) if url.kind == "editable" else url.url
        rows.append(
            {
                "name": p.name,
                "version": p.version or "",
                "source": "pip",
                "requested": p.requested,
                "origin": origin or None,
            }
        )
    rows.sort(key=lambda row: (row["name"], row["source"]))
    return rows


def current_environment(prefix: str | None = None, kernel_id: str | None = None) -> dict[str, Any]:
    """The ``CurrentEnvironment`` body: the environment at ``prefix`` (default: this interpreter's)."""
    from jupyter_mlops.core.environment import content_hash, take_snapshot

    snapshot = take_snapshot(prefix)
    return _scrubbed(
        {
            "kernel_id": kernel_id,
            "python": snapshot.python_version,
            "prefix": sys.prefix if prefix is None else os.path.abspath(prefix),
            "hash": content_hash(snapshot),
            "packages": package_rows(snapshot),
            "platform": dict(snapshot.platform),
        }
    )


def run_environment(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """The ``RunEnvironment`` body of run ``run_id`` (``NotFoundError`` when it has none)."""
    from jupyter_mlops.core.environment import render_snapshot_json

    found = load_run_environment(client, run_id)
    return {
        "run_id": found.run_id,
        "hash": found.hash,
        "environment_yml": found.environment_yml,
        "snapshot": json.loads(render_snapshot_json(found.snapshot)),
    }


def environment_diff(client: MlflowClient, run_a: str, run_b: str) -> dict[str, Any]:
    """The ``EnvironmentDiff`` body: run ``run_a``'s environment to run ``run_b``'s."""
    return _scrubbed(diff_runs(client, run_a, run_b).to_dict())
