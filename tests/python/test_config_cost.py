"""The ``cost_*`` options of ``MlopsConfig`` and the ``CostSettings`` they make."""

from __future__ import annotations

import json

import pytest

from jupyter_mlops.config import MlopsConfig, cost_settings
from jupyter_mlops.exceptions import ConfigError


def test_defaults_and_help() -> None:
    config = MlopsConfig()
    settings = cost_settings(config)
    assert settings.interval == 1.0
    assert settings.pricing_mode == "per-resource"
    assert list(settings.budgets) == []
    for name in MlopsConfig.class_trait_names(config=True):
        if name.startswith("cost_"):
            assert len(MlopsConfig.class_traits()[name].help) > 20, name


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_COST_LEDGER", "sqlite:////tmp/x.db")
    monkeypatch.setenv("JUPYTER_MLOPS_COST_CATALOGUE", "/etc/prices.yaml")
    budgets = [{"project": "p", "amount": 5, "period": "day"}]
    monkeypatch.setenv("JUPYTER_MLOPS_COST_BUDGETS", json.dumps(budgets))
    settings = cost_settings(MlopsConfig())
    assert settings.ledger_url == "sqlite:////tmp/x.db"
    assert settings.catalogue_file == "/etc/prices.yaml"
    assert list(settings.budgets) == budgets
    monkeypatch.setenv("JUPYTER_MLOPS_COST_BUDGETS", "{not json")
    with pytest.raises(ConfigError, match="JUPYTER_MLOPS_COST_BUDGETS"):
        _ = MlopsConfig().cost_budgets


def test_configured_values_map_one_to_one() -> None:
    config = MlopsConfig(
        cost_interval=0.5,
        cost_pricing_mode="instance",
        cost_instance_hourly=2.0,
        cost_currency="EUR",
        cost_currency_factor=0.9,
        cost_idle_gpu_util_pct=3.0,
        cost_idle_gpu_minutes=5.0,
        cost_budgets=[{"project": "p", "amount": 10}],
    )
    settings = cost_settings(config)
    assert (settings.interval, settings.pricing_mode, settings.instance_hourly) == (
        0.5,
        "instance",
        2.0,
    )
    assert (settings.currency, settings.currency_factor) == ("EUR", 0.9)
    assert (settings.idle_util_pct, settings.idle_minutes) == (3.0, 5.0)
    from jupyter_mlops.core.cost import build_pricing

    assert build_pricing(settings).currency == "EUR"
