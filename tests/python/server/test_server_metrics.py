"""``GET /jupyter-mlops/metrics`` on a real server with a real kernel over a real SQLite ledger.

The ledger already holds history of two other projects; the server's counters
are loaded from it, advanced by the accountant's flushes, and must equal what
``GET /cost/report`` (build_report) says for the same ledger.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jupyter_mlops.core.cost import Ledger, Totals
from jupyter_mlops.core.cost.carbon import ENV_CARBON_INTENSITY, ENV_CARBON_REGION
from jupyter_mlops.server.service import SERVICE_SETTING

pytestmark = pytest.mark.slow

PATH = "jupyter-mlops/metrics"
Samples = dict[str, list[tuple[dict[str, str], float]]]


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """History of this minute (so in this budget week): churn and vision, 1 kWh each."""
    url = f"sqlite:///{tmp_path / 'metrics-cost.db'}"
    minute = int(time.time()) // 60 * 60
    with Ledger(url) as ledger:
        ledger.write(
            {
                (minute, ("old1", "", "a.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60, cpu_core_seconds=90, energy_j=3.6e6, cost_allocated=3.0
                ),
                (minute, ("old2", "", "v.ipynb", "vision", "bo")): Totals(
                    wall_seconds=60, gpu_seconds=60, energy_j=3.6e6, cost_allocated=2.0
                ),
            }
        )
    return url


@pytest.fixture
def jp_server_config(
    jp_server_config: Any, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> Any:
    for name in (ENV_CARBON_REGION, ENV_CARBON_INTENSITY):
        monkeypatch.setenv(name, "")  # the server exports its setting: restored after the test
    jp_server_config["MlopsConfig"]["cost_ledger_url"] = ledger_url
    jp_server_config["MlopsConfig"]["cost_interval"] = 0.5
    jp_server_config["MlopsConfig"]["carbon_region"] = "FRA"
    jp_server_config["MlopsConfig"]["cost_budgets"] = [
        {"project": "churn", "amount": 10, "period": "week"}
    ]
    jp_server_config.MlopsExtensionApp.cost_sync_interval = 0.5
    return jp_server_config


Scrape = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def scrape(http_server_client: Any, jp_base_url: str) -> Scrape:
    """``await scrape(headers)``: (status, content type, body text) of the metrics path."""

    async def _get(headers: dict[str, str] | None = None, path: str = PATH) -> tuple[int, str, str]:
        response = await http_server_client.fetch(
            jp_base_url + path, headers=headers or {}, raise_error=False
        )
        return response.code, response.headers.get("Content-Type", ""), response.body.decode()

    return _get


def parse(text: str) -> Samples:
    out: Samples = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), sample.value))
    return out


def by_project(samples: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for labels, value in samples:
        out[labels["project"]] += value
    return dict(out)


async def _poll(get: Callable[[], Awaitable[Samples]], ok: Callable[[Samples], bool]) -> Samples:
    end = time.monotonic() + 60
    result = await get()
    while not ok(result) and time.monotonic() < end:
        await asyncio.sleep(0.25)
        result = await get()
    return result


async def test_without_credentials_is_refused(jp_serverapp: Any, scrape: Scrape) -> None:
    code, _, body = await scrape()
    assert code == 403
    assert json.loads(body)["error"] == "HTTPError"
    code, _, _ = await scrape({"Authorization": "token wrong"})
    assert code == 403


def test_run_counts_group_the_stores_runs_by_status(
    make_run: Callable[..., str], mlflow_store: Any
) -> None:
    from jupyter_mlops.server.metrics_handler import run_counts

    for status in ("FINISHED", "FINISHED", "FAILED", "KILLED"):
        make_run("churn", status=status)
    make_run("vision", status="RUNNING")
    mlflow_store.client.delete_run(make_run("vision", status="FINISHED"))  # deleted: not counted
    assert run_counts(mlflow_store.client) == {
        "FINISHED": 2,
        "FAILED": 1,
        "KILLED": 1,
        "RUNNING": 1,
    }


async def test_token_scrape_parses_and_matches_cost_report(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_auth_header: dict[str, str],
    scrape: Scrape,
    make_run: Callable[..., str],
) -> None:
    for status in ("FINISHED", "FINISHED", "FAILED"):
        make_run("churn", status=status)
    await jp_serverapp._post_start()
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({}))
    kernel_id = json.loads(response.body)["id"]
    token = jp_auth_header["Authorization"].split()[1]

    async def metrics() -> Samples:
        code, ctype, text = await scrape({"Authorization": f"Bearer {token}"})
        assert code == 200
        assert ctype.startswith("text/plain")
        return parse(text)

    def ready(m: Samples) -> bool:
        kernels = [lab["kernel_id"] for lab, v in m.get("jupyter_mlops_kernel_cost", []) if v > 0]
        return (
            "jupyter_mlops_cost_total" in m and kernel_id in kernels and "jupyter_mlops_runs" in m
        )

    try:
        first = await _poll(metrics, ready)
        assert ready(first), (sorted(first), first.get("jupyter_mlops_kernel_cost_per_hour"))
        service = jp_serverapp.web_app.settings[SERVICE_SETTING]
        assert await service.run(service.cost.accountant.flush)  # the kernel's minutes are booked
        for _ in range(5):  # a report between two equal scrapes: no flush (every 10 s) in between
            code, _, before = await scrape(jp_auth_header)  # `Authorization: token <t>` works too
            assert code == 200
            _, body = await _report(jp_fetch)
            scraped = parse(before)
            if _counters(scraped) == _counters(parse((await scrape(jp_auth_header))[2])):
                break
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")

    rows = {row["project"]: row for row in body["rows"]}
    assert set(rows) == {"churn", "vision", "test-project"}
    for metric, column, scale in [
        ("jupyter_mlops_cost_total", "cost", 1.0),
        ("jupyter_mlops_cpu_core_seconds_total", "cpu_core_hours", 3600.0),
        ("jupyter_mlops_gpu_seconds_total", "gpu_hours", 3600.0),
        ("jupyter_mlops_energy_kwh_total", "energy_kwh", 1.0),
        ("jupyter_mlops_co2e_grams_total", "co2e_g", 1.0),
    ]:
        want = {p: row[column] * scale for p, row in rows.items()}
        assert by_project(scraped[metric]) == pytest.approx(want, rel=1e-9, abs=1e-12), metric
    assert rows["test-project"]["cost"] > 0  # the live kernel's flushed minutes are in both
    assert by_project(scraped["jupyter_mlops_co2e_grams_total"])["churn"] == pytest.approx(56.039)
    assert body["carbon"]["region"] == "FRA"
    ((labels, grams),) = scraped["jupyter_mlops_carbon_intensity_grams_per_kwh"]
    assert (labels["region"], grams) == ("FRA", 56.039)
    ((labels, ratio),) = scraped["jupyter_mlops_budget_usage_ratio"]
    assert labels["project"] == "churn"
    assert ratio >= 0.3  # $3 of history this week, of $10
    runs = {labels["status"]: value for labels, value in scraped["jupyter_mlops_runs"]}
    assert runs == {"FINISHED": 2, "FAILED": 1, "RUNNING": 0, "SCHEDULED": 0, "KILLED": 0}
    kernel = [
        lab for lab, _ in scraped["jupyter_mlops_kernel_idle"] if lab["kernel_id"] == kernel_id
    ]
    assert kernel[0]["project"] == "test-project"


def _counters(m: Samples) -> list[tuple[dict[str, str], float]]:
    return [s for name, samples in sorted(m.items()) if name.endswith("_total") for s in samples]


async def _report(jp_fetch: Any) -> tuple[int, Any]:
    response = await jp_fetch(
        "jupyter-mlops", "api", "cost", "report", params={"by": "project", "since": "1970-01-01"}
    )
    return response.code, json.loads(response.body)
