"""``jupyter mlops run-edit ...``: the panel's run actions on the command line, on a real store."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.cli.main import main
from jupyter_mlops.core.tracking.run_edit import NOTE_TAG


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], mlflow_store: Any) -> Any:
    """``cli("rename", run_id, "x")`` -> ``(code, stdout, stderr)`` on the test store."""

    def run(action: str, *argv: str) -> tuple[int, str, str]:
        code = main(["run-edit", action, "--tracking-uri", mlflow_store.uri, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_rename_tag_note_delete_restore(
    cli: Any, mlflow_store: Any, make_run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = make_run("cli-edits", name="first", tags={"team": "ds"})
    client = mlflow_store.client
    code, out, _ = cli("rename", run_id, "second")
    assert code == 0
    assert f"Renamed run {run_id} (second)." in out
    assert client.get_run(run_id).info.run_name == "second"

    code, out, _ = cli(
        "tag", run_id, "stage=prod", "url=a=b", "--delete", "team", "--format", "json"
    )
    assert code == 0
    tags = json.loads(out)["tags"]
    assert (tags["stage"], tags["url"], "team" in tags) == ("prod", "a=b", False)

    note = tmp_path / "note.md"
    note.write_text("# Why\n\nbecause", encoding="utf-8")
    assert cli("note", run_id, "--file", str(note))[0] == 0
    assert client.get_run(run_id).data.tags[NOTE_TAG] == "# Why\n\nbecause"
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin"))
    assert cli("note", run_id, "--file", "-")[0] == 0
    assert client.get_run(run_id).data.tags[NOTE_TAG] == "from stdin"
    assert cli("note", run_id, "")[0] == 0
    assert NOTE_TAG not in client.get_run(run_id).data.tags

    assert cli("delete", run_id)[0] == 0
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    code, out, _ = cli("deleted", "--experiment", "cli-edits")
    assert code == 0
    assert run_id in out
    assert "second" in out
    assert cli("restore", run_id)[0] == 0
    assert client.get_run(run_id).info.lifecycle_stage == "active"
    code, out, _ = cli("deleted", "--format", "json")
    assert json.loads(out) == {"runs": []}


@pytest.mark.parametrize(
    ("action", "argv", "words"),
    [
        ("rename", ["  "], "empty"),
        ("tag", ["mlops.project=x"], "read-only"),
        ("tag", ["novalue"], "NAME=VALUE"),
        ("tag", [], "Nothing to change"),
        ("note", [], "one of the two"),
        ("note", ["--file", "/no/such/file"], "Cannot read"),
    ],
)
def test_bad_edits_exit_2_and_change_nothing(
    cli: Any, mlflow_store: Any, make_run: Any, action: str, argv: list[str], words: str
) -> None:
    run_id = make_run("cli-edits", name="kept", tags={"mlops.project": "p"})
    code, _, err = cli(action, run_id, *argv)
    assert code == 2
    assert words in err
    run = mlflow_store.client.get_run(run_id)
    assert (run.info.run_name, run.data.tags["mlops.project"]) == ("kept", "p")
    assert NOTE_TAG not in run.data.tags


def test_deleted_run_cannot_be_edited_exit_1(cli: Any, make_run: Any) -> None:
    run_id = make_run("cli-edits", name="gone")
    assert cli("delete", run_id)[0] == 0
    code, _, err = cli("rename", run_id, "back")
    assert code == 1
    assert "restore" in err
