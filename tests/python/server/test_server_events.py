"""The event feed against a real server: GET /events, engine events and ended launches, webhooks.

Outgoing notifications go to a real HTTP receiver on loopback
(``webhook_receiver.py``) through apprise's ``json://``. The notifier sends in
order from one thread, so once a later event's webhook arrived every earlier one
was sent: counts are exact without waiting on time. Launches run real notebooks
with real kernels and papermill.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RecordingAuthorizer, stretches_then
from test_server_cost import _kernel, _poll
from test_server_pipelines import call, tagged, wait_for, write
from webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.slow

SECRET = "Sup3rSecretT0ken"
IDLE = {
    "kind": "idle-policy",
    "state": "warning",
    "message": "Kernel of train.ipynb has held CPU idle for 20 min ($0.40 so far): "
    "shutting down in 10 min",
    "action": "shutdown",
    "resource": "cpu",
    "kernel_id": "k-1",
    "notebook": "train.ipynb",
    "user": "alice",
    "project": "test-project",
    "run_id": "",
    "burned": 0.4,
    "currency": "USD",
    "act_at": 1_900_000_000.0,
}
BUDGET = {
    "kind": "budget",
    "state": "fired",
    "threshold": 0.8,
    "project": "test-project",
    "period_start": 1_800_000_000,
    "message": "test-project spent $8.00 of $10.00 this week",
}


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def notify(request: pytest.FixtureRequest) -> dict[str, Any]:
    """MlopsConfig traits of the test (``indirect`` parametrization), besides the hook's URL."""
    return dict(getattr(request, "param", {}))


@pytest.fixture
def jp_server_config(
    jp_server_config: Any, hook: WebhookReceiver, notify: dict[str, Any], tmp_path: Path
) -> Any:
    config = jp_server_config["MlopsConfig"]
    config["cost_ledger_url"] = f"sqlite:///{tmp_path / 'events-cost.db'}"
    config["notify_urls"] = [*notify.pop("extra_urls", []), hook.url(f"hooks/{SECRET}")]
    for name, value in notify.items():
        config[name] = value
    return jp_server_config


def configure(**traits: Any) -> Any:
    return pytest.mark.parametrize("notify", [traits], indirect=True)


class Captured(logging.Handler):
    """The records of one logger (the extension's log does not propagate to caplog)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)


async def started(serverapp: Any, log: Captured | None = None) -> Any:
    """The extension app once the server's start-up ran (pytest-jupyter does not run it)."""
    (app,) = serverapp.extension_manager.extension_apps["jupyter_mlops"]
    if log is not None:
        app.log.addHandler(log)
    await serverapp._post_start()
    assert app.events.notifier.ready.wait(30)
    return app


async def events(get_json: Any, check_response: Any, after: int | None = 0) -> Any:
    code, body = await get_json("events", params=None if after is None else {"after": after})
    assert code == 200, body
    check_response("/events", 200, body)
    return body


async def titles(hook: WebhookReceiver, count: int, deadline: float = 60.0) -> list[str]:
    """The titles of the webhooks once ``count`` arrived (the server's loop runs meanwhile)."""
    end = time.monotonic() + deadline
    while len(hook.received) < count and time.monotonic() < end:
        await asyncio.sleep(0.1)
    return [r["body"]["title"] for r in hook.received]


async def test_feed_starts_at_the_newest_seq(
    jp_serverapp: Any, get_json: Any, check_response: Any
) -> None:
    app = await started(jp_serverapp)
    assert await events(get_json, check_response, None) == {"seq": 0, "events": []}
    app.events.publish(IDLE)
    assert await events(get_json, check_response, None) == {"seq": 1, "events": []}
    body = await events(get_json, check_response, 0)
    assert [(e["seq"], e["kind"], e["kernel_id"]) for e in body["events"]] == [
        (1, "idle-policy", "k-1")
    ]
    assert (await events(get_json, check_response, 1))["events"] == []
    restarted = await events(get_json, check_response, 99)  # a client of an earlier server
    assert [e["seq"] for e in restarted["events"]] == [1]
    for bad in ("-1", "x"):
        code, body = await get_json("events", params={"after": bad})
        assert code == 400, body
        check_response("/events", 400, body)


async def test_engine_events_go_to_feed_and_webhook_once(
    jp_serverapp: Any, get_json: Any, check_response: Any, hook: WebhookReceiver
) -> None:
    app = await started(jp_serverapp)
    engine = app.service.cost
    assert engine is not None
    engine._emit(dict(IDLE))
    engine._emit(dict(IDLE))  # the engine fires the same warning again
    engine._emit({**BUDGET, "threshold": float("nan"), "period_start": 1})  # strict JSON
    engine._emit(dict(BUDGET))
    assert await titles(hook, 3) == [
        "Idle CPU: train.ipynb",
        "Budget of test-project: threshold reached",
        "Budget of test-project: 80% reached",
    ]
    body = await events(get_json, check_response)
    assert [e["kind"] for e in body["events"]] == ["idle-policy", "budget", "budget"]
    assert body["events"][1]["threshold"] is None
    assert len(hook.received) == 3
    assert {r["path"] for r in hook.received} == {f"/hooks/{SECRET}"}


