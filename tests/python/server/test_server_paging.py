"""Server-side paging and sorting over a store of 250 runs (shared by this module, read only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow

N_RUNS = 250


@pytest.fixture(scope="module")
def big_store(
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[..., Any],
    add_run: Callable[..., str],
) -> Any:
    store = new_store(tmp_path_factory.mktemp("big-store"))
    for i in range(N_RUNS):
        add_run(
            store.client,
            "big",
            name=f"run-{i:03d}",
            params={"i": str(i)},
            metrics={"score": [(i * 37) % N_RUNS]},
            status="FAILED" if i % 10 == 0 else "FINISHED",
            start_time=1_700_000_000_000 + i * 1000,
        )
    return store


@pytest.fixture
def mlops_tracking_uri(big_store: Any) -> str:
    return big_store.uri


async def _all_pages(get_json: Any, **params: Any) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    token = None
    while True:
        query = {**params, **({"page_token": token} if token else {})}
        code, body = await get_json("runs", params=query)
        assert code == 200, body
        pages.append(body["runs"])
        token = body["next_page_token"]
        if token is None:
            return pages
        assert len(pages) <= N_RUNS, "paging does not end"


async def test_pages_cover_every_run_once(get_json: Any) -> None:
    pages = await _all_pages(get_json, max_results=100)
    assert [len(page) for page in pages] == [100, 100, 50]
    names = [run["run_name"] for page in pages for run in page]
    assert names == [f"run-{i:03d}" for i in reversed(range(N_RUNS))]


async def test_default_page_is_100(get_json: Any) -> None:
    code, body = await get_json("runs")
    assert code == 200
    assert len(body["runs"]) == 100
    assert body["next_page_token"]


async def test_order_by_metric_across_pages(get_json: Any) -> None:
    pages = await _all_pages(get_json, max_results=90, order_by="metrics.score DESC")
    scores = [run["metrics"]["score"] for page in pages for run in page]
    assert scores == sorted(scores, reverse=True)
    assert len(scores) == N_RUNS


async def test_status_filter_with_paging(get_json: Any) -> None:
    pages = await _all_pages(get_json, max_results=10, status="FAILED", order_by="run_name ASC")
    names = [run["run_name"] for page in pages for run in page]
    assert names == [f"run-{i:03d}" for i in range(0, N_RUNS, 10)]
    assert all(run["status"] == "FAILED" for page in pages for run in page)


async def test_search_with_paging(get_json: Any) -> None:
    pages = await _all_pages(get_json, max_results=40, search="RUN-1", order_by="start_time ASC")
    names = [run["run_name"] for page in pages for run in page]
    assert names == [f"run-{i:03d}" for i in range(100, 200)]
