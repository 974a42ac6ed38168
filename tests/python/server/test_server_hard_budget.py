"""Hard budgets and spend caps over REST: a real server, a real SQLite ledger and store.

The ledger already holds this week's spend of the server's project; a hard budget
that it exceeds refuses ``POST pipelines/runs`` with 409 and nothing runs; a soft
one (the same amount) does not.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.cost import Ledger, Totals

pytestmark = pytest.mark.slow

API = "jupyter-mlops/api"
PROJECT = "test-project"  # the server's project (tests/python/conftest.py)


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """A ledger where the project spent $12 a minute ago."""
    url = f"sqlite:///{tmp_path / 'hard-budget.db'}"
    ledger = Ledger(url)
    minute = int(time.time() // 60 * 60) - 60
    try:
        ledger.write(
            {
                (minute, ("k1", "", "a.ipynb", PROJECT, "ana")): Totals(
                    wall_seconds=60, cost_allocated=12.0, cost_used=3.0, cpu_core_seconds=60.0
                )
            }
        )
    finally:
        ledger.close()
    return url


@pytest.fixture(params=[True, False], ids=["hard", "soft"])
def hard(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def jp_server_config(jp_server_config: Any, ledger_url: str, hard: bool) -> Any:
    jp_server_config["MlopsConfig"]["cost_ledger_url"] = ledger_url
    jp_server_config["MlopsConfig"]["cost_budgets"] = [
        {"project": PROJECT, "amount": 10, "period": "week", "hard": hard}
    ]
    return jp_server_config


def _notebook(path: Path) -> None:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["parameters"]},
        "outputs": [],
        "source": ["n = 1\n"],
    }
    body = {**cell, "metadata": {}, "source": ["open('ran.txt', 'w').write(str(n))\n"]}
    nb = {
        "cells": [cell, body],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


async def _launch(jp_fetch: Any, body: dict[str, Any]) -> tuple[int, Any]:
    response = await jp_fetch(
        API, "pipelines", "runs", method="POST", body=json.dumps(body), raise_error=False
    )
    return response.code, json.loads(response.body)


async def _ended(jp_fetch: Any, launch_id: str) -> Any:
    deadline = time.monotonic() + 180  # a safety net, not a timing assertion
    while True:
        response = await jp_fetch(API, "pipelines", "runs", launch_id, method="GET")
        launch = json.loads(response.body)
        if launch["status"] in ("FINISHED", "FAILED", "KILLED"):
            return launch
        assert time.monotonic() < deadline, launch
        await asyncio.sleep(0.5)


async def test_a_spent_hard_budget_refuses_a_launch_and_a_soft_one_does_not(
    jp_serverapp: Any, jp_fetch: Any, jp_root_dir: Path, mlflow_store: Any, hard: bool
) -> None:
    await jp_serverapp._post_start()  # starts the cost engine, as the server's loop would
    root = Path(jp_root_dir)
    _notebook(root / "train.ipynb")
    status, body = await _launch(jp_fetch, {"path": "train.ipynb", "max_cost": 100})
    if hard:
        assert status == 409, body
        assert body["message"] == (
            f"Refused: the hard budget of project {PROJECT} is spent: $12.00 of $10.00 this "
            f"week (120%); it resets on {_next_monday()} 00:00 UTC."
        )
        assert "c.MlopsConfig.cost_budgets" in body["hint"]
        assert not (root / "ran.txt").exists()
        assert (
            mlflow_store.client.search_runs(
                [e.experiment_id for e in mlflow_store.client.search_experiments()]
            )
            == []
        )
        return
    assert status == 202, body
    assert body["max_cost"] == 100
    assert body["estimate"]["message"] == "no history for train.ipynb: no estimate"
    launch = await _ended(jp_fetch, body["id"])
    assert launch["status"] == "FINISHED", launch
    assert (root / "ran.txt").read_text() == "1"


async def test_a_bad_max_cost_is_a_400(jp_fetch: Any, jp_root_dir: Path, hard: bool) -> None:
    _notebook(Path(jp_root_dir) / "train.ipynb")
    status, body = await _launch(jp_fetch, {"path": "train.ipynb", "max_cost": -1})
    assert status == 400, body
    assert "max_cost must be a positive amount" in body["message"]


def _next_monday() -> str:
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    return str(today + dt.timedelta(days=7 - today.weekday()))
