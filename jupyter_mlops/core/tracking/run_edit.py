"""The write side of tracking: rename, delete and restore a run, edit its tags and its note.

What the panel's run actions, ``jupyter mlops run-edit ...`` and plain Python share.
Every function takes an ``MlflowClient``, checks all of its input before it
changes anything (a refused edit leaves the run as it was), and returns the
run's ``RunSummary`` after the edit (``lifecycle_stage`` included), in the shape
of ``api/openapi.yaml``.

* Names: 1 to 250 characters once trimmed, one line.
* Tags: MLflow's key rules (:func:`~jupyter_mlops.core.tracking.validation.check_key`),
  values up to 8000 characters. Tags under ``mlops.`` and ``mlflow.`` are the
  system's (where a run comes from, its cost, its parent) and are read-only
  here: the name and the note have functions of their own.
* The note is MLflow's ``mlflow.note.content`` tag, the Markdown text MLflow's
  UI shows as the run's description; an empty note removes the tag.
* Delete and restore follow MLflow's lifecycle (``active`` <-> ``deleted``):
  a deleted run keeps its data until ``mlflow gc``; it is hidden from searches
  and :func:`deleted_runs` lists it. A run that is still ``RUNNING`` is not
  deleted (its kernel would fail to log), and a deleted run is not edited
  until restored (MLflow refuses it too): both are ``RunStateError``.

MLflow is imported lazily (inside functions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tracking.query import list_experiments, run_summary
from jupyter_mlops.core.tracking.search_input import (
    check_max_results,
    mlflow_errors,
    validate_experiment_ids,
    validate_run_id,
)
from jupyter_mlops.core.tracking.validation import MAX_TAG_LENGTH, check_key, tag_value
from jupyter_mlops.exceptions import InvalidValueError, RunStateError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_NOTE_LENGTH",
    "NOTE_TAG",
    "PROTECTED_PREFIXES",
    "check_name",
    "check_tag_edit",
    "delete_run",
    "deleted_runs",
    "edit_tags",
    "rename_run",
    "restore_run",
    "set_note",
]

NOTE_TAG = "mlflow.note.content"
"""MLflow's run description tag (Markdown), what its UI edits as the run's note."""
MAX_NAME_LENGTH = 250
"""MLflow's limit on a run name (the ``runs.name`` column, the ``mlflow.runName`` tag key)."""
MAX_NOTE_LENGTH = MAX_TAG_LENGTH
"""A note is a tag value: 8000 characters."""
PROTECTED_PREFIXES = ("mlops.", "mlflow.")
"""Tags the system writes; read-only for tag edits."""

_TAG_HINT = (
    "Tags under 'mlops.' and 'mlflow.' are written by jupyter-mlops and MLflow; "
    "rename the run or edit its note instead, or use a tag name of your own."
)


