"""``jupyter mlops cost report`` against a real SQLite ledger written with the core ``Ledger``."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest

from jupyter_mlops.cli.main import COMMANDS, main
from jupyter_mlops.core.cost import Ledger, Totals


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """Three kernels' cost in two projects: two an hour ago, one ten days ago."""
    url = f"sqlite:///{tmp_path / 'cost.db'}"
    now = time.time()
    recent = int(now - 3600) // 60 * 60
    old = int(now - 10 * 86400) // 60 * 60
    ledger = Ledger(url)
    try:
        ledger.write(
            {
                (recent, ("k1", "", "a.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60.0, cpu_core_seconds=3600.0, cost_allocated=2.0, cost_used=1.5
                ),
                (recent, ("k2", "", "b.ipynb", "vision", "bo")): Totals(
                    wall_seconds=60.0, cpu_core_seconds=1800.0, cost_allocated=5.0, cost_used=5.0
                ),
                (old, ("k3", "", "c.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60.0, cost_allocated=100.0, cost_used=100.0
                ),
            }
        )
    finally:
        ledger.close()
    return url


def test_cost_group_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert "report" in COMMANDS["cost"].children
    code, out, _ = run_cli(capsys, "cost", "report", "--help")
    assert code == 0
    for word in ("--by", "--since", "--format", "--ledger", "week"):
        assert word in out


def test_report_json_by_project(capsys: pytest.CaptureFixture[str], ledger_url: str) -> None:
    code, out, err = run_cli(
        capsys, "cost", "report", "--ledger", ledger_url, "--by", "project", "--format", "json"
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["by"] == "project"
    assert [(r["project"], r["cost"]) for r in body["rows"]] == [("vision", 5.0), ("churn", 2.0)]
    assert body["total"]["cost"] == pytest.approx(7.0)  # the old row is before --since 7d
    assert body["rows"][1]["waste"] == pytest.approx(0.5)
    assert body["rows"][1]["cpu_core_hours"] == pytest.approx(1.0)


def test_report_csv_and_table(capsys: pytest.CaptureFixture[str], ledger_url: str) -> None:
    code, out, err = run_cli(
        capsys, "cost", "report", "--ledger", ledger_url, "--by", "user", "--since", "30d",
        "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["user"]: float(r["cost"]) for r in rows} == {"ana": 102.0, "bo": 5.0}
    code, out, err = run_cli(capsys, "cost", "report", "--ledger", ledger_url, "--by", "day")
    assert code == 0, err
    assert out.splitlines()[0].split()[0] == "day"
    assert "total" in out
    assert "USD" in out


def test_report_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, ledger_url: str) -> None:
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    code, _, err = run_cli(capsys, "cost", "report", "--ledger", missing)
    assert code == 1
    assert "No cost ledger" in err
    assert not (tmp_path / "none.db").exists()
    code, _, err = run_cli(capsys, "cost", "report", "--ledger", ledger_url, "--since", "soon")
    assert code == 2
    assert "cannot read" in err
    code, _, _ = run_cli(capsys, "cost", "report", "--by", "planet")
    assert code == 2
