"""The compute cost routes against a real server, a real kernel and a real SQLite ledger."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.cost import Ledger, Totals

pytestmark = pytest.mark.slow

Check = Callable[[str, int, Any], None]
BURN = (
    "import time\n_end = time.process_time() + 1.0\nwhile time.process_time() < _end:\n    pass\n"
)


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'server-cost.db'}"


@pytest.fixture
def jp_server_config(jp_server_config: Any, ledger_url: str) -> Any:
    jp_server_config["MlopsConfig"]["cost_ledger_url"] = ledger_url
    jp_server_config["MlopsConfig"]["cost_interval"] = 0.5
    jp_server_config["MlopsConfig"]["cost_budgets"] = [
        {"project": "test-project", "amount": 10, "period": "week"}
    ]
    jp_server_config.MlopsExtensionApp.cost_sync_interval = 0.5
    return jp_server_config


async def _started(serverapp: Any) -> None:
    """What ``ServerApp.start_ioloop`` schedules once the loop runs (pytest-jupyter does not)."""
    await serverapp._post_start()


@contextlib.asynccontextmanager
async def _kernel(serverapp: Any, jp_fetch: Any) -> AsyncIterator[str]:
    """A real kernel started over REST (its id) on a started server, shut down at the end."""
    await _started(serverapp)
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({}))
    kernel_id = json.loads(response.body)["id"]
    try:
        yield kernel_id
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def _cost_status(get_json: Any) -> Any:
    """The body of ``GET /cost``."""
    return (await get_json("cost"))[1]


async def _refused(
    get_json: Any, check_response: Check, path: str, status: int, **params: str
) -> Any:
    """``GET path?params`` answered ``status`` with a documented error body; the body."""
    code, body = await get_json(*path.strip("/").split("/"), params=params)
    assert code == status, (path, params, body)
    check_response(path, status, body)
    return body


def _target(body: Any, kernel_id: str) -> Any:
    """The ``GET /cost`` entry of ``kernel_id`` (None before its first sample)."""
    return body["targets"].get(kernel_id)


async def _poll(get: Callable[[], Any], ok: Callable[[Any], bool], deadline: float = 60.0) -> Any:
    """Call ``get`` until ``ok(result)``; the last result (tests assert on it)."""
    end = time.monotonic() + deadline
    result = await get()
    while not ok(result) and time.monotonic() < end:
        await asyncio.sleep(0.25)
        result = await get()
    return result


async def test_cost_status_shape_before_any_kernel(jp_serverapp: Any, get_checked: Any) -> None:
    await _started(jp_serverapp)
    body = await get_checked("/cost")
    assert body["currency"] == "USD"
    assert body["pricing"]["mode"] == "per-resource"
    assert body["targets"] == {}


async def test_a_real_kernel_shows_up_with_growing_cpu(
    jp_serverapp: Any, jp_fetch: Any, get_json: Any, check_response: Check
) -> None:
    status = functools.partial(_cost_status, get_json)
    async with _kernel(jp_serverapp, jp_fetch) as kernel_id:

        def cpu(body: Any) -> float:
            target = _target(body, kernel_id)
            return -1.0 if target is None else float(target["cpu_seconds"])

        first = await _poll(status, lambda b: cpu(b) > 0 and "cost" in b["targets"][kernel_id])
        check_response("/cost", 200, first)
        target = first["targets"][kernel_id]
        assert target["kernel_id"] == kernel_id
        assert target["project"] == "test-project"
        assert target["alive"] is True
        assert target["rss_bytes"] > 0
        assert target["cost"]["currency"] == "USD"
        client = jp_serverapp.kernel_manager.get_kernel(kernel_id).blocking_client()
        client.start_channels()
        try:
            client.execute(BURN)  # sends the request, does not wait for the reply
            later = await _poll(status, lambda b: cpu(b) >= cpu(first) + 0.5)
        finally:
            client.stop_channels()
        assert cpu(later) >= cpu(first) + 0.5
    gone = await _poll(status, lambda b: kernel_id not in b["targets"])
    assert kernel_id not in gone["targets"]


def _write(url: str, rows: dict[Any, Totals], run_tags: dict[str, dict[str, str]]) -> None:
    """``rows`` (``(minute, labels) -> Totals``) and runs' tags, written with the core ledger."""
    ledger = Ledger(url)
    try:
        ledger.write(rows)
        for run_id, tags in run_tags.items():
            ledger.tag_run(run_id, tags)
    finally:
        ledger.close()


def _book(url: str) -> None:
    """Two projects' cost, an hour ago."""
    minute = int(time.time() - 3600) // 60 * 60
    cpu = {"wall_seconds": 60.0, "cpu_core_seconds": 30.0}
    _write(
        url,
        {
            (minute, ("k1", "", "a.ipynb", "churn", "ana")): Totals(**cpu, cost_allocated=2.0),
            (minute, ("k2", "", "b.ipynb", "vision", "ana")): Totals(**cpu, cost_allocated=5.0),
        },
        {},
    )


