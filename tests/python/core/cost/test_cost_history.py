"""Cost over time from the ledger (the chart's history), on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_mlops.core.cost.history import OTHER, history
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import InvalidValueError, UsageError

DAY = 86400
T0 = 1_800_000_000  # 2027-01-15 08:00 UTC, on a 4-hour boundary
NOW = T0 + 1800


def spend(
    ledger: Ledger, minute: int, amount: float, nb: str, run: str = "", project: str = "p"
) -> None:
    labels = (f"k-{nb}", run, nb, project, "ana")
    ledger.write({(minute, labels): Totals(cost_allocated=amount, cost_used=amount / 2)})


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}", retention_days=None)
    spend(ledger, T0, 1.0, "a.ipynb", run="r1")
    spend(ledger, T0 + 60, 2.0, "a.ipynb", run="r1")
    spend(ledger, T0 + 600, 4.0, "b.ipynb", run="r2", project="q")
    spend(ledger, T0 - 2 * DAY, 8.0, "a.ipynb")
    spend(ledger, T0 - 10 * DAY, 16.0, "b.ipynb")
    spend(ledger, T0 - 40 * DAY, 32.0, "b.ipynb")  # older than every range
    ledger.tag_run("r1", {"epic": "E-1"})
    return ledger


def series(body: dict[str, Any]) -> dict[str, float]:
    return {s["key"]: s["total"] for s in body["series"]}


@pytest.mark.parametrize(
    ("range_", "step", "expected"),
    [
        ("1h", 60, {"a.ipynb": 3.0, "b.ipynb": 4.0}),
        ("24h", 600, {"a.ipynb": 3.0, "b.ipynb": 4.0}),
        ("7d", 3600, {"a.ipynb": 11.0, "b.ipynb": 4.0}),
        ("30d", 14400, {"a.ipynb": 11.0, "b.ipynb": 20.0}),
    ],
)
def test_each_range_sums_what_was_booked(
    ledger: Ledger, range_: str, step: int, expected: dict[str, float]
) -> None:
    body = history(ledger, range_, "notebook", now=NOW)
    assert body["step"] == step
    assert series(body) == expected
    assert [s["key"] for s in body["series"]] == sorted(expected, key=lambda k: -expected[k])
    assert body["total"] == sum(expected.values())
    assert body["used"] == sum(expected.values()) / 2
    assert body["currency"] == "USD"
    buckets = body["buckets"]
    assert buckets[0] == body["since"] <= NOW - {"1h": 3600, "24h": DAY, "7d": 7 * DAY,
                                                 "30d": 30 * DAY}[range_]  # fmt: skip
    assert all(b % step == 0 for b in buckets)
    assert buckets[-1] <= NOW < buckets[-1] + step
    for s in body["series"]:
        assert len(s["values"]) == len(buckets)  # every bucket, zero where none
        assert sum(s["values"]) == s["total"]
    # the rollups answer what a scan of the minutes answers
    scanned = {k: t.cost_allocated for k, t in ledger.grouped("notebook", since=body["since"])}
    assert series(body) == scanned


def _by_bucket(body: dict, n: int) -> dict[int, float]:
    return dict(zip(body["buckets"], body["series"][n]["values"], strict=True))


def test_points_fall_in_their_buckets(ledger: Ledger) -> None:
    minutes = _by_bucket(history(ledger, "1h", now=NOW), 1)
    assert (minutes[T0], minutes[T0 + 60], minutes[T0 + 120]) == (1.0, 2.0, 0.0)
    tens = history(ledger, "24h", now=NOW)
    b, a = _by_bucket(tens, 0), _by_bucket(tens, 1)
    assert (a[T0], a[T0 + 600], b[T0], b[T0 + 600]) == (3.0, 0.0, 0.0, 4.0)
    week = history(ledger, "7d", now=NOW)
    hours = week["series"][0]
    two_days_ago = _by_bucket(week, 0)[T0 - 2 * DAY]
    assert (hours["key"], two_days_ago) == ("a.ipynb", 8.0)


def test_groupings_and_filters(ledger: Ledger) -> None:
    assert series(history(ledger, "24h", "tag:epic", now=NOW)) == {"E-1": 3.0, "(none)": 4.0}
    assert series(history(ledger, "30d", "tag:epic", now=NOW)) == {"E-1": 3.0, "(none)": 28.0}
    assert series(history(ledger, "7d", "project", now=NOW)) == {"p": 11.0, "q": 4.0}
    assert series(history(ledger, "1h", "run", now=NOW)) == {"r1": 3.0, "r2": 4.0}
    assert series(history(ledger, "30d", "kernel", now=NOW)) == {
        "k-a.ipynb": 11.0,
        "k-b.ipynb": 20.0,
    }
    only = history(ledger, "30d", "notebook", now=NOW, labels={"project": "q"})
    assert series(only) == {"b.ipynb": 4.0}
    empty = history(ledger, "1h", "user", now=T0 - 20 * DAY)
    assert (empty["series"], empty["total"], len(empty["buckets"])) == ([], 0.0, 61)


def test_past_the_limit_the_rest_is_one_series(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}")
    for n in range(1, 6):
        spend(ledger, T0, float(n), f"nb{n}.ipynb")
    body = history(ledger, "1h", now=NOW, limit=3)
    assert series(body) == {"nb5.ipynb": 5.0, "nb4.ipynb": 4.0, OTHER: 6.0}
    assert body["total"] == 15.0


def test_bad_range_or_grouping_says_what_works(ledger: Ledger) -> None:
    with pytest.raises(InvalidValueError, match="unknown history range '2h'") as caught:
        history(ledger, "2h")
    assert "1h, 24h, 7d, 30d" in str(caught.value.hint)
    for by in ("day", "colour", "tag:"):
        with pytest.raises(UsageError) as refused:
            history(ledger, "1h", by)
        assert refused.value.hint
