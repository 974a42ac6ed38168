"""Budgets (80% / 100% once per period, across restarts) and report aggregation and formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cost_helpers import FakeClock

from jupyter_mlops.core.cost.budgets import Budget, BudgetMonitor, parse_budgets
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.report import build_report, parse_time, render_report
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import ConfigError, InvalidValueError, UsageError

DAY = 86400
MONDAY = 1_799_625_600  # 2027-01-11 00:00 UTC


def key(
    minute: float, project: str = "p", nb: str = "a.ipynb", user: str = "ana", kernel: str = "k1"
) -> tuple[int, tuple[str, str, str, str, str]]:
    return (int(minute), (kernel, "", nb, project, user))


def spend(ledger: Ledger, minute: float, amount: float, **kw: str) -> None:
    ledger.write(
        {
            key(minute, **kw): Totals(
                wall_seconds=60,
                cost_allocated=amount,
                cost_used=amount / 4,
                cpu_core_seconds=3600 * amount,
            )
        }
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'cost.db'}")


# -- budgets ------------------------------------------------------------------------


def test_budget_thresholds_fire_once_per_period(ledger: Ledger, clock: FakeClock) -> None:
    clock.now = MONDAY + 2 * DAY
    monitor = BudgetMonitor([Budget("p", 100.0, "week")], ledger, clock=clock)
    spend(ledger, MONDAY + 3600, 50)
    assert monitor.check() == []
    spend(ledger, MONDAY + DAY, 30)  # 80
    (at80,) = monitor.check()
    assert at80.threshold == 0.8
    assert at80.status.spent == pytest.approx(80)
    assert (
        at80.message() == "budget at 80% of the limit: project p: $80.00 of $100.00 this week (80%)"
    )
    assert monitor.check() == []  # once
    spend(ledger, MONDAY + DAY, 25)  # 105
    (at100,) = monitor.check()
    assert at100.threshold == 1.0
    assert "reached the limit" in at100.message()
    assert monitor.check() == []

    restarted = BudgetMonitor([Budget("p", 100.0, "week")], Ledger(ledger.url), clock=clock)
    assert restarted.check() == []  # marks are in the ledger: not said again after a restart
    kernel = BudgetMonitor([Budget("p", 100.0, "week")], ledger, consumer="kernel:k1", clock=clock)
    assert [e.threshold for e in kernel.check()] == [0.8, 1.0]  # another listener hears it once

    clock.now = MONDAY + 7 * DAY + 60  # next week: a fresh period
    assert monitor.check() == []
    spend(ledger, MONDAY + 7 * DAY, 90)
    assert [e.threshold for e in monitor.check()] == [0.8]


def test_budget_status_and_period_bounds(ledger: Ledger, clock: FakeClock) -> None:
    clock.now = MONDAY + 2 * DAY + 5
    day, week, month = Budget("p", 10, "day"), Budget("p", 10, "week"), Budget("p", 10, "month")
    assert day.period_bounds(clock.now) == (MONDAY + 2 * DAY, MONDAY + 3 * DAY)
    assert week.period_bounds(clock.now) == (MONDAY, MONDAY + 7 * DAY)
    start, end = month.period_bounds(clock.now)
    assert (end - start) == 31 * DAY  # January
    spend(ledger, MONDAY + 2 * DAY, 4)
    spend(ledger, MONDAY, 2)
    spend(ledger, MONDAY + 2 * DAY, 100, project="other")
    status = {
        s.budget.period: s for s in BudgetMonitor([day, week, month], ledger, clock=clock).status()
    }
    assert status["day"].spent == pytest.approx(4)
    assert status["week"].spent == pytest.approx(6)
    assert status["day"].to_dict()["fraction"] == pytest.approx(0.4)


def test_budgets_without_a_ledger_use_the_spend_function(clock: FakeClock) -> None:
    spent = {"p": 0.0}
    monitor = BudgetMonitor([Budget("p", 10)], spend=lambda p, since: spent[p], clock=clock)
    spent["p"] = 12
    assert [e.threshold for e in monitor.check()] == [0.8, 1.0]
    assert monitor.check() == []
    with pytest.raises(ConfigError):
        BudgetMonitor([Budget("p", 10)])


def test_parse_budgets() -> None:
    (b,) = parse_budgets([{"project": "p", "amount": 50, "period": "day"}])
    assert b == Budget("p", 50.0, "day")
    for bad in (
        {"amount": 5},
        {"project": "p", "amount": -1},
        {"project": "p", "amount": 5, "period": "year"},
    ):
        with pytest.raises(ConfigError):
            parse_budgets([bad])


# -- reports ------------------------------------------------------------------------


@pytest.fixture
def filled(ledger: Ledger) -> Ledger:
    spend(ledger, MONDAY + 3600, 1.0, project="vision", nb="train.ipynb", user="ana")
    spend(ledger, MONDAY + DAY, 2.0, project="vision", nb="eval.ipynb", user="bo", kernel="k2")
    spend(ledger, MONDAY + 8 * DAY, 4.0, project="nlp", nb="train.ipynb", user="ana", kernel="k3")
    return ledger


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("project", {"nlp": 4.0, "vision": 3.0}),
        ("notebook", {"train.ipynb": 5.0, "eval.ipynb": 2.0}),
        ("user", {"ana": 5.0, "bo": 2.0}),
        ("kernel", {"k3": 4.0, "k1": 1.0, "k2": 2.0}),
        ("day", {"2027-01-11": 1.0, "2027-01-12": 2.0, "2027-01-19": 4.0}),
        ("week", {"2027-W02": 3.0, "2027-W03": 4.0}),
    ],
)
def test_report_aggregates_by_each_dimension(
    filled: Ledger, by: str, expected: dict[str, float]
) -> None:
    report = build_report(filled, by=by, since=None, now=MONDAY + 10 * DAY)
    assert {r.key: r.totals.cost_allocated for r in report.rows} == expected
    assert report.total.totals.cost_allocated == pytest.approx(7.0)
    if by in ("day", "week"):
        assert [r.key for r in report.rows] == sorted(expected)
    else:
        costs = [r.totals.cost_allocated for r in report.rows]
        assert costs == sorted(costs, reverse=True)


def test_report_since_and_filters(filled: Ledger) -> None:
    now = MONDAY + 10 * DAY
    recent = build_report(filled, by="project", since="7d", now=now)
    assert [(r.key, r.totals.cost_allocated) for r in recent.rows] == [("nlp", 4.0)]
    dated = build_report(filled, by="project", since="2027-01-12", now=now)
    assert {r.key for r in dated.rows} == {"nlp", "vision"}
    only = build_report(filled, by="notebook", since=None, project="vision")
    assert {r.key for r in only.rows} == {"train.ipynb", "eval.ipynb"}


def test_report_formats(filled: Ledger) -> None:
    report = build_report(filled, by="project", since="30d", now=MONDAY + 10 * DAY)
    data = json.loads(render_report(report, "json"))
    assert data["by"] == "project"
    assert data["currency"] == "USD"
    assert [r["project"] for r in data["rows"]] == ["nlp", "vision"]
    assert data["rows"][0]["cost"] == 4.0
    assert data["rows"][0]["used_cost"] == 1.0
    assert data["rows"][0]["waste"] == 3.0
    assert data["rows"][0]["cpu_core_hours"] == pytest.approx(4.0)
    assert data["total"]["cost"] == 7.0
    assert data["since"].startswith("2026-12-")

    rows = list(csv.reader(io.StringIO(render_report(report, "csv"))))
    assert rows[0][:4] == ["project", "cost", "used_cost", "waste"]
    assert rows[0][-1] == "currency"
    assert [r[0] for r in rows[1:]] == ["nlp", "vision"]
    assert float(rows[1][1]) == 4.0
    assert rows[1][-1] == "USD"

    table = render_report(report, "table").splitlines()
    assert table[0].split()[:3] == ["project", "cost", "used_cost"]
    assert table[1].split()[:2] == ["nlp", "$4.00"]
    assert table[-2].split()[:2] == ["total", "$7.00"]
    assert "USD" in table[-1]
    with pytest.raises(UsageError):
        render_report(report, "xml")
    with pytest.raises(UsageError):
        build_report(filled, by="colour")


def test_empty_report_and_labels_shown_as_none(ledger: Ledger) -> None:
    empty = build_report(ledger, by="project")
    assert empty.rows == ()
    assert "total" in render_report(empty)
    ledger.write({(MONDAY, ("k", "", "", "", "")): Totals(cost_allocated=1.0)})
    assert [r.key for r in build_report(ledger, by="project", since=None).rows] == ["(none)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", 1000.0 * DAY - 7 * DAY),
        ("24h", 1000.0 * DAY - DAY),
        ("30m", 1000.0 * DAY - 1800),
        ("2w", 1000.0 * DAY - 14 * DAY),
        ("1970-01-02", float(DAY)),
        ("1970-01-02T01:00:00+01:00", float(DAY)),
        (12.5, 12.5),
        (None, None),
    ],
)
def test_parse_time(text: str | float | None, expected: float | None) -> None:
    assert parse_time(text, now=1000.0 * DAY) == expected


def test_parse_time_says_what_it_accepts() -> None:
    with pytest.raises(InvalidValueError, match="cannot read 'last tuesday'"):
        parse_time("last tuesday")


# -- cost per ticket: run tags, several groupings, precision ------------------------


@pytest.fixture
def tagged(ledger: Ledger) -> Ledger:
    """Five runs' and one run-less kernel's cost, with known epics."""
    booked = [
        ("r1", "vision", 1.0, 0),
        ("r1", "vision", 2.0, 60),
        ("r2", "vision", 4.0, 0),
        ("r3", "nlp", 8.0, 120),
        ("", "nlp", 16.0, 0),  # outside any run
        ("r4", "nlp", 32.0, 0),  # a run without an epic
    ]
    for run, project, amount, offset in booked:
        ledger.write(
            {(MONDAY + offset, (f"k-{run}", run, "a.ipynb", project, "ana")): row_of(amount)}
        )
    ledger.tag_run("r1", {"epic": "E-1", "sprint": "S7"})
    ledger.tag_run("r2", {"epic": "E-2"})
    ledger.tag_run("r3", {"epic": "E-1"})
    ledger.tag_run("r4", {"sprint": "S7"})
    ledger.tag_run("", {"epic": "ignored"})  # no run: nothing kept
    return ledger


def row_of(amount: float) -> Totals:
    return Totals(wall_seconds=60, cost_allocated=amount, cost_used=amount / 4)


def costs(report_rows: tuple[object, ...]) -> dict[object, float]:
    return {r.keys: r.totals.cost_allocated for r in report_rows}  # type: ignore[attr-defined]


def test_report_by_tag_is_cost_per_ticket(tagged: Ledger) -> None:
    report = build_report(tagged, by="tag:epic", since=None)
    assert costs(report.rows) == {("E-1",): 11.0, ("E-2",): 4.0, ("(none)",): 48.0}
    assert [r.key for r in report.rows] == ["(none)", "E-1", "E-2"]  # dearest first
    assert report.total.totals.cost_allocated == 63.0  # every row counted once
    sprint = build_report(tagged, by="tag:sprint", since=None)
    assert costs(sprint.rows) == {("S7",): 35.0, ("(none)",): 28.0}

    tagged.tag_run("r2", {"epic": "E-1"})  # re-tagged: the value is replaced, not added
    assert tagged.run_tags("r2") == {"epic": "E-1"}
    again = build_report(tagged, by="tag:epic", since=None)
    assert costs(again.rows) == {("E-1",): 15.0, ("(none)",): 48.0}


def test_report_by_project_and_tag(tagged: Ledger) -> None:
    report = build_report(tagged, by="project, tag:epic", since=None)
    assert report.groups == ("project", "tag:epic")
    assert costs(report.rows) == {
        ("vision", "E-1"): 3.0,
        ("vision", "E-2"): 4.0,
        ("nlp", "E-1"): 8.0,
        ("nlp", "(none)"): 48.0,
    }
    data = json.loads(render_report(report, "json"))
    assert data["by"] == "project,tag:epic"
    assert data["rows"][0] == {**data["rows"][0], "project": "nlp", "tag:epic": "(none)"}
    rows = list(csv.DictReader(io.StringIO(render_report(report, "csv"))))
    assert {(r["project"], r["tag:epic"]): float(r["cost"]) for r in rows} == costs(report.rows)
    table = render_report(report, "table").splitlines()
    assert table[0].split()[:3] == ["project", "tag:epic", "cost"]
    assert table[1].split()[:3] == ["nlp", "(none)", "$48.00"]
    assert table[-2].split()[:2] == ["total", "$63.00"]
    by_day = build_report(tagged, by="day,tag:epic", since=None)
    assert costs(by_day.rows) == {
        ("2027-01-11", "(none)"): 48.0,
        ("2027-01-11", "E-1"): 11.0,
        ("2027-01-11", "E-2"): 4.0,
    }


def test_bad_groupings_say_what_works(tagged: Ledger) -> None:
    for by, says in [
        ("tag:", "names no tag"),
        ("project,colour", "cannot group by 'colour'"),
        ("minute", "cannot group by 'minute'"),
        ("project,project", "named twice"),
    ]:
        with pytest.raises(UsageError, match=says) as caught:
            build_report(tagged, by=by)
        assert caught.value.hint


def test_csv_and_json_keep_full_precision_the_table_rounds(ledger: Ledger) -> None:
    ledger.write({key(MONDAY): Totals(cost_allocated=0.1), key(MONDAY + 60): row_of(0.2)})
    ledger.write({key(MONDAY, kernel="k2", project="q"): Totals(cost_allocated=0.000123456789)})
    report = build_report(ledger, by="project", since=None)
    exact = 0.1 + 0.2  # 0.30000000000000004, as SQL sums it
    rows = list(csv.DictReader(io.StringIO(render_report(report, "csv"))))
    assert [float(r["cost"]) for r in rows] == [exact, 0.000123456789]
    assert rows[0]["cost"] == repr(exact)
    data = json.loads(render_report(report, "json"))
    assert [r["cost"] for r in data["rows"]] == [exact, 0.000123456789]
    table = render_report(report, "table").splitlines()
    assert table[1].split()[:2] == ["p", "$0.30"]
    assert table[2].split()[:2] == ["q", "$0.00012"]