async def test_cost_report_from_the_ledger(
    jp_serverapp: Any, get_checked: Any, ledger_url: str
) -> None:
    await _started(jp_serverapp)
    _book(ledger_url)
    body = await get_checked("/cost/report", params={"by": "project", "since": "7d"})
    assert [row["project"] for row in body["rows"]][:2] == ["vision", "churn"]
    assert body["total"]["cost"] == pytest.approx(7.0)


async def test_cost_report_bad_input_is_400(
    jp_serverapp: Any, get_json: Any, check_response: Check
) -> None:
    await _started(jp_serverapp)
    for params in ({"by": "planet"}, {"since": "yesterdayish"}, {"format": "csv"}):
        await _refused(get_json, check_response, "/cost/report", 400, **params)


async def test_cost_budgets(jp_serverapp: Any, get_checked: Any) -> None:
    await _started(jp_serverapp)
    body = await get_checked("/cost/budgets")
    (budget,) = body["budgets"]
    assert budget["project"] == "test-project"
    assert budget["amount"] == 10
    assert budget["period"] == "week"


async def test_kernel_cost_is_in_the_ledger_after_the_server_stops(
    jp_serverapp: Any, jp_fetch: Any, get_json: Any, ledger_url: str
) -> None:
    status = functools.partial(_cost_status, get_json)
    async with _kernel(jp_serverapp, jp_fetch) as kernel_id:

        def sampled(body: Any) -> bool:
            target = _target(body, kernel_id)
            return target is not None and target["cpu_seconds"] > 0 and target["interval"] > 0

        assert sampled(await _poll(status, sampled))
        (app,) = jp_serverapp.extension_manager.extension_apps["jupyter_mlops"]
        await app.stop_extension()  # what a server shutdown does: the pending minutes are written
    ledger = Ledger(ledger_url)
    try:
        booked = ledger.totals(kernel_id=kernel_id)
        assert booked.wall_seconds > 0
        assert booked.cost_allocated > 0
        (row,) = ledger.labels(kernel_id=kernel_id)
        assert row["project"] == "test-project"
    finally:
        ledger.close()


async def test_kernel_cost_is_labelled_with_its_running_run(
    jp_serverapp: Any, jp_fetch: Any, get_json: Any, make_run: Callable[..., str]
) -> None:
    status = functools.partial(_cost_status, get_json)
    async with _kernel(jp_serverapp, jp_fetch) as kernel_id:
        run_id = make_run("cost", status="RUNNING", tags={"mlops.kernel_id": kernel_id})

        def run_of(body: Any) -> str | None:
            target = _target(body, kernel_id)
            return None if target is None else str(target["run_id"])

        labelled = await _poll(status, lambda b: run_of(b) == run_id)
        assert run_of(labelled) == run_id


async def test_cost_advice_for_a_real_kernel(
    jp_serverapp: Any, jp_fetch: Any, get_json: Any, check_response: Check
) -> None:
    async with _kernel(jp_serverapp, jp_fetch) as kernel_id:

        async def advice() -> tuple[int, Any]:
            return await get_json("cost", "advice", params={"kernel_id": kernel_id})

        code, body = await _poll(advice, lambda r: r[0] == 200 and r[1]["peaks"]["rss_bytes"] > 0)
        assert code == 200, body
        check_response("/cost/advice", 200, body)
        assert body["target_id"] == kernel_id
        assert body["currency"] == "USD"
        assert body["headroom"] == pytest.approx(1.2)
        assert body["machine"]["cpu_cores"] >= 1
        assert body["machine"]["memory_bytes"] >= body["peaks"]["rss_bytes"]
        assert body["current_hourly"] > 0
        assert body["peaks"]["gpus"] == 0
        assert body["lines"][0].startswith("peak use: ")
        instance = body["instance"]
        assert instance is not None  # an idle kernel fits the smallest catalogued instance
        assert instance["kind"] == "instance"
        assert instance["saving_per_hour"] >= 0


async def test_cost_advice_unknown_kernel_is_404_and_missing_is_400(
    jp_serverapp: Any, get_json: Any, check_response: Check
) -> None:
    await _started(jp_serverapp)
    await _refused(get_json, check_response, "/cost/advice", 404, kernel_id="no-such-kernel")
    await _refused(get_json, check_response, "/cost/advice", 400)


# -- GET /cost/history: cost over time from the ledger --------------------------------


