"""gCO2e next to money: the vendored intensity table, region lookup, and known energy -> known grams."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from jupyter_mlops.cli.main import main
from jupyter_mlops.core.cost import Ledger, PricingModel, Totals
from jupyter_mlops.core.cost.carbon import (
    ENV_CARBON_INTENSITY,
    ENV_CARBON_REGION,
    carbon_env,
    intensity_for,
    intensity_from_env,
    resolve_intensity,
    table,
)
from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics
from jupyter_mlops.core.cost.report import build_report, render_report
from jupyter_mlops.exceptions import ConfigError

KWH = 3.6e6  # joules


@pytest.fixture(autouse=True)
def _no_carbon_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_CARBON_REGION, raising=False)
    monkeypatch.delenv(ENV_CARBON_INTENSITY, raising=False)


def test_the_table_is_dated_and_cited() -> None:
    data = table()
    src = data["source"]
    assert src["package"] == "codecarbon"
    assert src["version"] == "3.3.2"
    assert src["license"] == "MIT"
    assert src["countries_file"].endswith("global_energy_mix.json")
    assert src["cloud_file"].endswith("impact.csv")
    assert data["world_average"] == 475
    assert len(data["countries"]) > 200
    for code, entry in data["countries"].items():
        assert len(code) == 3, code
        assert code.isupper(), code
        assert entry["g_per_kwh"] >= 0, code
        assert 2000 <= entry["year"] <= 2030, code
    for key, entry in data["cloud"].items():
        assert ":" in key, key
        assert entry["country"] in data["countries"], key


def test_country_lookup_gives_codecarbons_figure_and_year() -> None:
    germany = intensity_for("deu")
    assert (germany.region, germany.name, germany.g_per_kwh, germany.year) == (
        "DEU",
        "Germany",
        380.95,
        2023,
    )
    assert germany.source == "codecarbon 3.3.2 (2023)"
    assert germany.grams(2.0) == pytest.approx(761.9)
    assert intensity_for("FRA").g_per_kwh == 56.039


def test_cloud_region_and_override() -> None:
    region = intensity_for("GCP:europe-west1")
    assert (region.region, region.g_per_kwh) == ("gcp:europe-west1", 122.0)
    assert region.name == "Belgium, gcp"
    custom = intensity_for("DEU", override=100.0)
    assert (custom.g_per_kwh, custom.source) == (100.0, "configuration")
    world = intensity_for("")
    assert (world.g_per_kwh, world.name, world.region) == (475.0, "world average", "")


@pytest.mark.parametrize("region", ["XYZ", "Germany", "aws:us-east-1", "gcp:mars-1"])
def test_unknown_region_is_a_config_error_with_a_hint(region: str) -> None:
    with pytest.raises(ConfigError) as caught:
        intensity_for(region)
    assert region in caught.value.message
    assert "carbon_intensity" in (caught.value.hint or "")


def test_bad_override_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="carbon_intensity"):
        intensity_for("", override=-5.0)


def test_resolve_logs_one_error_and_falls_back_to_the_world_average(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="jupyter_mlops.cost"):
        carbon = resolve_intensity("XYZ", 0.0)
    assert carbon.g_per_kwh == 475.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "XYZ" in errors[0].getMessage()
    assert "world average" in errors[0].getMessage()


def test_kernels_get_the_servers_setting_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert intensity_from_env().g_per_kwh == 475.0
    for name, value in carbon_env("FRA", 0.0).items():
        monkeypatch.setenv(name, value)
    assert intensity_from_env().region == "FRA"
    for name, value in carbon_env("", 42.5).items():
        monkeypatch.setenv(name, value)
    assert intensity_from_env().g_per_kwh == 42.5


def test_run_end_metrics_and_tags_for_a_known_workload() -> None:
    germany = intensity_for("DEU")
    totals = Totals(energy_j=2.5 * KWH, cost_allocated=1.0, cost_used=1.0)
    metrics = run_cost_metrics(totals, "USD", germany)
    assert metrics["energy_kwh"] == pytest.approx(2.5)
    assert metrics["co2e_g"] == pytest.approx(2.5 * 380.95)
    tags = pricing_tags(PricingModel.per_resource(), germany)
    assert tags["mlops.cost.carbon_intensity"] == "380.95"
    assert "Germany (DEU)" in tags["mlops.cost.carbon_source"]
    assert "codecarbon 3.3.2" in tags["mlops.cost.carbon_source"]


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """Two projects with known energy: churn 3 kWh (two notebooks), vision 0.5 kWh."""
    url = f"sqlite:///{tmp_path / 'carbon.db'}"
    minute = int(time.time() - 3600) // 60 * 60
    with Ledger(url) as ledger:
        ledger.write(
            {
                (minute, ("k1", "", "a.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60.0, energy_j=2.0 * KWH, cost_allocated=2.0
                ),
                (minute, ("k2", "", "b.ipynb", "churn", "ana")): Totals(
                    wall_seconds=60.0, energy_j=1.0 * KWH, cost_allocated=1.0
                ),
                (minute, ("k3", "", "c.ipynb", "vision", "bo")): Totals(
                    wall_seconds=60.0, energy_j=0.5 * KWH, cost_allocated=0.5
                ),
            }
        )
    return url


def test_report_has_grams_per_group_at_the_given_intensity(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        report = build_report(ledger, by="project", carbon=intensity_for("FRA"))
        by_notebook = build_report(ledger, by="notebook")
    grams = {r.keys[0]: r.values()["co2e_g"] for r in report.rows}
    assert grams == pytest.approx({"churn": 3 * 56.039, "vision": 0.5 * 56.039})
    data = report.to_dict()
    assert data["total"]["co2e_g"] == pytest.approx(3.5 * 56.039)
    assert data["carbon"]["region"] == "FRA"
    notebooks = {r.keys[0]: r.values()["co2e_g"] for r in by_notebook.rows}
    assert notebooks["a.ipynb"] == pytest.approx(2 * 475.0)  # no region: world average
    table_text = render_report(report, "table")
    assert "co2e_g" in table_text.splitlines()[0]
    assert "France (FRA), 56.039 gCO2e/kWh" in table_text.splitlines()[-1]


def test_cli_report_takes_a_region(capsys: pytest.CaptureFixture[str], ledger_url: str) -> None:
    args = ["cost", "report", "--ledger", ledger_url, "--format", "json"]
    assert main([*args, "--carbon-region", "gcp:europe-west1"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["total"]["co2e_g"] == pytest.approx(3.5 * 122.0)
    assert main([*args, "--carbon-region", "Atlantis"]) == 2
    err = capsys.readouterr().err
    assert "Atlantis" in err
    assert "alpha-3" in err
