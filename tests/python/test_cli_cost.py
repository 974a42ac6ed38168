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
    for word in ("--by", "--since", "--format", "--ledger", "week", "tag:KEY", "--root-dir"):
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
    code, _, err = run_cli(capsys, "cost", "report", "--by", "planet")
    assert code == 2
    assert "cannot group by 'planet'" in err
    assert "tag:KEY" in err  # the hint says what works


def test_report_by_tag_and_by_project_and_tag(
    capsys: pytest.CaptureFixture[str], ledger_url: str
) -> None:
    ledger = Ledger(ledger_url)
    try:
        minute = int(time.time() - 7200) // 60 * 60
        ledger.write(
            {
                (minute, ("k4", "r1", "d.ipynb", "churn", "ana")): Totals(cost_allocated=0.25),
                (minute, ("k5", "r2", "d.ipynb", "vision", "ana")): Totals(cost_allocated=0.5),
            }
        )
        ledger.tag_run("r1", {"epic": "E-7"})
        ledger.tag_run("r2", {"epic": "E-7"})
    finally:
        ledger.close()
    code, out, err = run_cli(
        capsys, "cost", "report", "--ledger", ledger_url, "--by", "tag:epic", "--format", "json"
    )
    assert code == 0, err
    assert {r["tag:epic"]: r["cost"] for r in json.loads(out)["rows"]} == {
        "E-7": 0.75,
        "(none)": 7.0,
    }
    code, out, err = run_cli(
        capsys, "cost", "report", "--ledger", ledger_url, "--by", "project,tag:epic",
        "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    rows = {
        (r["project"], r["tag:epic"]): float(r["cost"]) for r in csv.DictReader(io.StringIO(out))
    }
    assert rows == {
        ("vision", "(none)"): 5.0,
        ("churn", "(none)"): 2.0,
        ("vision", "E-7"): 0.5,
        ("churn", "E-7"): 0.25,
    }
    code, out, err = run_cli(capsys, "cost", "report", "--ledger", ledger_url, "--by", "tag:epic")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["tag:epic", "cost"]
    assert lines[1].split()[:2] == ["(none)", "$7.00"]
    assert lines[2].split()[:2] == ["E-7", "$0.75"]


def test_the_default_ledger_is_the_projects(
    capsys: pytest.CaptureFixture[str],
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("JUPYTER_MLOPS_COST_LEDGER", "MLFLOW_TRACKING_URI", "JUPYTER_MLOPS_ROOT_DIR"):
        monkeypatch.delenv(name, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    code, _, err = run_cli(capsys, "cost", "report", "--root-dir", str(project))
    assert code == 1
    assert f"No cost ledger at {project / 'mlops-cost.db'}" in err
    assert "--ledger URL" in err
    assert not (project / "mlops-cost.db").exists()  # reading creates nothing

    Path(ledger_url.removeprefix("sqlite:///")).rename(project / "mlops-cost.db")
    code, out, err = run_cli(
        capsys, "cost", "report", "--root-dir", str(project), "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["total"]["cost"] == pytest.approx(7.0)
    monkeypatch.chdir(project)  # the current folder is the default root
    code, out, err = run_cli(capsys, "cost", "report", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["total"]["cost"] == pytest.approx(7.0)
    # beside a store named by --tracking-uri: another folder, no ledger there
    store = tmp_path / "store" / "mlflow.db"
    code, _, err = run_cli(capsys, "cost", "report", "--tracking-uri", f"sqlite:///{store}")
    assert code == 1
    assert str(store.parent / "mlops-cost.db") in err
