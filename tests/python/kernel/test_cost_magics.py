"""``%mlops cost``, ``%%mlops track`` and the budget warnings, in a real IPython shell."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from mlflow import MlflowClient

from jupyter_mlops.core.cost import Ledger, Totals
from jupyter_mlops.kernel import api, cost_budget
from jupyter_mlops.kernel.cost_magics import format_duration
from jupyter_mlops.kernel.magics import MlopsMagicError

BURN = (
    "import time\n"
    "_end = time.process_time() + 0.3\n"
    "while time.process_time() < _end:\n"
    "    pass\n"
    "_blob = bytearray(64 << 20)\n"
)


def test_cost_prints_this_kernels_use_and_cost(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("mlops", "cost")
    out = capsys.readouterr().out
    assert out.startswith("Kernel up ")
    assert "CPU " in out
    assert "GiB now" in out
    assert "Cost so far: " in out
    assert ":per-resource:USD" in out


def test_cost_and_track_have_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("mlops", "--help")
    out = capsys.readouterr().out
    assert "cost" in out
    assert "%%mlops track" in out
    ip.run_line_magic("mlops", "track --help")
    assert "peak memory" in capsys.readouterr().out


def test_track_reports_the_cell(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_cell_magic("mlops", "track", BURN)
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("wall ")
    for part in ("CPU ", "GPU ", "peak memory "):
        assert part in out
    # a third of a CPU second is under a hundredth of a cent: the one money format says so
    assert re.search(r"cost (<\$0\.0001|\$[0-9.,]+)$", out), out
    assert ip.user_ns["_blob"] is not None  # the cell ran in the user's namespace
    peak = float(out.split("peak memory ")[1].split(" GiB")[0])
    assert peak >= 0.06  # 64 MiB were held at the end of the cell


def test_track_logs_to_the_active_run(
    ip: InteractiveShell, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    info = api.start_run(experiment="track")
    try:
        ip.run_cell_magic("mlops", "track", BURN)
    finally:
        api.end_run()
    metrics = MlflowClient(store).get_run(info.run_id).data.metrics
    assert set(metrics) == {
        "cell/wall_seconds",
        "cell/cpu_seconds",
        "cell/gpu_seconds",
        "cell/peak_rss_gb",
        "cell/cost_usd",
    }
    assert metrics["cell/cpu_seconds"] >= 0.2
    assert metrics["cell/wall_seconds"] >= metrics["cell/cpu_seconds"] * 0.5
    assert metrics["cell/cost_usd"] > 0


def test_track_of_a_failing_cell_fails(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(MlopsMagicError, match="ZeroDivisionError"):
        ip.run_cell_magic("mlops", "track", "1 / 0")
    assert "wall " in capsys.readouterr().out  # still measured and reported
    with pytest.raises(MlopsMagicError, match="empty"):
        ip.run_cell_magic("mlops", "track", "  \n")


def test_format_duration() -> None:
    assert format_duration(0.4) == "0.40 s"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(245) == "4 min 05 s"
    assert format_duration(7380) == "2 h 03 min"


def test_budget_warning_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    ledger = Ledger(url)
    minute = int(time.time()) // 60 * 60
    ledger.write({(minute, ("k", "", "a.ipynb", "p", "ana")): Totals(cost_allocated=9.0)})
    ledger.close()
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", url)
    monkeypatch.setenv(
        "JUPYTER_MLOPS_COST_BUDGETS", json.dumps([{"project": "p", "amount": 10, "period": "day"}])
    )
    cost_budget.announce_budgets(force=True)
    err = capsys.readouterr().err
    assert err.count("Warning: budget at 80% of the limit: project p: $9.00 of $10.00") == 1
    cost_budget.announce_budgets(force=True)
    assert capsys.readouterr().err == ""  # once per period and kernel


def test_budget_check_without_budgets_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", f"sqlite:///{tmp_path / 'none.db'}")
    assert cost_budget.budget_warnings() == []
    monkeypatch.setenv("JUPYTER_MLOPS_COST_BUDGETS", json.dumps([{"project": "p", "amount": 1}]))
    assert cost_budget.budget_warnings() == []  # no ledger yet: nothing to warn about
    assert not (tmp_path / "none.db").exists()


def test_cost_advice_prints_one_sentence(
    ip: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip.run_line_magic("mlops", "cost --advice")
    out = capsys.readouterr().out.strip()
    line = out.splitlines()[0]
    assert line.startswith("peak RAM ")
    assert " GiB of " in line
    assert "CPU average " in line
    assert " cores of " in line
    assert "no GPU used" in line or "GPU memory peak" in line
    assert "cheapest fitting: " in line or "no catalogued instance fits" in line
    assert "Kernel up" not in out  # only the advice


def test_cost_advice_has_help(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
    ip.run_line_magic("mlops", "cost --help")
    out = capsys.readouterr().out
    assert "--advice" in out
    assert "%mlops cost --advice" in out
