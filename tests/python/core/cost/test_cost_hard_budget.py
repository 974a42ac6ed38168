"""Hard budgets: parsed strictly, refuse at or past 100% of their own project only."""

from __future__ import annotations

from pathlib import Path

import pytest
from cost_helpers import FakeClock

from jupyter_mlops.core.cost.budgets import BudgetMonitor, parse_budgets, refuse_if_hard_spent
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import ConfigError, RunStateError

MONDAY = 1_799_625_600  # 2027-01-11 00:00 UTC


def _monitor(tmp_path: Path, spent: float, *, hard: object = True) -> BudgetMonitor:
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}")
    minute = MONDAY + 3600
    ledger.write({(minute, ("k1", "", "a.ipynb", "churn", "ana")): Totals(cost_allocated=spent)})
    budgets = parse_budgets(
        [
            {"project": "churn", "amount": 10, "period": "week", "hard": hard},
            {"project": "other", "amount": 1, "period": "week", "hard": True},
        ]
    )
    return BudgetMonitor(budgets, ledger, clock=FakeClock(MONDAY + 7200))


@pytest.mark.parametrize("bad", ["yes", 1, "true", None])
def test_hard_must_be_a_boolean(bad: object) -> None:
    with pytest.raises(ConfigError, match="must be true or false"):
        parse_budgets([{"project": "churn", "amount": 10, "hard": bad}])
    assert parse_budgets([{"project": "churn", "amount": 10}])[0].hard is False


def test_a_spent_hard_budget_refuses_its_project_only(tmp_path: Path) -> None:
    monitor = _monitor(tmp_path, 10.0)  # exactly 100%: refused
    with pytest.raises(RunStateError) as info:
        refuse_if_hard_spent(monitor.status(), "churn")
    assert info.value.message == (
        "Refused: the hard budget of project churn is spent: $10.00 of $10.00 this week "
        "(100%); it resets on 2027-01-18 00:00 UTC."
    )
    assert "c.MlopsConfig.cost_budgets" in (info.value.hint or "")
    refuse_if_hard_spent(monitor.status(), "elsewhere")  # another project: no refusal
    (event, _) = [e for e in monitor.check() if e.status.budget.project == "churn"]
    assert event.to_dict()["hard"] is True


def test_below_100_percent_or_soft_is_not_refused(tmp_path: Path) -> None:
    refuse_if_hard_spent(_monitor(tmp_path / "a", 9.99).status(), "churn")
    refuse_if_hard_spent(_monitor(tmp_path / "b", 50.0, hard=False).status(), "churn")


def test_a_launch_registry_guard_refuses_schedule_firings_too(tmp_path: Path) -> None:
    from jupyter_mlops.core.pipeline.launches import LaunchRegistry
    from jupyter_mlops.core.pipeline.scheduler import registry_fire
    from jupyter_mlops.core.pipeline.schedules import Schedule

    monitor = _monitor(tmp_path, 12.0)
    registry = LaunchRegistry(tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    registry.guards.append(lambda: refuse_if_hard_spent(monitor.status(), "churn"))
    schedule = Schedule(id="s" * 32, name="nightly", path="a.ipynb", cron="@daily", timezone="UTC")
    with pytest.raises(RunStateError, match="hard budget of project churn is spent"):
        registry_fire(registry)(schedule, MONDAY + 7200)
    assert registry.list() == []  # nothing started
    assert not (tmp_path / "mlflow.db").exists()
