"""``GET /runs`` with the search box (``q``), nesting (``top_level``, ``parent``) and metric sorts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlops.core.tracking.run_listing import PARENT_TAG

pytestmark = pytest.mark.slow

N_PLAIN = 23
N_CHILDREN = 6


@pytest.fixture
def store(make_run: Callable[..., str]) -> dict[str, Any]:
    """23 plain runs with a score, a sweep parent (newest) with 6 children."""
    t0 = 1_700_000_000_000
    plain = [
        make_run(
            "search",
            name=f"run-{i:02d}",
            start_time=t0 + i * 1000,
            params={"lr": f"0.{i % 5}"},
            metrics={"score": [(i * 7) % N_PLAIN]},
            tags={"epic": "MLOPS-12" if i % 2 else "MLOPS-7"},
        )
        for i in range(N_PLAIN)
    ]
    parent = make_run("search", name="sweep", start_time=t0 + 100_000)
    children = [
        make_run(
            "search",
            name=f"trial-{i}",
            start_time=t0 + 100_001 + i,
            tags={PARENT_TAG: parent},
            metrics={"score": [100 + i]},
            status="FAILED" if i == 0 else "FINISHED",
        )
        for i in range(N_CHILDREN)
    ]
    return {"plain": plain, "parent": parent, "children": children}


async def _pages(get_json: Any, check_response: Any, **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    token = None
    while len(pages) < 50:
        code, body = await get_json(
            "runs", params={**params, **({"page_token": token} if token else {})}
        )
        assert code == 200, body
        check_response("/runs", 200, body)
        pages.append(body)
        token = body["next_page_token"]
        if not token:
            return pages
    raise AssertionError("paging does not end")


async def test_shorthand_and_mlflow_syntax(
    get_json: Any, check_response: Any, store: dict[str, Any]
) -> None:
    for q in ("lr=0.3 epic=MLOPS-12", "params.lr = '0.3' and tags.epic = 'MLOPS-12'"):
        code, body = await get_json("runs", params={"q": q, "order_by": "run_name ASC"})
        assert code == 200, body
        check_response("/runs", 200, body)
        assert [r["run_name"] for r in body["runs"]] == ["run-03", "run-13"]
    code, body = await get_json("runs", params={"q": "score>=100"})
    assert sorted(r["run_name"] for r in body["runs"]) == [f"trial-{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "params.lr = 0.3"}, "does not parse"),
        ({"q": "learning_rate=0.3"}, "learning_rate"),
        ({"q": "lr>0.3"}, "holds text"),
        ({"top_level": "maybe"}, "top_level"),
        ({"parent": "a b"}, "run id"),
        ({"top_level": "true", "best": "params.lr"}, "best must name a metric"),
    ],
)
async def test_bad_input_is_400_with_hint(
    get_json: Any, check_response: Any, store: dict[str, Any], params: dict[str, str], message: str
) -> None:
    code, body = await get_json("runs", params=params)
    assert code == 400, body
    check_response("/runs", 400, body)
    assert body["error"] == "UsageError"
    assert message in body["message"]
    if "q" in params and "top_level" not in params:
        assert "lr=0.3" in body.get("hint", "") or "params." in body.get("hint", "")


async def test_top_level_pages_sorted_by_metric_with_children(
    get_json: Any, check_response: Any, store: dict[str, Any]
) -> None:
    pages = await _pages(
        get_json, check_response, top_level="true", order_by="metrics.score DESC", max_results=5
    )
    runs = [run for page in pages for run in page["runs"]]
    assert len(runs) == N_PLAIN + 1  # every top-level run once, no child
    assert len({run["run_id"] for run in runs}) == len(runs)
    scores = [run["metrics"]["score"] for run in runs if "score" in run["metrics"]]
    assert scores == sorted(scores, reverse=True)
    summaries = {key: value for page in pages for key, value in page.get("children", {}).items()}
    assert summaries == {
        store["parent"]: {
            "count": N_CHILDREN,
            "statuses": {"FAILED": 1, "FINISHED": N_CHILDREN - 1},
            "best": {"key": "score", "value": 105.0, "run_id": store["children"][5]},
        }
    }


async def test_parent_lists_its_children(
    get_json: Any, check_response: Any, store: dict[str, Any]
) -> None:
    pages = await _pages(
        get_json,
        check_response,
        parent=store["parent"],
        order_by="metrics.score ASC",
        max_results=4,
    )
    names = [run["run_name"] for page in pages for run in page["runs"]]
    assert names == [f"trial-{i}" for i in range(N_CHILDREN)]
