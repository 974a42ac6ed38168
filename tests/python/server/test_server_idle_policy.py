"""The idle policy against a real server, real kernels, a real store and ledger.

GPUs come from the scripted NVML stand-in (``fake_pynvml``: no GPU here), given to
the server's cost engine through ``MlopsService.cost_sources``; the CPU rule uses
the real process sampler. Minutes are tiny (a few seconds) so the scenarios run
in seconds; the tests wait for states, never for times.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.cost import Ledger
from jupyter_mlops.server.service import SERVICE_SETTING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "cost"))

pytestmark = pytest.mark.slow

API = "jupyter-mlops/api"
CPU_RULE = {
    "resource": "cpu",
    "threshold_pct": 50,
    "after_minutes": 0.05,
    "grace_minutes": 0.05,
    "action": "shutdown",
}
GPU_RULE = {**CPU_RULE, "resource": "gpu", "threshold_pct": 5}


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'idle-cost.db'}"


@pytest.fixture
def idle_policy() -> list[Any]:
    return [CPU_RULE]


@pytest.fixture
def dry_run() -> bool:
    return False


@pytest.fixture
def jp_server_config(
    jp_server_config: Any, ledger_url: str, idle_policy: list[Any], dry_run: bool
) -> Any:
    jp_server_config["MlopsConfig"]["cost_ledger_url"] = ledger_url
    jp_server_config["MlopsConfig"]["cost_interval"] = 0.25
    jp_server_config["MlopsConfig"]["idle_policy"] = idle_policy
    jp_server_config["MlopsConfig"]["idle_policy_dry_run"] = dry_run
    jp_server_config.MlopsExtensionApp.cost_sync_interval = 0.25
    return jp_server_config


def _service(serverapp: Any) -> Any:
    return serverapp.web_app.settings[SERVICE_SETTING]


async def _start(serverapp: Any, sources: list[Any] | None = None) -> Any:
    """Start the extension as the server's loop would (with these cost sources); the engine."""
    _service(serverapp).cost_sources = sources
    await serverapp._post_start()
    engine = _service(serverapp).cost
    assert engine is not None
    return engine


async def _new_kernel(jp_fetch: Any) -> str:
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({}))
    return str(json.loads(response.body)["id"])


async def _until(ok: Callable[[], bool], deadline: float = 60.0) -> bool:
    end = time.monotonic() + deadline
    while not ok() and time.monotonic() < end:
        await asyncio.sleep(0.1)
    return ok()


def _events(engine: Any, kernel_id: str) -> list[dict[str, Any]]:
    _seq, events = engine.events_since(0)
    return [e for e in events if e["kind"] == "idle-policy" and e["kernel_id"] == kernel_id]


def _states(engine: Any, kernel_id: str) -> list[str]:
    return [e["state"] for e in _events(engine, kernel_id)]


async def test_an_idle_kernel_is_warned_then_shut_down_and_its_run_killed(
    jp_serverapp: Any,
    jp_fetch: Any,
    make_run: Callable[..., str],
    mlflow_store: Any,
    ledger_url: str,
) -> None:
    engine = await _start(jp_serverapp)
    km = jp_serverapp.kernel_manager
    kernel_id = await _new_kernel(jp_fetch)
    run_id = make_run("idle", status="RUNNING", tags={"mlops.kernel_id": kernel_id})

    assert await _until(lambda: kernel_id not in km)
    assert _states(engine, kernel_id) == ["warning", "acted"]
    warning, acted = _events(engine, kernel_id)
    assert warning["resource"] == "cpu"
    assert warning["action"] == "shutdown"
    assert warning["act_at"] > warning["time"] - 1
    assert "shutting down in" in warning["message"]
    assert acted["avoided_per_hour"] >= 0
    assert acted["currency"] == "USD"
    run = mlflow_store.client.get_run(run_id)
    assert await _until(lambda: mlflow_store.client.get_run(run_id).info.status == "KILLED")
    run = mlflow_store.client.get_run(run_id)
    assert run.data.tags["mlops.killed_reason"] == "idle-cpu"
    (recent,) = [a for a in engine.status()["actions"] if a["kernel_id"] == kernel_id]
    assert recent["state"] == "acted"
    assert recent["action"] == "shutdown"
    ledger = Ledger(ledger_url)
    try:
        (row,) = [a for a in ledger.idle_actions() if a["kernel_id"] == kernel_id]
    finally:
        ledger.close()
    assert row["resource"] == "cpu"
    assert row["state"] == "acted"


async def test_keep_alive_over_rest_holds_the_policy_off_until_it_expires(
    jp_serverapp: Any, jp_fetch: Any, get_json: Any, check_response: Any
) -> None:
    engine = await _start(jp_serverapp)
    km = jp_serverapp.kernel_manager
    kernel_id = await _new_kernel(jp_fetch)
    body = json.dumps({"kernel_id": kernel_id, "minutes": 0.25})  # 15 s
    response = await jp_fetch(API, "cost", "keep-alive", method="POST", body=body)
    kept = json.loads(response.body)
    check_response("/cost/keep-alive", 200, kept, method="post")
    assert kept["kernel_id"] == kernel_id
    assert kept["until"] > time.time() + 10
    assert engine.status()["keep_alive"] == {kernel_id: kept["until"]}

    # idle for far longer than after + grace (6 s) while kept alive: untouched
    assert not await _until(lambda: kernel_id not in km, deadline=kept["until"] - time.time() - 1)
    assert "acted" not in _states(engine, kernel_id)
    # once it expired: warned, then shut down
    assert await _until(lambda: kernel_id not in km)
    assert _states(engine, kernel_id)[-2:] == ["warning", "acted"]
    assert _events(engine, kernel_id)[-2]["time"] >= kept["until"]


async def test_keep_alive_refuses_bad_requests(
    jp_serverapp: Any, jp_fetch: Any, check_response: Any
) -> None:
    await _start(jp_serverapp)
    kernel_id = await _new_kernel(jp_fetch)
    cases = [
        ({"kernel_id": "no-such-kernel", "minutes": 5}, 404),
        ({"kernel_id": kernel_id, "minutes": -1}, 400),
        ({"kernel_id": kernel_id, "minutes": "lots"}, 400),
        ({"kernel_id": kernel_id, "minutes": 10**9}, 400),
        ({"minutes": 5}, 400),
    ]
    for payload, status in cases:
        response = await jp_fetch(
            API, "cost", "keep-alive", method="POST", body=json.dumps(payload), raise_error=False
        )
        assert response.code == status, (payload, response.body)
        check_response("/cost/keep-alive", status, json.loads(response.body), method="post")
    ledger = _service(jp_serverapp).cost.ledger
    assert ledger.keep_alives() == {}  # nothing stored by a refused request
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
