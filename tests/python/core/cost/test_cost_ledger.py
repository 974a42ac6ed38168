"""The ledger on real SQLite files: restarts, dead kernels, retention, concurrent writers."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cost_helpers import Burner, FakeClock

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.ledger import Ledger, default_ledger_url
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Target
from jupyter_mlops.core.cost.sampler import Sampler
from jupyter_mlops.core.cost.sources import ProcessTreeSource
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import ConfigError, UsageError

DAY = 86400
T0 = 1_800_000_000  # 2027-01-15 08:00 UTC, a Friday


def labels(
    kernel: str = "k1", run: str = "", nb: str = "a.ipynb", project: str = "p", user: str = "ana"
) -> tuple[str, str, str, str, str]:
    return (kernel, run, nb, project, user)


def row(cost: float, cpu: float = 0.0, rss: int = 0) -> Totals:
    return Totals(
        wall_seconds=60,
        cpu_core_seconds=cpu,
        cost_allocated=cost,
        cost_used=cost / 2,
        peak_rss_bytes=rss,
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger' / 'cost.db'}"


def test_totals_survive_a_restart(url: str) -> None:
    ledger = Ledger(url)
    ledger.write({(T0, labels()): row(1.0, cpu=30, rss=100), (T0 + 60, labels()): row(2.0, rss=50)})
    ledger.write({(T0, labels()): row(0.5, cpu=10, rss=300)})  # same minute again: added up
    ledger.close()

    reopened = Ledger(url)
    totals = reopened.totals(kernel_id="k1")
    assert totals.cost_allocated == pytest.approx(3.5)
    assert totals.cost_used == pytest.approx(1.75)
    assert totals.cpu_core_seconds == pytest.approx(40)
    assert totals.wall_seconds == pytest.approx(180)
    assert totals.peak_rss_bytes == 300  # peaks take the maximum
    assert reopened.totals(kernel_id="nope").cost_allocated == 0
    assert reopened.totals(since=T0 + 60).cost_allocated == pytest.approx(2.0)
    assert reopened.totals(until=T0 + 60).cost_allocated == pytest.approx(1.5)
    assert reopened.currencies() == {"USD"}
    with pytest.raises(ValueError, match="unknown label"):
        reopened.totals(colour="red")


def test_the_update_then_insert_path_of_other_databases(url: str) -> None:
    ledger = Ledger(url)
    ledger.dialect = "generic"  # the path used where there is no ON CONFLICT
    ledger.write({(T0, labels()): row(1.0, rss=10)})
    ledger.write({(T0, labels()): row(1.0, rss=5), (T0, labels("k2")): row(4.0)})
    assert ledger.totals(kernel_id="k1").cost_allocated == pytest.approx(2.0)
    assert ledger.totals(kernel_id="k1").peak_rss_bytes == 10
    assert ledger.totals().cost_allocated == pytest.approx(6.0)


def test_a_dead_kernels_cost_is_kept(url: str, burner: Callable[[], Burner]) -> None:
    pricing = PricingModel.per_resource(rates={"cpu_core_hour": 3.6, "ram_gb_hour": 0})
    ledger = Ledger(url)
    accountant = CostAccountant(pricing, ledger, flush_interval=0)
    sampler = Sampler([ProcessTreeSource()])
    sampler.subscribe(accountant.on_snapshot)
    child = burner()
    sampler.add_target("k", Target(child.pid, kernel_id="k", project="p"))
    sampler.tick()
    child.report("burn 0.5")
    sampler.tick()
    child.stop()  # the kernel dies
    sampler.tick()
    sampler.remove_target("k")
    sampler.tick()
    accountant.close()
    ledger.close()

    restarted = Ledger(url)  # a server restart
    kept = restarted.totals(kernel_id="k")
    assert kept.cpu_core_seconds >= 0.45
    assert kept.cost_allocated == pytest.approx(3.6 * kept.cpu_core_seconds / 3600)
    again = CostAccountant(pricing, restarted)
    assert again._history("k").cost_allocated == pytest.approx(kept.cost_allocated)


def test_so_far_continues_after_a_restart(url: str, clock: FakeClock) -> None:
    """A kernel still running across a server restart keeps its earlier cost in ``so_far``."""
    pricing = PricingModel.per_resource()
    ledger = Ledger(url, clock=clock)
    ledger.write({(int(clock.now // 60 * 60) - 600, labels("k1")): row(7.0)})
    accountant = CostAccountant(pricing, ledger, clock=clock)
    sampler = Sampler([ProcessTreeSource()], clock=clock)
    sampler.subscribe(accountant.on_snapshot)
    sampler.add_target("k1", Target(os.getpid(), kernel_id="k1"))
    sampler.tick()
    clock.advance(60)
    sampler.tick()
    live = accountant.live("k1")
    assert live is not None
    assert live.so_far.cost_allocated == pytest.approx(7.0 + live.session.cost_allocated)
    assert live.to_dict()["cost_so_far"] == pytest.approx(live.so_far.cost_allocated)
    sampler.remove_target("k1")
    sampler.tick()
    assert accountant.live("k1") is None


def test_retention_purge(url: str) -> None:
    ledger = Ledger(url, retention_days=30, clock=lambda: T0 + 100 * DAY)
    ledger.write({(T0, labels()): row(1.0), (T0 + 80 * DAY, labels()): row(2.0)})
    assert ledger.purge() == 1
    assert ledger.totals().cost_allocated == pytest.approx(2.0)
    assert Ledger(url, retention_days=None).purge() == 0


def test_grouping_by_label_day_and_week(url: str) -> None:
    ledger = Ledger(url)
    ledger.write(
        {
            (T0, labels("k1", project="a")): row(1.0),
            (T0 + DAY, labels("k2", project="b")): row(2.0),
            (T0 + 4 * DAY, labels("k3", project="a")): row(4.0),  # the next Tuesday
        }
    )
    by_project = dict(ledger.grouped("project"))
    assert {k: t.cost_allocated for k, t in by_project.items()} == {"a": 5.0, "b": 2.0}
    days = ledger.grouped("day")
    assert [k % DAY for k, _ in days] == [0, 0, 0]
    assert [t.cost_allocated for _, t in days] == [1.0, 2.0, 4.0]
    weeks = ledger.grouped("week")
    assert [t.cost_allocated for _, t in weeks] == [3.0, 4.0]
    assert weeks[1][0] - weeks[0][0] == 7 * DAY
    assert ledger.labels(project="a")
    assert {r["kernel_id"] for r in ledger.labels(project="a")} == {
        "k1",
        "k3",
    }
    with pytest.raises(UsageError, match="cannot group"):
        ledger.grouped("colour")


def test_default_url_is_beside_the_project_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_COST_LEDGER", raising=False)
    monkeypatch.delenv("JUPYTER_MLOPS_ROOT_DIR", raising=False)
    store = tmp_path / "store"
    assert default_ledger_url(tmp_path, f"sqlite:///{store / 'mlflow.db'}?x=1") == (
        f"sqlite:///{store / 'mlops-cost.db'}"
    )
    # a server store, or none: the project folder
    assert default_ledger_url(tmp_path, "http://mlflow:5000") == (
        f"sqlite:///{tmp_path / 'mlops-cost.db'}"
    )
    assert default_ledger_url(str(tmp_path), "sqlite:///:memory:") == (
        f"sqlite:///{tmp_path / 'mlops-cost.db'}"
    )
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(tmp_path / "root"))
    assert default_ledger_url() == f"sqlite:///{tmp_path / 'root' / 'mlops-cost.db'}"
    monkeypatch.delenv("JUPYTER_MLOPS_ROOT_DIR")
    store.mkdir()
    monkeypatch.chdir(store)
    assert default_ledger_url() == f"sqlite:///{store / 'mlops-cost.db'}"
    # a relative store path is made absolute
    assert default_ledger_url(None, "sqlite:///sub/mlflow.db") == (
        f"sqlite:///{store / 'sub' / 'mlops-cost.db'}"
    )
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", "sqlite:///elsewhere.db")
    assert default_ledger_url(tmp_path, "sqlite:///x/mlflow.db") == "sqlite:///elsewhere.db"
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL"):
        Ledger("not a url at all")


def test_accountant_keeps_rows_when_the_ledger_fails(
    url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    Ledger(url).close()
    path = url.removeprefix("sqlite:///")
    read_only = Ledger(f"sqlite:///file:{path}?mode=ro&uri=true", clock=clock)
    accountant = CostAccountant(PricingModel.per_resource(), read_only, clock=clock)
    accountant._pending[(T0, labels())] = row(1.0)
    assert accountant.flush() is False
    assert accountant.flush() is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "cost ledger write failed" in warnings[0]
    assert accountant.totals(kernel_id="k1").cost_allocated == pytest.approx(1.0)  # kept in memory
    accountant.ledger = Ledger(url, clock=clock)  # writable again
    assert accountant.flush() is True
    assert Ledger(url).totals(kernel_id="k1").cost_allocated == pytest.approx(1.0)
