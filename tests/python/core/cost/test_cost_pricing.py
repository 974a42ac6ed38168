"""The catalogue (packaged, dated, overridable) and the pricing formulas."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_mlops.core.cost.catalogue import Catalogue, normalize_gpu_name
from jupyter_mlops.core.cost.metrics import pricing_tags, run_cost_metrics, system_metrics
from jupyter_mlops.core.cost.pricing import Cost, PricingModel, machine_instance
from jupyter_mlops.core.cost.records import Target, TargetGpu, TargetSample
from jupyter_mlops.core.cost.totals import Totals
from jupyter_mlops.exceptions import ConfigError

GIB = 1 << 30


def sample(
    *,
    interval: float = 3600.0,
    cpu: float = 0.0,
    rss_gb: float = 0.0,
    gpus: tuple[TargetGpu, ...] = (),
    cores: float | None = None,
) -> TargetSample:
    return TargetSample(
        target_id="k",
        target=Target(1, kernel_id="k", cpu_cores=cores),
        time=1e9,
        interval=interval,
        alive=True,
        cpu_seconds=cpu,
        cpu_delta=cpu,
        cpu_percent=100 * cpu / interval if interval else 0.0,
        rss_bytes=int(rss_gb * GIB),
        num_processes=1,
        gpus=gpus,
    )


def h100(util: float | None, mem_gb: float = 10, energy_j: float = 0.0) -> TargetGpu:
    return TargetGpu(
        key="0",
        index=0,
        model="NVIDIA H100 80GB HBM3",
        mem_bytes=int(mem_gb * GIB),
        util_pct=util,
        device_util_pct=util,
        power_w=None,
        energy_j=energy_j,
        memory_total=80 * GIB,
    )


def test_packaged_catalogue_is_dated_and_complete() -> None:
    cat = Catalogue.load()
    assert cat.as_of.startswith("2026-11")
    assert cat.currency == "USD"
    assert cat.label == "catalogue-2026-11"
    assert cat.notes
    assert cat.sources
    for key in (
        "H100-80GB",
        "H200-141GB",
        "A100-40GB",
        "A100-80GB",
        "L4-24GB",
        "T4-16GB",
        "A10G-24GB",
    ):
        assert cat.gpus[key].hourly > 0
    assert any(i.gpus == 0 for i in cat.instances.values())
    assert all(i.gpu in cat.gpus for i in cat.instances.values() if i.gpus)


@pytest.mark.parametrize(
    ("name", "memory_gb", "key"),
    [
        ("NVIDIA H100 80GB HBM3", 80, "H100-80GB"),
        ("NVIDIA H100 PCIe", 80, "H100-80GB"),
        ("NVIDIA H200", 141, "H200-141GB"),
        ("NVIDIA A100-SXM4-40GB", 40, "A100-40GB"),
        ("NVIDIA A100-SXM4-80GB", 80, "A100-80GB"),
        ("NVIDIA A100 80GB PCIe", 80, "A100-80GB"),
        ("NVIDIA A100-PCIE-40GB", None, "A100-40GB"),
        ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", 5, "A100-40GB"),
        ("NVIDIA L4", 24, "L4-24GB"),
        ("NVIDIA L40S", 48, "L40S-48GB"),
        ("Tesla T4", 16, "T4-16GB"),
        ("NVIDIA A10G", 24, "A10G-24GB"),
        ("Tesla V100-SXM2-16GB", 16, "V100-16GB"),
    ],
)
def test_gpu_names_match_the_catalogue(name: str, memory_gb: float | None, key: str) -> None:
    memory = int(memory_gb * GIB) if memory_gb else None
    offer = Catalogue.load().gpu_for(name, memory)
    assert offer is not None
    assert offer.key == key


def test_unknown_gpu_gets_the_default_rate() -> None:
    pricing = PricingModel.per_resource()
    assert Catalogue.load().gpu_for("NVIDIA GH200 480GB") is None
    assert pricing.gpu_rate("NVIDIA GH200 480GB") == pricing.gpu_hour_default
    assert normalize_gpu_name("NVIDIA A100-SXM4-80GB") == "a100 sxm4 80gb"


def test_user_file_and_overrides_merge(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "as_of: '2027-01-15'\ncurrency: eur\nrates: {cpu_core_hour: 0.05}\n"
        "gpus: {H100-80GB: {hourly: 2.49}, V100-16GB: null}\n"
        "instances: {onprem/box: {vcpus: 32, memory_gb: 256, gpus: 2, gpu: H100-80GB, hourly: 9}}\n"
    )
    cat = Catalogue.load(path, overrides={"rates": {"kwh": 0.3}})
    assert cat.as_of == "2027-01-15"
    assert cat.currency == "EUR"
    assert cat.rates.cpu_core_hour == 0.05
    assert cat.rates.kwh == 0.3
    assert cat.rates.ram_gb_hour == Catalogue.load().rates.ram_gb_hour  # kept from the base
    assert cat.gpus["H100-80GB"].hourly == 2.49
    assert cat.gpus["H100-80GB"].match  # merged key by key: patterns kept
    assert "V100-16GB" not in cat.gpus
    assert cat.instances["onprem/box"].gpus == 2
    assert cat.label == "catalogue-2027-01+custom"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rates: {cpu_core_hour: -1}", "rates.cpu_core_hour"),
        ("rates: {cpu_core_hour: cheap}", "must be a number"),
        ("rates: {gpu_per_hour: 1}", "unknown rates"),
        ("gpus: {X: {hourly: 1, match: ['(']}}", "not a regex"),
        ("instances: {a/b: {vcpus: 1, memory_gb: 1, hourly: 1, gpus: 1, gpu: nope}}", "not a GPU"),
        ("currency: dollars", "3-letter"),
        ("gpus: {T4-16GB: null}", "instances.aws/g4dn.xlarge.gpu 'T4-16GB' is not a GPU"),
        ("- just a list", "must be a mapping"),
        ("rates: [1, 2", "not valid YAML"),
    ],
)
def test_bad_catalogue_files_say_what_is_wrong(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        Catalogue.load(path)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Catalogue.load(tmp_path / "nope.yaml")


def test_per_resource_formulas() -> None:
    pricing = PricingModel.per_resource(
        rates={"cpu_core_hour": 0.04, "ram_gb_hour": 0.01, "kwh": 0.25, "cpu_watts_per_core": 10}
    )
    s = sample(cpu=1800.0, rss_gb=4, gpus=(h100(25, mem_gb=20, energy_j=3.6e6),))
    usage = pricing.measure(s)
    assert usage.cpu_core_seconds == 1800
    assert usage.cpu_alloc_core_seconds == 1800  # nothing reserved: allocated as used
    assert usage.ram_gb_seconds == pytest.approx(4 * 3600)
    assert usage.gpu_seconds == 3600
    assert usage.gpu_used_seconds == 900
    assert usage.gpu_mem_gb_seconds == pytest.approx(20 * 3600)
    assert usage.energy_j == pytest.approx(3.6e6 + 1800 * 10)
    cost = pricing.price(usage)
    energy = 0.25 * (3.6e6 + 18000) / 3.6e6
    assert cost.allocated == pytest.approx(0.04 * 0.5 + 0.01 * 4 + 5.0 + energy)
    assert cost.used == pytest.approx(0.04 * 0.5 + 0.01 * 4 + 5.0 * 0.25 + energy)
    assert cost.waste == pytest.approx(5.0 * 0.75)
    assert pricing.hourly(s).allocated == pytest.approx(cost.allocated)


def test_reserved_cores_are_allocated_even_when_idle() -> None:
    pricing = PricingModel.per_resource(rates={"cpu_core_hour": 0.1, "ram_gb_hour": 0})
    cost = pricing.price(pricing.measure(sample(cpu=900.0, cores=2)))
    assert cost.allocated == pytest.approx(0.2)  # 2 cores held for an hour
    assert cost.used == pytest.approx(0.025)  # a quarter core-hour used
    assert pricing.price(pricing.measure(sample(interval=0))) == Cost(0.0, 0.0, "USD")


def test_instance_price_split_by_share_sums_to_the_instance() -> None:
    cat = Catalogue.load()
    pricing = PricingModel.for_instance("aws/g5.xlarge", cat)
    offer = cat.instances["aws/g5.xlarge"]
    whole = (
        offer.vcpus * pricing.cpu_core_hour
        + offer.memory_gb * pricing.ram_gb_hour
        + pricing.gpu_rate("NVIDIA A10G")
    )
    assert whole == pytest.approx(offer.hourly)
    s = sample(cpu=4 * 3600.0, rss_gb=offer.memory_gb, gpus=(h100(100),))  # everything, flat out
    assert pricing.price(pricing.measure(s)).allocated == pytest.approx(offer.hourly)
    assert pricing.pricing_id() == "catalogue-2026-11:instance=aws/g5.xlarge:USD"
    with pytest.raises(ConfigError, match="unknown instance"):
        PricingModel.for_instance("aws/nope", cat)


def test_this_machine_as_an_instance() -> None:
    pricing = PricingModel.for_instance(machine_instance(2.0))
    assert pricing.instance is not None
    assert pricing.instance.vcpus >= 1
    assert pricing.pricing_id().endswith(":instance=this-machine+custom:USD")


def test_pricing_id_and_tags() -> None:
    pricing = PricingModel.per_resource()
    assert pricing.pricing_id() == "catalogue-2026-11:per-resource:USD"
    custom = PricingModel.per_resource(rates={"cpu_core_hour": 1})
    assert custom.pricing_id() == "catalogue-2026-11:per-resource+custom:USD"
    tags = pricing_tags(pricing)
    assert tags["mlops.cost.pricing"] == pricing.pricing_id()
    assert tags["mlops.cost.catalogue_as_of"].startswith("2026-11")
    eur = pricing.with_currency("EUR", 0.5)
    assert eur.currency == "EUR"
    assert eur.cpu_core_hour == pytest.approx(pricing.cpu_core_hour / 2)
    assert eur.gpu_rate("NVIDIA H100 80GB HBM3") == pytest.approx(2.5)
    assert eur.pricing_id() == "catalogue-2026-11+custom:per-resource:EUR"


def test_run_metrics_and_system_series() -> None:
    totals = Totals(
        cpu_core_seconds=7200,
        gpu_seconds=3600,
        gpu_mem_gb_seconds=36000,
        energy_j=3.6e6,
        cost_allocated=6.0,
        cost_used=2.0,
    )
    assert run_cost_metrics(totals) == {
        "cost_usd": 6.0,
        "idle_cost_usd": 4.0,
        "cpu_core_hours": 2.0,
        "gpu_hours": 1.0,
        "gpu_mem_gb_hours": 10.0,
        "energy_kwh": 1.0,
        "co2e_g": 475.0,  # 1 kWh at CodeCarbon's world average (no region set)
    }
    assert set(run_cost_metrics(totals, "EUR")) >= {"cost_eur", "idle_cost_eur"}
    series = system_metrics(sample(cpu=1800.0, rss_gb=2, gpus=(h100(40),)), cost_per_hour=5.1)
    assert series["system/cpu_percent"] == pytest.approx(50)
    assert series["system/rss_gb"] == pytest.approx(2)
    assert series["system/gpu_util_percent"] == 40
    assert series["system/gpu_mem_gb"] == pytest.approx(10)
    assert series["system/cost_per_hour"] == 5.1
    assert all(k.startswith("system/") for k in series)
    assert "system/gpu_mem_gb" not in system_metrics(sample(cpu=1.0))


def test_every_catalogue_entry_is_dated_with_its_source() -> None:
    cat = Catalogue.load()
    offers = [*cat.gpus.values(), *cat.instances.values()]
    for offer in offers:
        assert offer.as_of[:4] == "2026", offer
        assert offer.source.startswith("https://"), offer
        assert offer.source in cat.sources, offer  # one of the pages the catalogue names
    small = [i for i in cat.instances.values() if i.vcpus <= 2 and not i.gpus]
    assert {i.vcpus for i in small} == {1, 2}
    assert any(i.vcpus == 1 for i in small)
    assert all(0 < i.baseline <= 1 for i in cat.instances.values())
    gpu_machines = {i.gpu for i in cat.instances.values() if i.gpus}
    assert {
        "T4-16GB",
        "L4-24GB",
        "A10G-24GB",
        "A100-40GB",
        "A100-80GB",
        "H100-80GB",
    } <= gpu_machines
    assert (
        cat.to_dict()["instances"]["aws/t3.micro"]["source"] == cat.instances["aws/t3.micro"].source
    )
    assert cat.to_dict()["gpus"]["T4-16GB"]["as_of"] == cat.gpus["T4-16GB"].as_of


def test_entries_a_user_sets_are_credited_to_the_user(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "gpus: {H100-80GB: {hourly: 2.49}}\n"
        "instances: {onprem/box: {vcpus: 8, memory_gb: 64, hourly: 1.0}}\n"
    )
    base = Catalogue.load()
    cat = Catalogue.load(path)
    assert cat.gpus["H100-80GB"].source == str(path)  # the price is the user's now
    assert cat.gpus["H100-80GB"].as_of == base.as_of  # the file has no as_of: the catalogue's
    assert cat.instances["onprem/box"].source == str(path)
    assert cat.instances["onprem/box"].baseline == 1.0
    assert cat.gpus["T4-16GB"] == base.gpus["T4-16GB"]  # untouched entries keep theirs
    dated = Catalogue.load(overrides={"as_of": "2027-02-01", "gpus": {"T4-16GB": {"hourly": 0.2}}})
    assert (dated.gpus["T4-16GB"].as_of, dated.gpus["T4-16GB"].source) == (
        "2027-02-01",
        "configuration",
    )
    plain = Catalogue.from_dict(
        {"as_of": "2026-01-01", "sources": ["https://example.com/p"], "gpus": {"X": {"hourly": 1}}}
    )
    assert (plain.gpus["X"].as_of, plain.gpus["X"].source) == (
        "2026-01-01",
        "https://example.com/p",
    )
    with pytest.raises(ConfigError, match="baseline"):
        Catalogue.load(
            overrides={
                "instances": {"a/b": {"vcpus": 2, "memory_gb": 1, "hourly": 1, "baseline": 1.5}}
            }
        )
