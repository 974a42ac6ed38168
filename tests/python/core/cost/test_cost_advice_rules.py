"""The rules behind right-sizing: rate windows, caps at the machine, no GPU machine without
a GPU, burstable baselines, and the verdict (a cheaper fit, already the cheapest, none)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_pynvml import GIB

from jupyter_mlops.core.cost import Machine, Peaks, PricingModel, Target, right_size
from jupyter_mlops.core.cost.catalogue import Catalogue, InstanceOffer
from jupyter_mlops.core.cost.limits import usable_cores, usable_memory
from jupyter_mlops.core.cost.merge import MIN_RATE_WINDOW, Previous, cpu_rate, merge_readings
from jupyter_mlops.core.cost.pricing import machine_instance
from jupyter_mlops.core.cost.records import ProcessUse, Reading, Snapshot

TWO_CORES = Machine(cpu_cores=2, memory_bytes=8 * GIB)


class Ticks:
    """Drives :func:`merge_readings` for one target with chosen times and CPU figures."""

    def __init__(self, cores: float | None = None) -> None:
        self.prev: dict[str, Previous] = {}
        self.cores = cores
        self.targets = {"k": Target(pid=4242)}

    def at(self, now: float, cpu: float, *, unseen: float = 0.0, lag: float = 0.0) -> Snapshot:
        use = ProcessUse(frozenset({4242}), cpu, 100 << 20, unseen_cpu=unseen, lag=lag)
        reading = Reading(processes={"k": use})
        return merge_readings(now, self.targets, [reading], self.prev, cores=self.cores)

    def percent(self, now: float, cpu: float, **kw: float) -> float:
        return self.at(now, cpu, **kw).targets["k"].cpu_percent


def test_a_tick_right_after_another_makes_no_rate() -> None:
    t = Ticks()
    assert t.percent(100.0, 10.0) == 0.0  # first sample: nothing to compare with
    snap = t.at(100.003, 10.05)  # five clock ticks of CPU in 3 ms: 1667% if made a rate
    assert snap.targets["k"].cpu_delta == pytest.approx(0.05)  # still booked
    assert snap.targets["k"].cpu_percent == 0.0  # no window closed yet
    assert t.percent(101.0, 11.0) == pytest.approx(100.0)  # 1 s of CPU over 1 s
    assert t.percent(101.004, 11.04) == pytest.approx(100.0)  # the last window's rate, repeated
    assert t.percent(102.0, 11.5) == pytest.approx(50.0)  # 0.5 s over the 1 s since 101.0


def test_short_ticks_add_up_to_one_window() -> None:
    t = Ticks()
    t.at(0.0, 0.0)
    percents = [t.percent(0.2 * n, 0.1 * n) for n in range(1, 6)]  # a 0.2 s sampler at 50%
    assert percents[:4] == [0.0, 0.0, 0.0, 0.0]  # 0.2 .. 0.8 s: shorter than a window
    assert percents[4] == pytest.approx(50.0)  # 1.0 s: one window over all five ticks
    assert cpu_rate(0.5, MIN_RATE_WINDOW / 2) is None
    assert cpu_rate(0.5, 1.0) == pytest.approx(50.0)


def test_rates_are_capped_at_the_usable_cores() -> None:
    t = Ticks(cores=2)
    t.at(0.0, 0.0)
    assert t.percent(1.0, 5.0) == pytest.approx(200.0)  # 5 cores' worth in 1 s: at most 2
    assert cpu_rate(5.0, 1.0, cores=1.5) == pytest.approx(150.0)


def test_a_rate_is_timed_by_when_the_tree_was_read() -> None:
    t = Ticks()
    t.at(0.0, 0.0)
    slow = t.at(1.0, 1.5, lag=0.5).targets["k"]  # read 0.5 s late, one core all along
    assert slow.interval == 1.0  # the wall time booked is the ticks'
    assert slow.cpu_percent == pytest.approx(100.0)  # 1.5 s of CPU over the 1.5 s between reads
    assert t.percent(2.6, 2.6) == pytest.approx(100.0)  # 1.1 s of CPU since the late read
    assert t.percent(3.0, 2.9) == pytest.approx(100.0)  # 0.4 s after: no window of its own


def test_cpu_a_process_used_before_it_was_found_is_booked_but_no_rate() -> None:
    t = Ticks()
    t.at(0.0, 0.0)
    snap = t.at(1.0, 3.3, unseen=3.0)  # a child found now, with 3 s of CPU behind it
    assert snap.targets["k"].cpu_delta == pytest.approx(3.3)
    assert snap.targets["k"].cpu_percent == pytest.approx(30.0)


def test_the_hourly_rate_follows_the_window_not_a_short_gap() -> None:
    pricing = PricingModel.per_resource(rates={"cpu_core_hour": 1.0, "ram_gb_hour": 0.0})
    t = Ticks()
    t.at(0.0, 0.0)
    t.at(1.0, 1.0)  # one core for a second
    short = t.at(1.003, 1.05).targets["k"]  # 0.05 s of CPU in 3 ms
    assert pricing.hourly(short).allocated == pytest.approx(1.0, rel=0.01)  # one core-hour/h


def test_peaks_are_capped_at_the_machine() -> None:
    peaks = Peaks(cpu_cores=42.8, rss_bytes=64 * GIB, cpu_average=9.0)
    capped = peaks.within(TWO_CORES)
    assert (capped.cpu_cores, capped.rss_bytes, capped.cpu_average) == (2, 8 * GIB, 2)
    advice = right_size(peaks, PricingModel.per_resource(), TWO_CORES)
    assert advice.peaks == capped
    assert advice.instance is None or _offer(advice.instance.name).vcpus <= 4  # 2 x 1.2


def test_no_gpu_machine_for_a_kernel_without_a_gpu() -> None:
    cat = Catalogue.load()
    for cores in (0.1, 1.0, 2.0):
        machine = Machine(cpu_cores=cores * 2 + 2, memory_bytes=64 * GIB)
        advice = right_size(
            Peaks(cpu_cores=cores, rss_bytes=GIB), PricingModel.per_resource(), machine
        )
        assert advice.instance is not None
        assert cat.instances[advice.instance.name].gpus == 0
    # a dearer machine where only GPU machines are catalogued: nothing fits, never a GPU box
    gpu_only = Catalogue.from_dict(
        {
            "gpus": {"T4": {"memory_gb": 16, "hourly": 0.35}},
            "instances": {
                "g": {"vcpus": 4, "memory_gb": 16, "hourly": 0.5, "gpus": 1, "gpu": "T4"}
            },
        }
    )
    advice = right_size(
        Peaks(cpu_cores=1, rss_bytes=GIB), PricingModel.per_resource(gpu_only), TWO_CORES
    )
    assert (advice.verdict, advice.instance) == ("none", None)


def test_a_one_core_job_gets_two_vcpus_and_no_burstable_machine() -> None:
    advice = right_size(
        Peaks(cpu_cores=1.1, rss_bytes=GIB, cpu_average=1.0), PricingModel.per_resource(), TWO_CORES
    )
    assert advice.verdict == "cheaper"
    assert advice.instance is not None
    offer = _offer(advice.instance.name)
    assert offer.vcpus == 2
    assert offer.vcpus * offer.baseline >= 1.2  # sustains the average x headroom
    cheapest_two = min(
        (i for i in Catalogue.load().instances.values() if i.vcpus == 2 and i.baseline == 1),
        key=lambda i: i.hourly,
    )
    assert offer.hourly <= cheapest_two.hourly


def test_an_idle_kernel_may_burst_on_a_small_machine() -> None:
    advice = right_size(
        Peaks(cpu_cores=0.3, rss_bytes=GIB // 4, cpu_average=0.02),
        PricingModel.per_resource(),
        TWO_CORES,
    )
    assert advice.instance is not None
    offer = _offer(advice.instance.name)
    assert offer.baseline < 1
    assert offer.hourly == min(
        i.hourly
        for i in Catalogue.load().instances.values()
        if i.memory_gb >= 0.3 and not i.gpus and i.vcpus * i.baseline >= 0.024
    )


def test_verdicts_never_offer_a_dearer_machine() -> None:
    peaks = Peaks(cpu_cores=0.9, rss_bytes=int(0.3 * GIB), cpu_average=0.9)
    pricey = right_size(peaks, PricingModel.for_instance("aws/m7i.4xlarge"), TWO_CORES)
    assert pricey.verdict == "cheaper"
    assert pricey.instance is not None
    assert pricey.instance.hourly < pricey.current_hourly == pytest.approx(0.8064)
    assert pricey.instance.saving_per_hour > 0

    cheap_box = PricingModel.for_instance(machine_instance(0.01))  # this box at $0.01/h
    cheapest = right_size(peaks, cheap_box, TWO_CORES)
    assert cheapest.verdict == "cheapest"
    assert cheapest.instance is None  # never a dearer machine "instead"
    assert cheapest.sentence().endswith(
        "→ already the cheapest fit: nothing catalogued that fits costs less than the "
        "current $0.01/h"
    )
    assert any(line.startswith("instance: already the cheapest fit") for line in cheapest.lines())
    body = cheapest.to_dict()
    assert (body["verdict"], body["instance"]) == ("cheapest", None)
    assert body["sentence"] == cheapest.sentence()
    assert "instead of" not in " ".join(body["lines"])

    huge = right_size(Peaks(cpu_cores=2, rss_bytes=4096 * GIB), cheap_box, Machine(2, 8192 * GIB))
    assert (huge.verdict, huge.instance) == ("none", None)
    assert huge.sentence().endswith("→ no catalogued instance fits")


def test_gpu_advice_only_when_cheaper() -> None:
    l4_box = Machine(cpu_cores=4, memory_bytes=16 * GIB, gpus=(("NVIDIA L4", 24 * GIB),))
    peaks = Peaks(cpu_cores=1, rss_bytes=4 * GIB, gpu_mem_bytes=10 * GIB, gpus=1, cpu_average=1)
    advice = right_size(peaks, PricingModel.per_resource(), l4_box)
    assert advice.gpu is not None
    assert advice.gpu.name == "T4-16GB"  # 12 GiB needed: a T4 is cheaper than the L4
    t4_box = Machine(cpu_cores=4, memory_bytes=16 * GIB, gpus=(("Tesla T4", 16 * GIB),))
    same = right_size(peaks, PricingModel.per_resource(), t4_box)
    assert same.gpu is None
    assert "GPU: already the cheapest fit (12.0 GiB needed)" in same.notes
    assert same.instance is None or _offer(same.instance.name).gpu == "T4-16GB"


def test_usable_cores_and_memory_follow_the_cgroup(tmp_path: Path) -> None:
    assert 0 < usable_cores() <= len(os.sched_getaffinity(0))
    assert usable_memory() > GIB
    assert Machine.detect().cpu_cores == usable_cores()
    v2 = tmp_path / "v2"
    (v2 / "user.slice" / "jupyter").mkdir(parents=True)
    (v2 / "user.slice" / "jupyter" / "cpu.max").write_text("150000 100000\n")
    (v2 / "user.slice" / "cpu.max").write_text("max 100000\n")
    (v2 / "user.slice" / "jupyter" / "memory.max").write_text(f"{GIB}\n")
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/user.slice/jupyter\n")
    assert usable_cores(v2, cgroup) == pytest.approx(min(1.5, usable_cores()))
    assert usable_memory(v2, cgroup) == GIB
    v1 = tmp_path / "v1"
    (v1 / "cpu,cpuacct" / "docker" / "abc").mkdir(parents=True)
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us").write_text("100000\n")
    cgroup.write_text("4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n")
    assert usable_cores(v1, cgroup) == pytest.approx(0.5)
    assert usable_memory(v1, cgroup) == usable_memory()  # no memory limit set there
    cgroup.write_text("4:cpu,cpuacct:/docker/abc\n")
    (v1 / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cores(v1, cgroup) == usable_cores()  # -1: no quota


def _offer(name: str) -> InstanceOffer:
    return Catalogue.load().instances[name]