@pytest.mark.parametrize("notify", [{}, {"notify_finished": True}], indirect=True)
async def test_ended_launches(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_root_dir: Path,
    get_json: Any,
    check_response: Any,
    hook: WebhookReceiver,
    notify: dict[str, Any],
) -> None:
    await started(jp_serverapp)
    root = Path(jp_root_dir)
    write(root / "ok.ipynb", tagged("n = 1", "print(n)"))
    write(root / "fail.ipynb", tagged("n = 1", "raise ValueError('boom')"))
    ids = {}
    for name in ("ok", "fail"):
        code, launch = await call(
            jp_fetch, "POST", "pipelines", "runs", body={"path": f"{name}.ipynb"}
        )
        assert code == 202, launch
        ids[name] = launch["id"]
        await wait_for(jp_fetch, launch["id"])
    finished = notify.get("notify_finished", False)
    expected = ["Pipeline FINISHED: ok"] if finished else []
    assert await titles(hook, len(expected) + 1) == [*expected, "Pipeline FAILED: fail"]
    failed = hook.received[-1]["body"]
    assert (failed["type"], "boom" in failed["message"]) == ("failure", True)
    body = await events(get_json, check_response)
    pipeline = [e for e in body["events"] if e["kind"] == "pipeline"]
    assert [(e["state"], e["launch_id"]) for e in pipeline] == [
        *([("FINISHED", ids["ok"])] if finished else []),
        ("FAILED", ids["fail"]),
    ]
    assert pipeline[-1]["run_id"]
    assert pipeline[-1]["path"] == "fail.ipynb"


@configure(extra_urls=["bogus://admin:Pa55word77@example.org/t0kenpath", "json://"])
async def test_bad_urls_logged_and_the_good_one_still_works(
    jp_serverapp: Any,
    get_json: Any,
    check_response: Any,
    hook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    log = Captured()
    app = await started(jp_serverapp, log)
    app.events.publish(IDLE)
    assert await titles(hook, 1) == ["Idle CPU: train.ipynb"]
    errors = [r.getMessage() for r in log.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2, errors
    assert "notify_urls[0] (bogus://...)" in errors[0]
    assert "notify_urls[1] (json://...)" in errors[1]
    body = await events(get_json, check_response)
    assert body["seq"] == 1
    app.log.removeHandler(log)
    for secret in ("Pa55word77", "t0kenpath", SECRET):
        assert secret not in log.text
        assert secret not in caplog.text
        assert secret not in json.dumps(body)


@configure(
    idle_policy=[
        {
            "resource": "cpu",
            "threshold_pct": 50,
            "after_minutes": 0.02,
            "grace_minutes": 30,
            "action": "notify",
        }
    ],
    cost_interval=0.5,
)
async def test_idle_kernel_warned_once_then_kept_alive(
    jp_serverapp: Any,
    jp_fetch: Any,
    get_json: Any,
    check_response: Any,
    hook: WebhookReceiver,
) -> None:
    """A real idle kernel under a CPU rule of 1.2 s: one warning webhook per idle stretch
    while the sampler goes on seeing it idle; keep-alive clears it (not sent) and no more come.

    A kernel that starts on a loaded machine may look idle (under half a core) before its
    start-up gets the CPU, then busy, then idle: two stretches, two warnings, a "cleared"
    between them (not sent). What must never happen is a second warning within a stretch."""
    await started(jp_serverapp)
    async with _kernel(jp_serverapp, jp_fetch) as kernel_id:
        title = f"Idle CPU: kernel {kernel_id[:8]}"
        assert set(await titles(hook, 1)) == {title}
        response = await jp_fetch(
            "jupyter-mlops/api",
            "cost",
            "keep-alive",
            method="POST",
            body=json.dumps({"kernel_id": kernel_id, "minutes": 120}),
        )
        assert json.loads(response.body)["kernel_id"] == kernel_id

        async def mine() -> list[dict[str, Any]]:
            body = await events(get_json, check_response)
            return [e for e in body["events"] if e.get("kernel_id") == kernel_id]

        def kept(found: list[dict[str, Any]]) -> bool:
            return any("kept alive" in e["message"] for e in found if e["state"] == "cleared")

        found = await _poll(mine, kept)
        states = [e["state"] for e in found]
        assert stretches_then(states, ["warning", "cleared"]), states
        assert "kept alive" in found[-1]["message"], found[-1]

        async def sampled() -> float:
            target = (await get_json("cost"))[1]["targets"].get(kernel_id) or {}
            return float(target.get("time", 0))

        await _poll(sampled, lambda t: t > found[-1]["time"] + 5 * 1.2)
        assert await mine() == found  # kept alive: the sampler saw it idle, nothing more
    assert await titles(hook, states.count("warning")) == [title] * states.count("warning")


@pytest.fixture
def recording(jp_server_config: Any) -> Any:
    return RecordingAuthorizer.install(jp_server_config)


async def test_events_are_authorized_reads(
    recording: Any, jp_serverapp: Any, raw_get: Any, jp_auth_header: dict[str, str]
) -> None:
    code, _ = await raw_get("jupyter-mlops/api/events")
    assert code == 403
    code, _ = await raw_get("jupyter-mlops/api/events", headers=jp_auth_header)
    assert code == 200
    assert RecordingAuthorizer.seen == [("read", "mlops:events")]