def check_name(name: object) -> str:
    """``name`` trimmed, if it is one line of 1 to 250 characters, else ``InvalidValueError``."""
    if not isinstance(name, str):
        raise InvalidValueError(f"A run name must be text, got {type(name).__name__}.")
    text = name.strip()
    if not text:
        raise InvalidValueError("A run name cannot be empty.", hint="Type at least one character.")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidValueError(
            f"The run name is {len(text)} characters long; the limit is {MAX_NAME_LENGTH}.",
            hint="Shorten it; put longer text in the run's note.",
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidValueError(
            "A run name must be one line without control characters.",
            hint="Remove the line breaks or tabs; put longer text in the run's note.",
        )
    return text


def _check_user_key(key: object) -> str:
    text = check_key(key, "tag")
    if not text:
        raise InvalidValueError("A tag name cannot be empty.")
    if text.startswith(PROTECTED_PREFIXES):
        raise InvalidValueError(f"Tag {text!r} is read-only.", hint=_TAG_HINT)
    return text


def check_tag_edit(
    set_tags: Mapping[str, object] | None, delete: Sequence[object] | None
) -> tuple[dict[str, str], list[str]]:
    """The tags to set (values as text) and the names to remove, all checked, or an error.

    A name may not be both set and removed; ``mlops.*`` / ``mlflow.*`` names are refused.
    """
    if set_tags is not None and not isinstance(set_tags, Mapping):
        raise InvalidValueError("'set' must be an object of tag name -> value.")
    if delete is not None and (isinstance(delete, str) or not isinstance(delete, Sequence)):
        raise InvalidValueError("'delete' must be a list of tag names.")
    updates: dict[str, str] = {}
    for key, value in (set_tags or {}).items():
        name = _check_user_key(key)
        if value is None or isinstance(value, (dict, list)):
            raise InvalidValueError(
                f"Tag {name!r} needs a text value, got {type(value).__name__}.",
                hint="To remove a tag, list its name under 'delete'.",
            )
        updates[name] = tag_value(name, value)
    removals = [_check_user_key(key) for key in delete or ()]
    both = sorted(set(updates) & set(removals))
    if both:
        raise InvalidValueError(f"Tag {both[0]!r} is both set and removed; choose one.")
    if not updates and not removals:
        raise InvalidValueError("Nothing to change: give tags to set or names to remove.")
    return updates, sorted(set(removals))


def _read(client: MlflowClient, run_id: str) -> Run:
    validate_run_id(run_id)
    with mlflow_errors(run_id=run_id):
        return client.get_run(run_id)


def _active(client: MlflowClient, run_id: str) -> Run:
    run = _read(client, run_id)
    if run.info.lifecycle_stage != "active":
        raise RunStateError(
            f"Run {run_id} is deleted; it cannot be edited.",
            hint="Restore it first (the panel's Restore, or `jupyter mlops run-edit restore`).",
            run_id=run_id,
        )
    return run


def _reread(client: MlflowClient, run_id: str) -> dict[str, Any]:
    return run_summary(_read(client, run_id))


def rename_run(client: MlflowClient, run_id: str, name: object) -> dict[str, Any]:
    """Give the run a new name (``runs.name`` and the ``mlflow.runName`` tag, as MLflow does)."""
    text = check_name(name)
    _active(client, run_id)
    with mlflow_errors(run_id=run_id):
        client.update_run(run_id, name=text)
    return _reread(client, run_id)


def edit_tags(
    client: MlflowClient,
    run_id: str,
    set_tags: Mapping[str, object] | None = None,
    delete: Sequence[object] | None = None,
) -> dict[str, Any]:
    """Set and remove user tags of the run in one call (removing an absent tag is a no-op)."""
    updates, removals = check_tag_edit(set_tags, delete)
    from mlflow.entities import RunTag

    run = _active(client, run_id)
    with mlflow_errors(run_id=run_id):
        if updates:
            client.log_batch(run_id, tags=[RunTag(k, v) for k, v in updates.items()])
        for key in removals:
            if key in run.data.tags:
                client.delete_tag(run_id, key)
    return _reread(client, run_id)


def set_note(client: MlflowClient, run_id: str, note: object) -> dict[str, Any]:
    """Set the run's Markdown note (``mlflow.note.content``); empty text removes it."""
    if not isinstance(note, str):
        raise InvalidValueError(f"A note must be text, got {type(note).__name__}.")
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidValueError(
            f"The note is {len(note)} characters long; the limit is {MAX_NOTE_LENGTH}.",
            hint="Shorten it, or log the long text as an artifact and link to it.",
        )
    run = _active(client, run_id)
    with mlflow_errors(run_id=run_id):
        if note.strip():
            client.set_tag(run_id, NOTE_TAG, note)
        elif NOTE_TAG in run.data.tags:
            client.delete_tag(run_id, NOTE_TAG)
    return _reread(client, run_id)


def delete_run(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """Move the run to MLflow's ``deleted`` stage (restorable); deleting it again is a no-op."""
    run = _read(client, run_id)
    if run.info.status == "RUNNING":
        raise RunStateError(
            f"Run {run_id} is still running; it cannot be deleted.",
            hint="End it first (`%mlops end`, or stop its kernel), then delete it.",
            run_id=run_id,
        )
    if run.info.lifecycle_stage != "deleted":
        with mlflow_errors(run_id=run_id):
            client.delete_run(run_id)
    return _reread(client, run_id)


def restore_run(client: MlflowClient, run_id: str) -> dict[str, Any]:
    """Bring a deleted run back to ``active``; restoring an active run is a no-op."""
    run = _read(client, run_id)
    if run.info.lifecycle_stage != "active":
        with mlflow_errors(run_id=run_id):
            client.restore_run(run_id)
    return _reread(client, run_id)


def deleted_runs(
    client: MlflowClient,
    experiment_ids: Sequence[str] | None = None,
    max_results: int = 100,
) -> dict[str, Any]:
    """``{"runs": [RunSummary...]}``: deleted runs (newest first) of ``experiment_ids``.

    Without ids: of every active experiment. At most ``max_results`` runs.
    """
    from mlflow.entities import ViewType

    check_max_results(max_results)
    if experiment_ids:
        ids = validate_experiment_ids(experiment_ids)
    else:
        ids = [exp["experiment_id"] for exp in list_experiments(client)["experiments"]]
    if not ids:
        return {"runs": []}
    with mlflow_errors():
        page = client.search_runs(
            ids,
            run_view_type=ViewType.DELETED_ONLY,
            max_results=max_results,
            order_by=["attributes.start_time DESC"],
        )
    return {"runs": [run_summary(run) for run in page]}
