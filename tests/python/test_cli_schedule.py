"""``jupyter mlops schedule ...`` in-process, and ``jupyter mlops scheduler`` in a subprocess:
a real schedule database, real kernels and papermill, a real SQLite MLflow store."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from child_python import project_env
from notebooks import write_notebook

from jupyter_mlops.cli.main import COMMANDS, main
from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline.schedules import ScheduleStore, schedule_url

SLEEPY = "mode = 'ok'\n"
SLEEPY_BODY = (
    "import os, time\n"
    "open('pid-' + mode, 'w').write(str(os.getpid()))\n"
    "if mode == 'sleep':\n    time.sleep(300)\n"
)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "project"
    write_notebook(folder / "nb" / "job.ipynb", SLEEPY, [SLEEPY_BODY], {})
    for key, value in project_env(folder).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(folder)
    return folder


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def store_of(root: Path) -> ScheduleStore:
    return ScheduleStore(schedule_url(root, f"sqlite:///{root / 'mlflow.db'}"))


def test_every_schedule_command_has_help() -> None:
    for cmd in (
        COMMANDS["schedule"],
        *COMMANDS["schedule"].children.values(),
        COMMANDS["scheduler"],
    ):
        assert cmd.help
        assert cmd.description
        assert all(spec.options.get("help") for spec in cmd.arguments), cmd.name


def test_add_list_pause_resume_remove(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys, "schedule", "add", "nb/job.ipynb", "--cron", "0 6 * * MON-FRI",
        "--timezone", "Europe/Madrid", "-p", "mode", "fast", "--name", "nightly", "--format", "json",
    )  # fmt: skip
    assert code == 0
    added = json.loads(out)
    assert (added["path"], added["parameters"], added["timezone"]) == (
        "nb/job.ipynb", {"mode": "fast"}, "Europe/Madrid",
    )  # fmt: skip
    code, out, _ = cli(capsys, "schedule", "list")
    assert code == 0
    assert "nightly" in out
    assert "06:00 CE" in out  # the next firing in the schedule's own time zone (CET or CEST)
    assert cli(capsys, "schedule", "pause", added["id"][:8])[0] == 0
    listed = json.loads(cli(capsys, "schedule", "list", "--format", "json")[1])["schedules"]
    assert listed[0]["paused"] is True
    assert listed[0]["next_fire"] is None
    assert cli(capsys, "schedule", "resume", added["id"])[0] == 0
    assert cli(capsys, "schedule", "remove", added["id"])[0] == 0
    assert store_of(root).list_schedules() == []
    code, _, err = cli(capsys, "schedule", "remove", added["id"])
    assert code == 1
    assert "No schedule" in err


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["nb/job.ipynb", "--cron", "0 25 * * *"], "does not parse"),
        (
            ["nb/job.ipynb", "--cron", "* * * * *", "--timezone", "Nowhere/Land"],
            "unknown time zone",
        ),
        (["../elsewhere.ipynb", "--cron", "* * * * *"], "outside the root folder"),
        (["nb/job.ipynb", "--cron", "* * * * *", "-p", "nope", "1"], "unknown parameter"),
    ],
)
def test_bad_input_stores_nothing(
    root: Path, capsys: pytest.CaptureFixture[str], argv: list[str], text: str
) -> None:
    (root.parent / "elsewhere.ipynb").write_text("{}")
    code, _, err = cli(capsys, "schedule", "add", *argv)
    assert code == 2
    assert text in err
    assert store_of(root).list_schedules() == []


def test_headless_scheduler_catches_up_and_stops_cleanly(root: Path) -> None:
    """An hourly schedule missed for three hours: --catch-up runs its last firing at start,
    the others are listed missed; SIGTERM stops the scheduler, its run ends KILLED."""
    store = store_of(root)
    schedule = store.add(
        root, "nb/job.ipynb", "0 * * * *", parameters={"mode": "sleep"}, now=time.time() - 10800
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mlops.cli.main",
            "scheduler",
            "--catch-up",
            "--interval",
            "1",
        ],
        cwd=root,
        env=project_env(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = root / "nb" / "pid-sleep"
    deadline = time.monotonic() + 180
    while not pid_file.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pid_file.exists(), proc.communicate(timeout=60)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    assert f"{schedule.id[:8]} job (nb/job.ipynb): 0 * * * * UTC" in out
    assert f"job [{schedule.id[:8]}]" in out
    assert ": started" in out
    assert "stopped" in err
    history = store.history(schedule.id, limit=100)
    missed = sorted(row["fire_time"] for row in history if row["status"] == "missed")
    assert len(missed) >= 2
    [fired] = [row for row in history if row["status"] != "missed"]
    assert fired["status"] == "killed", fired
    assert fired["fire_time"] > missed[-1]  # the last one ran
    assert store.describe(store.get(schedule.id))["missed"] == missed
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        f"tags.`{tags.SCHEDULE_ID}` = '{schedule.id}'",
    )
    assert runs
    assert {r.info.status for r in runs} == {"KILLED"}
