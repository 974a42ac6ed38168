"""Pipeline schedules in a live Jupyter server: REST, firing, restarts and missed firings.

A real ``jupyter server`` with jupyter-mlops in a child process (``LiveServer``), a
real one-step notebook run by papermill, a real SQLite MLflow store and schedule
database. Every wait polls the REST API; nothing sleeps a fixed time.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from child_python import project_env
from live_server import LiveServer
from notebooks import write_notebook

from jupyter_mlops.core import tags

pytestmark = [pytest.mark.slow]  # waits for the minute's firing: it shares the machine well

API = "/jupyter-mlops/api/pipelines/schedules"
CONFIG = "c.MlopsExtensionApp.schedule_interval = 2.0\n"


def move_back(ledger: str, schedule_id: str, seconds: float) -> None:
    """Move ``schedule_id``'s history back: created, last checked and each firing, as if it
    had all happened ``seconds`` (a whole number of minutes) earlier and nothing ran since."""
    import sqlalchemy as sa

    engine = sa.create_engine(ledger)
    updates = (
        "UPDATE schedules SET last_checked = last_checked - :s, created = created - :s"
        " WHERE id = :id",
        "UPDATE schedule_firings SET fire_time = fire_time - :s WHERE schedule_id = :id",
    )
    try:
        with engine.begin() as conn:
            for sql in updates:
                conn.execute(sa.text(sql), {"s": seconds, "id": schedule_id})
    finally:
        engine.dispose()


def poll(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """``check()`` until it returns something true (then that), failing after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)


def call(server: LiveServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Any method on the live server; the status and the JSON reply (errors included)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {server.token}"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def finished_launch(server: LiveServer, launch_id: str) -> dict[str, Any] | None:
    launch: dict[str, Any] = server.request(f"/jupyter-mlops/api/pipelines/runs/{launch_id}")
    return launch if launch["status"] in ("FINISHED", "FAILED", "KILLED") else None


def ended_firing(server: LiveServer, url: str) -> dict[str, Any] | None:
    schedule: dict[str, Any] = server.request(url)
    return schedule if schedule["last_run_id"] else None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "lab"
    write_notebook(folder / "nb" / "tick.ipynb", "n = 1\n", ["x = n + 1"], {})
    return folder


def test_bad_schedules_are_400_and_run_now_starts_a_launch(root: Path) -> None:
    server = LiveServer.start(root, project_env(root), CONFIG)
    try:
        for body, text in [
            ({"path": "nb/tick.ipynb", "cron": "every day"}, "does not parse"),
            ({"path": "nb/tick.ipynb", "cron": "* * * * *", "timezone": "Nowhere"}, "time zone"),
            ({"path": "../x.ipynb", "cron": "* * * * *"}, "'..'"),
            ({"path": "nb/tick.ipynb", "cron": "* * * * *", "parameters": {"m": 1}}, "unknown"),
            ({"path": "nb/tick.ipynb", "cron": "* * * * *", "every": 1}, "unknown fields"),
        ]:
            code, reply = call(server, "POST", API, body)
            assert code == 400, reply
            assert text in reply["message"]
        assert server.request(API) == {"schedules": []}
        code, added = call(server, "POST", API, {"path": "nb/tick.ipynb", "cron": "0 0 1 1 *"})
        assert code == 201, added
        code, paused = call(server, "POST", f"{API}/{added['id']}/pause", {})
        assert (code, paused["paused"], paused["next_fire"]) == (200, True, None)
        code, fired = call(server, "POST", f"{API}/{added['id']}/run-now", {})
        assert code == 200, fired
        launch = fired["launch"]
        assert fired["schedule"]["last_status"] == "started"
        ended = poll("the run-now launch ends", lambda: finished_launch(server, launch["id"]), 180)
        assert ended["status"] == "FINISHED", ended
        assert call(server, "DELETE", f"{API}/{added['id']}")[0] == 204
        assert call(server, "GET", f"{API}/{added['id']}")[0] == 404
    finally:
        server.stop()


def test_every_minute_fires_survives_a_restart_and_lists_a_missed_firing(root: Path) -> None:
    server = LiveServer.start(root, project_env(root), CONFIG)
    try:
        added = server.request(API, {"path": "nb/tick.ipynb", "cron": "* * * * *", "name": "tick"})
        url = f"{API}/{added['id']}"
        fired = poll("a firing", lambda: server.request(url)["last_fire"], 70)
        assert fired <= added["created"] + 70
        done = poll("the firing's run ends", lambda: ended_firing(server, url), 180)
        assert done["last_status"] == "finished", done
        launches = server.request("/jupyter-mlops/api/pipelines/runs")["runs"]
        assert done["last_run_id"] in {launch["run_id"] for launch in launches}  # the panel's
    finally:
        server.stop()
    # Down for three minutes: rather than wait, move the schedule's history three minutes back
    # (the same state, had nothing run since); the minutes after it were missed.
    stopped = time.time()
    down = 180.0
    move_back(project_env(root)["JUPYTER_MLOPS_COST_LEDGER"], added["id"], down)
    server = LiveServer.start(root, project_env(root), CONFIG)
    try:
        assert [s["id"] for s in server.request(API)["schedules"]] == [added["id"]]
        missed = poll("the missed firings listed", lambda: server.request(url)["missed"], 30)
        missed_minute = ((stopped - down) // 60 + 1) * 60
        assert missed_minute in missed, missed
        assert all(stopped - down < t < time.time() - 60 for t in missed), missed
    finally:
        server.stop()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    run = client.get_run(done["last_run_id"])
    assert run.data.tags[tags.SCHEDULE_ID] == added["id"]
    assert run.info.status == "FINISHED"
    [step] = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert step.data.tags[tags.SCHEDULE_ID] == added["id"]
    from jupyter_mlops.core.cost.ledger import Ledger

    with Ledger(project_env(root)["JUPYTER_MLOPS_COST_LEDGER"]) as ledger:
        booked = dict(ledger.grouped("run"))
    # the server is the cost booker of its kernels; the pool it starts books its own executions
    assert step.info.run_id in booked, booked
    assert booked[step.info.run_id].cost_allocated > 0
