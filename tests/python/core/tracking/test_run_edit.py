"""Run edits on a real SQLite MLflow store: rename, tags, note, delete and restore.

Every refused edit is checked to leave the run exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlops.core.tracking import query
from jupyter_mlops.core.tracking.run_edit import (
    MAX_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    NOTE_TAG,
    delete_run,
    deleted_runs,
    edit_tags,
    rename_run,
    restore_run,
    set_note,
)
from jupyter_mlops.exceptions import InvalidValueError, NotFoundError, RunStateError, UsageError

MakeRun = Callable[..., str]


@pytest.fixture
def run_id(make_run: MakeRun) -> str:
    return make_run(
        "edits",
        name="first",
        params={"lr": "0.1"},
        tags={"team": "ds", "mlops.project": "p", "mlflow.user": "alice"},
        metrics={"acc": [0.5, 0.9]},
    )


def _state(client: Any, run_id: str) -> tuple[Any, ...]:
    run = client.get_run(run_id)
    return (run.info.run_name, run.info.lifecycle_stage, dict(run.data.tags))


def test_rename_changes_name_and_tag(mlflow_store: Any, run_id: str) -> None:
    summary = rename_run(mlflow_store.client, run_id, "  second <b>try</b> ")
    assert summary["run_name"] == "second <b>try</b>"
    assert summary["lifecycle_stage"] == "active"
    run = mlflow_store.client.get_run(run_id)
    assert run.info.run_name == "second <b>try</b>"
    assert run.data.tags["mlflow.runName"] == "second <b>try</b>"
    assert query.get_run(mlflow_store.client, run_id)["run_name"] == "second <b>try</b>"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * (MAX_NAME_LENGTH + 1), "limit"),
        ("two\nlines", "one line"),
        (7, "text"),
    ],
)
def test_bad_names_change_nothing(mlflow_store: Any, run_id: str, name: Any, words: str) -> None:
    before = _state(mlflow_store.client, run_id)
    with pytest.raises(InvalidValueError) as info:
        rename_run(mlflow_store.client, run_id, name)
    assert words in str(info.value)
    assert info.value.hint or words == "text"
    assert _state(mlflow_store.client, run_id) == before


def test_edit_tags_sets_changes_and_removes(mlflow_store: Any, run_id: str) -> None:
    summary = edit_tags(
        mlflow_store.client, run_id, {"team": "ml", "stage": "<i>prod</i>", "n": 3}, ["gone"]
    )
    assert summary["tags"]["team"] == "ml"
    assert summary["tags"]["stage"] == "<i>prod</i>"
    assert summary["tags"]["n"] == "3"
    summary = edit_tags(mlflow_store.client, run_id, delete=["stage"])
    assert "stage" not in summary["tags"]
    tags = mlflow_store.client.get_run(run_id).data.tags
    assert "stage" not in tags
    assert tags["mlops.project"] == "p"
    assert tags["mlflow.user"] == "alice"


@pytest.mark.parametrize(
    ("set_tags", "delete", "words"),
    [
        ({"mlops.project": "q"}, None, "read-only"),
        ({"mlflow.runName": "q"}, None, "read-only"),
        ({"ok": "1"}, ["mlflow.note.content"], "read-only"),
        ({"bad key!": "1"}, None, "tag key"),
        ({"": "1"}, None, "tag"),
        ({"x" * 251: "1"}, None, "limit"),
        ({"long": "v" * 8001}, None, "limit"),
        ({"ok": None}, None, "text value"),
        ({"ok": "1"}, ["ok"], "both"),
        ({}, [], "Nothing to change"),
        ({"ok": "1"}, "ok", "list"),
    ],
)
def test_bad_tag_edits_change_nothing(
    mlflow_store: Any, run_id: str, set_tags: Any, delete: Any, words: str
) -> None:
    before = _state(mlflow_store.client, run_id)
    with pytest.raises(InvalidValueError) as info:
        edit_tags(mlflow_store.client, run_id, set_tags, delete)
    assert words in str(info.value)
    assert _state(mlflow_store.client, run_id) == before


def test_protected_tag_error_says_what_to_do(mlflow_store: Any, run_id: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        edit_tags(mlflow_store.client, run_id, {"ok": "1", "mlops.owner": "me"})
    assert "rename the run or edit its note" in (info.value.hint or "")
    assert "ok" not in mlflow_store.client.get_run(run_id).data.tags


def test_note_is_mlflow_description_and_empty_removes_it(mlflow_store: Any, run_id: str) -> None:
    text = "# Result\n\n<img src=x onerror=alert(1)> **good**\n"
    summary = set_note(mlflow_store.client, run_id, text)
    assert summary["tags"][NOTE_TAG] == text
    assert mlflow_store.client.get_run(run_id).data.tags[NOTE_TAG] == text
    summary = set_note(mlflow_store.client, run_id, "  \n")
    assert NOTE_TAG not in summary["tags"]
    assert NOTE_TAG not in mlflow_store.client.get_run(run_id).data.tags
    set_note(mlflow_store.client, run_id, "")  # no note to remove: nothing happens


def test_too_long_note_changes_nothing(mlflow_store: Any, run_id: str) -> None:
    set_note(mlflow_store.client, run_id, "kept")
    with pytest.raises(InvalidValueError, match="limit"):
        set_note(mlflow_store.client, run_id, "n" * (MAX_NOTE_LENGTH + 1))
    with pytest.raises(InvalidValueError, match="text"):
        set_note(mlflow_store.client, run_id, None)
    assert mlflow_store.client.get_run(run_id).data.tags[NOTE_TAG] == "kept"


def test_delete_hides_and_restore_brings_back(
    mlflow_store: Any, run_id: str, make_run: MakeRun
) -> None:
    other = make_run("edits", name="other")
    experiment = mlflow_store.client.get_run(run_id).info.experiment_id
    summary = delete_run(mlflow_store.client, run_id)
    assert summary["lifecycle_stage"] == "deleted"
    assert delete_run(mlflow_store.client, run_id)["lifecycle_stage"] == "deleted"
    listed = query.search_runs(mlflow_store.client, experiment_ids=[experiment])["runs"]
    assert [r["run_id"] for r in listed] == [other]
    trash = deleted_runs(mlflow_store.client)["runs"]
    assert [(r["run_id"], r["lifecycle_stage"]) for r in trash] == [(run_id, "deleted")]
    assert deleted_runs(mlflow_store.client, [experiment])["runs"][0]["run_name"] == "first"
    # the details of a deleted run still read, and say so
    assert query.get_run(mlflow_store.client, run_id)["lifecycle_stage"] == "deleted"

    before = _state(mlflow_store.client, run_id)
    for edit in (
        lambda: rename_run(mlflow_store.client, run_id, "new"),
        lambda: edit_tags(mlflow_store.client, run_id, {"a": "b"}),
        lambda: set_note(mlflow_store.client, run_id, "note"),
    ):
        with pytest.raises(RunStateError, match="deleted") as info:
            edit()
        assert "Restore" in (info.value.hint or "")
    assert _state(mlflow_store.client, run_id) == before

    summary = restore_run(mlflow_store.client, run_id)
    assert summary["lifecycle_stage"] == "active"
    assert restore_run(mlflow_store.client, run_id)["lifecycle_stage"] == "active"
    listed = query.search_runs(mlflow_store.client, experiment_ids=[experiment])["runs"]
    assert {r["run_id"] for r in listed} == {run_id, other}
    assert deleted_runs(mlflow_store.client)["runs"] == []


def test_running_run_is_not_deleted(mlflow_store: Any, make_run: MakeRun) -> None:
    running = make_run("edits", name="live", status="RUNNING")
    with pytest.raises(RunStateError, match="still running") as info:
        delete_run(mlflow_store.client, running)
    assert "End it first" in (info.value.hint or "")
    assert mlflow_store.client.get_run(running).info.lifecycle_stage == "active"


def test_unknown_and_malformed_run_ids(mlflow_store: Any) -> None:
    with pytest.raises(NotFoundError):
        rename_run(mlflow_store.client, "0123456789abcdef0123456789abcdef", "x")
    with pytest.raises(UsageError, match="run id"):
        delete_run(mlflow_store.client, "../etc")
    with pytest.raises(UsageError, match="experiment id"):
        deleted_runs(mlflow_store.client, ["not an id!"])