def _book_history(url: str, now: float) -> tuple[int, int]:
    """Known rows of the last hour: two notebooks of the same name in two folders, one epic.

    Returns the two minutes booked (30 and 10 minutes ago).
    """
    early = int(now - 1800) // 60 * 60
    late = int(now - 600) // 60 * 60
    a = ("k1", "run-a", "a/train.ipynb", "churn", "ana")
    b = ("k2", "", "b/train.ipynb", "vision", "bo")
    _write(
        url,
        {
            (early, a): Totals(wall_seconds=60.0, cost_allocated=0.25, cost_used=0.1),
            (late, a): Totals(wall_seconds=60.0, cost_allocated=0.5, cost_used=0.2),
            (late, b): Totals(wall_seconds=60.0, cost_allocated=2.0, cost_used=2.0),
        },
        {"run-a": {"epic": "E-12"}},
    )
    return early, late


async def test_cost_history_comes_from_the_ledger_after_a_restart(
    jp_serverapp: Any, get_checked: Any, ledger_url: str, tmp_path: Path
) -> None:
    from child_python import clean_env
    from live_server import LiveServer

    # A first server on the same ledger: a notebook's kernel burns a second of CPU,
    # then the server stops (SIGTERM: its pending minutes are written).
    first = LiveServer.start(
        tmp_path / "first",
        clean_env(),
        f"c.MlopsConfig.cost_ledger_url = {ledger_url!r}\n"
        "c.MlopsConfig.cost_interval = 0.5\n"
        "c.MlopsExtensionApp.cost_sync_interval = 0.5\n",
    )
    try:
        kernel_id = first.new_session("deep/train.ipynb")
        first.execute(kernel_id, BURN + "time.sleep(1.5)\n")
    finally:
        first.stop()
    ledger = Ledger(ledger_url)
    try:
        booked = ledger.totals(kernel_id=kernel_id).cost_allocated
    finally:
        ledger.close()
    assert booked > 0
    early, late = _book_history(ledger_url, time.time())

    # This server never saw that kernel: what it answers comes from the ledger.
    await _started(jp_serverapp)
    body = await get_checked("/cost/history", params={"range": "1h", "by": "notebook"})
    assert body["range"] == "1h"
    assert body["by"] == "notebook"
    assert body["step"] == 60
    series = {s["key"]: s for s in body["series"]}
    # (The first server may book a kernel's first tick before its session names the notebook.)
    assert {"deep/train.ipynb", "a/train.ipynb", "b/train.ipynb"} <= set(series)
    assert series["deep/train.ipynb"]["total"] > 0
    assert next(s["key"] for s in body["series"]) == "b/train.ipynb"  # most expensive first
    points = dict(zip(body["buckets"], series["a/train.ipynb"]["values"], strict=True))
    assert points[early] == pytest.approx(0.25)
    assert points[late] == pytest.approx(0.5)
    assert sum(points.values()) == pytest.approx(0.75)
    assert len(series["b/train.ipynb"]["values"]) == len(body["buckets"])
    assert body["total"] == pytest.approx(booked + 2.75)
    by_kernel = await get_checked("/cost/history", params={"range": "1h", "by": "kernel"})
    assert {s["key"]: s["total"] for s in by_kernel["series"]}[kernel_id] == pytest.approx(booked)

    by_epic = await get_checked("/cost/history", params={"range": "24h", "by": "tag:epic"})
    epic = {s["key"]: s["total"] for s in by_epic["series"]}
    assert epic["E-12"] == pytest.approx(0.75)
    assert epic["(none)"] == pytest.approx(booked + 2.0)
    assert by_epic["step"] == 600


async def test_cost_history_bad_input_is_400_with_the_message(
    jp_serverapp: Any, get_json: Any, check_response: Check
) -> None:
    await _started(jp_serverapp)
    body = await _refused(get_json, check_response, "/cost/history", 400, range="2h")
    assert "'2h'" in body["message"]
    assert "1h, 24h, 7d, 30d" in body["hint"]
    for params in ({"by": "planet"}, {"by": "tag:"}, {"by": "x" * 300}, {"range": "1" * 20}):
        body = await _refused(get_json, check_response, "/cost/history", 400, **params)
        assert body["message"]


async def test_cost_history_without_a_token_is_403(
    jp_serverapp: Any, raw_get: Any, jp_auth_header: dict[str, str]
) -> None:
    await _started(jp_serverapp)
    code, body = await raw_get("jupyter-mlops/api/cost/history?range=1h")
    assert code == 403, body
    code, _ = await raw_get("jupyter-mlops/api/cost/history?range=1h", headers=jp_auth_header)
    assert code == 200


@pytest.mark.parametrize("ledger_url", ["memory"])
async def test_cost_history_without_a_ledger_is_404(
    jp_serverapp: Any, get_json: Any, check_response: Check
) -> None:
    await _started(jp_serverapp)
    body = await _refused(get_json, check_response, "/cost/history", 404)
    assert "ledger is off" in body["message"]
