"""The ledger's rollups: written with the minutes, backfilled once, purged with them.

Real SQLite files; several real processes opening a brand-new or an old ledger
at the same moment.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.totals import Totals

DAY = 86400
T0 = 1_800_000_000  # on an hour boundary


def labels(kernel: str, run: str = "") -> tuple[str, str, str, str, str]:
    return (kernel, run, f"{kernel}.ipynb", "p", "ana")


def minutes_by(ledger: Ledger, size: int) -> dict[tuple[int, str], tuple[float, float, int]]:
    """Cost, CPU and peak RSS per (bucket, row key), summed from the minute rows."""
    t = ledger.minutes
    bucket = t.c.minute - t.c.minute % size
    stmt = sa.select(
        bucket,
        t.c.key,
        sa.func.sum(t.c.cost_allocated),
        sa.func.sum(t.c.cpu_core_seconds),
        sa.func.max(t.c.peak_rss_bytes),
    ).group_by(bucket, t.c.key)
    with ledger.engine.connect() as conn:
        return {(int(r[0]), r[1]): (r[2], r[3], r[4]) for r in conn.execute(stmt)}


def rollup(ledger: Ledger, size: int) -> dict[tuple[int, str], tuple[float, float, int]]:
    (table,) = [t for s, t in ledger.schema.rollups if s == size]
    stmt = sa.select(
        table.c.bucket, table.c.key, table.c.cost_allocated, table.c.cpu_core_seconds,
        table.c.peak_rss_bytes,
    )  # fmt: skip
    with ledger.engine.connect() as conn:
        return {(int(r[0]), r[1]): (r[2], r[3], r[4]) for r in conn.execute(stmt)}


def assert_rollups_match(ledger: Ledger) -> None:
    for size, _table in ledger.schema.rollups:
        want = minutes_by(ledger, size)
        got = rollup(ledger, size)
        assert got.keys() == want.keys()
        for key, (cost, cpu, rss) in want.items():
            assert got[key][0] == pytest.approx(cost, rel=1e-12)
            assert got[key][1] == pytest.approx(cpu, rel=1e-12)
            assert got[key][2] == rss


def fill(ledger: Ledger) -> None:
    for m in range(0, 150, 7):  # crosses 10-minute and hour boundaries
        ledger.write(
            {
                (T0 + 60 * m, labels("k1")): Totals(cost_allocated=0.1, cpu_core_seconds=m, peak_rss_bytes=m),
                (T0 + 60 * m, labels("k2", "r")): Totals(cost_allocated=0.3, peak_rss_bytes=7),
            }
        )  # fmt: skip


def make_old(path: Path) -> None:
    """Make the ledger at ``path`` look like one written before the rollups existed."""
    with sqlite3.connect(path) as db:
        for table in ("cost_10min", "cost_hours", "cost_4hours", "cost_meta", "cost_run_tags"):
            db.execute(f"DROP TABLE {table}")


@pytest.mark.parametrize("dialect", ["sqlite", "generic"])
def test_rollups_are_written_with_the_minutes(tmp_path: Path, dialect: str) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}")
    ledger.dialect = dialect  # "generic": the update-then-insert path of other databases
    fill(ledger)
    fill(ledger)  # every minute again: added up in the rollups as in the minutes
    assert_rollups_match(ledger)
    hour = rollup(ledger, 3600)
    k1 = [v for (b, _k), v in hour.items() if b == T0]
    assert sorted(round(v[0], 9) for v in k1) == [1.8, 5.4]  # 9 minutes of each, twice


def test_an_old_ledger_is_backfilled_once(tmp_path: Path) -> None:
    path = tmp_path / "cost.db"
    url = f"sqlite:///{path}"
    fill(Ledger(url))
    make_old(path)
    ledger = Ledger(url)  # opened by the new version: backfilled
    assert_rollups_match(ledger)
    before = rollup(ledger, 3600)
    assert sum(v[0] for v in before.values()) == pytest.approx(22 * 0.4)
    assert rollup(Ledger(url), 3600) == before  # opened again: not counted twice
    fill(ledger)
    assert_rollups_match(ledger)


OPENER = textwrap.dedent(
    """
    import sys, time
    from jupyter_mlops.core.cost.ledger import Ledger, Totals
    url, me, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))  # every process opens at the same moment
    ledger = Ledger(url)
    for i in range(15):
        shared = ("shared", "", "s.ipynb", "p", "u")
        own = (me, "", me, "p", "u")
        ledger.write({(1800000000 + 60 * (i % 4), shared): Totals(cost_allocated=1.0),
                      (1800000000 + 600 * (i % 7), own): Totals(cost_allocated=0.5)})
    print("ok")
    """
)


@pytest.mark.parametrize("start", ["brand-new", "old", "current"])
def test_processes_opening_at_once_count_everything_once(
    tmp_path: Path, child_env: dict[str, str], start: str
) -> None:
    path = tmp_path / "cost.db"
    url = f"sqlite:///{path}"
    if start != "brand-new":
        fill(Ledger(url))
    if start == "old":  # written before the rollups: each is backfilled once
        make_old(path)
    at = time.time() + 2.0  # after every child has imported SQLAlchemy
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, f"w{n}", str(at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env,
        )
        for n in range(4)
    ]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert out.strip() == "ok"
    ledger = Ledger(url)
    assert ledger.totals(kernel_id="shared").cost_allocated == 60.0
    for n in range(4):
        assert ledger.totals(kernel_id=f"w{n}").cost_allocated == 7.5
    before = 0.0 if start == "brand-new" else 22 * 0.4
    assert ledger.totals().cost_allocated == pytest.approx(90.0 + before)
    assert_rollups_match(ledger)
    with ledger.engine.connect() as conn:
        marks: Any = conn.execute(sa.select(ledger.schema.migrations.c.name)).all()
    assert sorted(m[0] for m in marks) == [
        "backfill:cost_10min",
        "backfill:cost_4hours",
        "backfill:cost_hours",
    ]  # one each, whoever made it


def test_purge_takes_the_rollups_and_stale_tags_too(tmp_path: Path) -> None:
    now = T0 + 100 * DAY
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}", retention_days=30, clock=lambda: T0)
    hour = now - 30 * DAY  # 08:00 (on 4 hours); 30 days before now + 20 minutes: cut here
    ledger.write(
        {
            (T0, labels("old", "r-old")): Totals(cost_allocated=1.0),
            (hour - 600, labels("edge")): Totals(cost_allocated=2.0),  # 07:50: goes
            (hour + 600, labels("edge")): Totals(cost_allocated=4.0),  # 08:10: kept with its hour
            (hour + 3600, labels("new", "r-new")): Totals(cost_allocated=8.0),
        }
    )
    ledger.tag_run("r-old", {"epic": "E-1"})
    ledger.tag_run("r-new", {"epic": "E-2"})
    ledger.tag_run("r-later", {"epic": "E-3"})  # a run with no cost yet
    ledger.clock = lambda: now
    ledger.tag_run("r-later", {"epic": "E-3"})
    assert ledger.purge(now=now + 1200) == 2
    assert ledger.totals().cost_allocated == 12.0
    assert_rollups_match(ledger)
    assert sum(v[0] for v in rollup(ledger, 3600).values()) == 12.0
    assert ledger.run_tags("r-old") == {}
    assert ledger.run_tags("r-new") == {"epic": "E-2"}
    assert ledger.run_tags("r-later") == {"epic": "E-3"}


def test_tags_are_capped_and_replaced(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}")
    ledger.tag_run("r", {"epic": "x" * 400, "k" * 300: "v"})
    tags = ledger.run_tags("r")
    assert tags == {"epic": "x" * 250, "k" * 250: "v"}
    ledger.tag_run("r", {"epic": "E-2"})
    assert ledger.run_tags("r")["epic"] == "E-2"
    ledger.tag_run("", {"epic": "E"})
    assert ledger.run_tags("") == {}
