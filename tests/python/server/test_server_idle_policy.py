"""The idle policy against a real server, real kernels, a real store and ledger.

GPUs come from the scripted NVML stand-in (``fake_pynvml``: no GPU here), given to
the server's cost engine through ``MlopsService.cost_sources``; the CPU rule uses
the real process sampler. Minutes are tiny (a few seconds) so the scenarios run
in seconds; the tests wait for states, never for times.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from server_helpers import stretches_then

from jupyter_mlops.core.cost import Ledger, NvmlSource, ProcessTreeSource
from jupyter_mlops.server.cost import kernel_pid
from jupyter_mlops.server.idle import ACTIVITY_SETTING
from jupyter_mlops.server.service import SERVICE_SETTING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "cost"))
from fake_pynvml import GIB, FakeNvml

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


async def _ready(kernel: Any, client: Any) -> None:
    """Until the server has seen the kernel answer (its status no longer "starting").

    The server learns "busy" from the kernel's iopub, to which it subscribes as the kernel
    starts; a request sent at once may run before that subscription reaches the kernel
    (ZeroMQ's slow joiner), and its "busy" is never seen. A kernel_info reply seen by the
    server shows the subscription works."""
    for _ in range(60):
        await client.kernel_info(reply=True, timeout=60)
        if await _until(lambda: kernel.execution_state != "starting", deadline=1.0):
            return
    raise AssertionError(f"the server never saw kernel {kernel.kernel_id} answer")


async def _execute(serverapp: Any, kernel_id: str, code: str, *, wait: bool = True) -> None:
    """Run ``code`` in the kernel: until its reply (``wait``), else until the kernel is busy."""
    kernel = serverapp.kernel_manager.get_kernel(kernel_id)
    client = kernel.client()  # the async client: waiting never blocks the server's loop
    client.start_channels()
    try:
        await _ready(kernel, client)
        msg_id = client.execute(code)
        if not wait:
            assert await _until(lambda: kernel.execution_state == "busy")
            return
        while True:
            reply = await client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == msg_id:
                assert reply["content"]["status"] == "ok", reply["content"]
                return
    finally:
        client.stop_channels()


def _log_records(serverapp: Any) -> list[logging.LogRecord]:
    """What the extension logs from now on (its logger does not propagate to caplog)."""
    (app,) = serverapp.extension_manager.extension_apps["jupyter_mlops"]
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    app.log.addHandler(handler)
    return records


async def test_an_idle_kernel_is_warned_then_shut_down_and_its_run_killed(
    jp_serverapp: Any,
    jp_fetch: Any,
    make_run: Callable[..., str],
    mlflow_store: Any,
    ledger_url: str,
    get_checked: Any,
) -> None:
    engine = await _start(jp_serverapp)
    km = jp_serverapp.kernel_manager
    kernel_id = await _new_kernel(jp_fetch)
    run_id = make_run("idle", status="RUNNING", tags={"mlops.kernel_id": kernel_id})

    assert await _until(lambda: "acted" in _states(engine, kernel_id))
    assert kernel_id not in km
    assert stretches_then(_states(engine, kernel_id), ["warning", "acted"])
    *_, warning, acted = _events(engine, kernel_id)
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
    status = await get_checked("/cost")  # actions in the documented shape
    (recent,) = [a for a in status["actions"] if a["kernel_id"] == kernel_id]
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
    jp_serverapp: Any, jp_fetch: Any, get_checked: Any, check_response: Any
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
    assert (await get_checked("/cost"))["keep_alive"] == {kernel_id: kept["until"]}

    # idle for far longer than after + grace (6 s) while kept alive: untouched
    assert not await _until(lambda: kernel_id not in km, deadline=kept["until"] - time.time() - 1)
    assert "acted" not in _states(engine, kernel_id)
    # once it expired: warned, then shut down
    assert await _until(lambda: "acted" in _states(engine, kernel_id))
    assert kernel_id not in km
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


@pytest.mark.parametrize("idle_policy", [[GPU_RULE]])
async def test_gpu_idle_kernel_is_shut_down_and_a_kernel_running_a_long_cell_never_touched(
    jp_serverapp: Any, jp_fetch: Any, make_run: Callable[..., str], mlflow_store: Any
) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", memory_gb=80, util=0)
    engine = await _start(jp_serverapp, [ProcessTreeSource(), NvmlSource(nvml)])
    km = jp_serverapp.kernel_manager
    idle, busy = await _new_kernel(jp_fetch), await _new_kernel(jp_fetch)
    await _execute(jp_serverapp, busy, "import time; time.sleep(20)", wait=False)
    pids = {kid: kernel_pid(km.get_kernel(kid)) for kid in (idle, busy)}
    gpu.processes = {pids[idle]: 2 * GIB, pids[busy]: 2 * GIB}  # both hold 2 GiB at 0%
    gpu.process_util = {pids[idle]: 0, pids[busy]: 0}
    run_id = make_run("idle", status="RUNNING", tags={"mlops.kernel_id": idle})

    assert await _until(lambda: "acted" in _states(engine, idle))
    assert idle not in km
    assert stretches_then(_states(engine, idle), ["warning", "acted"])
    *_, warning, acted = _events(engine, idle)
    assert warning["message"].startswith("Kernel of ")
    assert "has held GPU 0 idle for" in warning["message"]
    assert (warning["resource"], acted["state"]) == ("gpu", "acted")
    assert acted["avoided_per_hour"] > 1  # an H100's price per hour, about to be saved
    assert await _until(lambda: mlflow_store.client.get_run(run_id).info.status == "KILLED")
    assert mlflow_store.client.get_run(run_id).data.tags["mlops.killed_reason"] == "idle-gpu"
    # the same GPU state, but executing a cell: never warned, never touched
    assert busy in km
    assert km.get_kernel(busy).execution_state == "busy"
    assert _events(engine, busy) == []
    await jp_fetch("api", "kernels", busy, method="DELETE")


@pytest.mark.parametrize("dry_run", [True])
async def test_dry_run_reports_what_it_would_do_and_touches_nothing(
    jp_serverapp: Any, jp_fetch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await _start(jp_serverapp)
    km = jp_serverapp.kernel_manager
    kernel_id = await _new_kernel(jp_fetch)
    assert await _until(lambda: "would-act" in _states(engine, kernel_id))
    await asyncio.sleep(1.0)  # what the server would do next, had it acted
    assert kernel_id in km
    assert stretches_then(_states(engine, kernel_id), ["warning", "would-act"])
    (action,) = [a for a in engine.status()["actions"] if a["kernel_id"] == kernel_id]
    assert action["state"] == "would-act"
    assert any("idle policy (dry run)" in r.getMessage() for r in caplog.records)
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


BAD_RULE = {**CPU_RULE, "threshold_pct": -5, "action": "explode"}


@pytest.mark.parametrize("idle_policy", [[BAD_RULE]])
async def test_a_bad_rule_logs_one_error_and_only_notifies(
    jp_serverapp: Any, jp_fetch: Any
) -> None:
    records = _log_records(jp_serverapp)
    engine = await _start(jp_serverapp)
    errors = [r.getMessage() for r in records if r.levelname == "ERROR"]
    (error,) = [e for e in errors if "idle_policy" in e]
    assert "action must be notify, interrupt or shutdown, got 'explode'" in error
    assert "threshold_pct must be a number, 0 or more, got -5" in error
    assert error.endswith("this rule only notifies")
    kernel_id = await _new_kernel(jp_fetch)
    assert await _until(lambda: "warning" in _states(engine, kernel_id))
    warning = _events(engine, kernel_id)[-1]
    assert warning["action"] == "notify"
    assert "shut it down, or mark it with %mlops keep-alive" in warning["message"]
    await asyncio.sleep(CPU_RULE["grace_minutes"] * 60 + 1)  # past the grace: nothing acts
    assert kernel_id in jp_serverapp.kernel_manager
    assert stretches_then(_states(engine, kernel_id), ["warning"])
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_keep_alive_magic_in_a_real_kernel_holds_off_the_policy_until_off(
    jp_serverapp: Any, jp_fetch: Any
) -> None:
    engine = await _start(jp_serverapp)
    km = jp_serverapp.kernel_manager
    kernel_id = await _new_kernel(jp_fetch)
    await _execute(jp_serverapp, kernel_id, "%load_ext jupyter_mlops\n%mlops keep-alive --for 2h")
    assert await _until(lambda: kernel_id in engine.status()["keep_alive"])
    until = engine.status()["keep_alive"][kernel_id]
    assert until == pytest.approx(time.time() + 7200, abs=120)
    await asyncio.sleep(8)  # beyond after + grace (6 s) of idleness: kept alive
    assert kernel_id in km
    assert "acted" not in _states(engine, kernel_id)
    await _execute(jp_serverapp, kernel_id, "%mlops keep-alive --off")
    assert await _until(lambda: "acted" in _states(engine, kernel_id))
    assert kernel_id not in km


async def test_pipeline_runs_count_as_activity_and_their_kernels_are_never_touched(
    jp_serverapp: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    engine = await _start(jp_serverapp)
    cell = {
        "cell_type": "code",
        "metadata": {},
        "outputs": [],
        "execution_count": None,
        "source": "import time\ntime.sleep(12)",
    }
    nb = {
        "cells": [cell],
        "metadata": {
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (Path(jp_root_dir) / "sleepy.ipynb").write_text(json.dumps(nb))
    settings = jp_serverapp.web_app.settings
    assert ACTIVITY_SETTING not in settings
    response = await jp_fetch(
        API, "pipelines", "runs", method="POST", body=json.dumps({"path": "sleepy.ipynb"})
    )
    launch_id = json.loads(response.body)["id"]

    async def launch() -> Any:
        return json.loads((await jp_fetch(API, "pipelines", "runs", launch_id)).body)

    async def last_activity() -> str:
        return str(json.loads((await jp_fetch("api", "status")).body)["last_activity"])

    assert await _until(lambda: ACTIVITY_SETTING in settings)
    first = await last_activity()
    await asyncio.sleep(4.5)  # two feeds later, while the pipeline's kernel sleeps
    assert (await launch())["status"] == "RUNNING"
    assert await last_activity() > first
    assert settings[ACTIVITY_SETTING].isoformat().replace("+00:00", "Z")[:19] >= first[:19]
    end = time.monotonic() + 90
    while (await launch())["status"] == "RUNNING" and time.monotonic() < end:
        await asyncio.sleep(0.5)
    # its kernel idled 12 s, twice after + grace of the CPU rule: it is not this server's kernel
    assert (await launch())["status"] == "FINISHED"
    _seq, events = engine.events_since(0)
    assert [e for e in events if e["kind"] == "idle-policy"] == []


@pytest.mark.parametrize("idle_policy", [[{**CPU_RULE, "action": "interrupt"}]])
async def test_interrupt_keeps_the_kernel_and_its_run(
    jp_serverapp: Any, jp_fetch: Any, make_run: Callable[..., str], mlflow_store: Any
) -> None:
    engine = await _start(jp_serverapp)
    kernel_id = await _new_kernel(jp_fetch)
    run_id = make_run("idle", status="RUNNING", tags={"mlops.kernel_id": kernel_id})
    assert await _until(lambda: "acted" in _states(engine, kernel_id))
    acted = _events(engine, kernel_id)[-1]
    assert acted["action"] == "interrupt"
    assert ": interrupted, avoiding " in acted["message"]
    assert "torch.cuda.empty_cache()" in acted["message"]  # what to free: memory stays held
    assert kernel_id in jp_serverapp.kernel_manager
    assert mlflow_store.client.get_run(run_id).info.status == "RUNNING"
    await _execute(jp_serverapp, kernel_id, "x = 1")  # it still answers
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
