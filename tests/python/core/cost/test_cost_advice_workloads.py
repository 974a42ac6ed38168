"""Advice for known workloads, measured for real: a process metered as a run is (a
:class:`ProcessMeter` started late on its own thread with ``since`` / ``cpu_at_since``, as
:class:`~jupyter_mlops.core.cost.run_cost.RunCost` does) burns one core, two cores, or
nothing; the peaks and the advice must match what it did."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import fields
from typing import Any

import pytest

from jupyter_mlops.core.cost import Machine, Peaks, PricingModel, right_size
from jupyter_mlops.core.cost.catalogue import Catalogue
from jupyter_mlops.core.cost.limits import usable_cores
from jupyter_mlops.core.cost.pricing import machine_instance
from jupyter_mlops.core.cost.totals import Totals

# a known workload's CPU peaks are measured: alone on the machine, not beside other tests
pytestmark = pytest.mark.serial

WORKLOAD = textwrap.dedent(
    """
    import json, subprocess, sys, threading, time
    from jupyter_mlops.core.cost.meter import ProcessMeter, process_cpu
    from jupyter_mlops.core.cost.pricing import PricingModel
    from jupyter_mlops.core.cost.run_cost import advice_tags

    BURN = "import time\\nend = time.process_time() + {s}\\nwhile time.process_time() < end: pass\\n"
    kind, seconds, helpers = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    # a long-lived kernel: live children that already used CPU before the run starts
    old = [subprocess.Popen([sys.executable, "-c", BURN.format(s=0.5) + "print(1, flush=True)\\n"
                             "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE) for _ in range(helpers)]
    for p in old:
        p.stdout.readline()
    since, cpu_at_since = time.time(), process_cpu()  # what RunCost takes in start_run
    # a multi-core run: burners started by the run, before its meter is up
    burners = [subprocess.Popen([sys.executable, "-c", BURN.format(s=seconds)])
               for _ in range(int(kind) - 1 if kind.isdigit() else 0)]
    box = []
    def begin():  # RunCost._begin: pricing and meter built on their own thread
        meter = ProcessMeter(PricingModel.per_resource(), interval=1.0)
        meter.start(since=since, cpu_at_since=cpu_at_since)
        box.append(meter)
    thread = threading.Thread(target=begin)
    thread.start()
    if kind == "idle":
        time.sleep(seconds)
    else:
        exec(BURN.format(s=seconds))  # this thread burns one core
    for p in burners:
        p.wait()
    thread.join()
    meter = box[0]
    totals = meter.stop()
    used = process_cpu() - cpu_at_since  # what the run's process (and reaped burners) used
    for p in old:
        p.stdin.close()
        p.wait()
    out = {"totals": totals.to_dict(), "tags": advice_tags(meter, totals), "used": used}
    print(json.dumps(out))
    """
)


def metered(kind: str, seconds: float, helpers: int = 0) -> tuple[Totals, dict[str, str]]:
    """Run the workload in a child process; its totals and the run's advice tags. The
    CPU booked is what the process itself counted (``os.times``) within 2%."""
    out = subprocess.run(
        [sys.executable, "-c", WORKLOAD, kind, str(seconds), str(helpers)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    data: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    names = {f.name for f in fields(Totals)}
    totals = Totals(**{k: v for k, v in data["totals"].items() if k in names})
    assert totals.cpu_core_seconds == pytest.approx(data["used"], rel=0.02, abs=0.05)
    return totals, data["tags"]


def check_small_cpu_advice(totals: Totals, tags: dict[str, str], most_vcpus: float) -> None:
    """No GPU machine, nothing bigger than ``most_vcpus``, never a dearer machine."""
    cat = Catalogue.load()
    advice = right_size(Peaks.from_totals(totals), PricingModel.per_resource(), Machine.detect())
    assert advice.verdict in ("cheaper", "cheapest"), advice.lines()
    if advice.instance is not None:
        offer = cat.instances[advice.instance.name]
        assert offer.gpus == 0, advice.lines()
        assert offer.vcpus <= most_vcpus, advice.lines()
        assert advice.instance.hourly < advice.current_hourly
    if "mlops.advice.instance" in tags:  # what the run is tagged with: the same rules
        offer = cat.instances[tags["mlops.advice.instance"]]
        assert (offer.gpus, offer.vcpus <= most_vcpus) == (0, True), tags
        assert float(tags["mlops.advice.saving_per_hour"]) > 0


@pytest.mark.parametrize("old_children", [0, 1], ids=["fresh-process", "kernel-with-children"])
def test_one_core_for_ten_seconds(old_children: int) -> None:
    totals, tags = metered("1", 10.0, old_children)
    assert totals.cpu_core_seconds >= 9.9  # /proc counts in 10 ms ticks
    peak = totals.peak_cpu_percent / 100
    assert 0.7 <= peak <= 1.3, peak
    check_small_cpu_advice(totals, tags, most_vcpus=2)


def test_every_core_at_once_peaks_at_the_machine() -> None:
    cores = usable_cores()
    totals, tags = metered(str(max(2, int(cores))), 4.0)
    peak = totals.peak_cpu_percent / 100
    assert peak <= cores
    assert peak <= Machine.detect().cpu_cores
    assert peak >= 0.7  # it did measure the burn
    check_small_cpu_advice(totals, tags, most_vcpus=4)  # peak x 1.2 on two cores: 4 at most


def test_an_idle_process_is_told_a_cheaper_machine_or_already_the_cheapest() -> None:
    totals, tags = metered("idle", 2.0, 1)  # a kernel with a child that worked before
    assert totals.peak_cpu_percent < 50
    check_small_cpu_advice(totals, tags, most_vcpus=2)
    peaks, machine = Peaks.from_totals(totals), Machine.detect()
    # on a box priced below every fitting offer, the advice says so and names nothing dearer
    cheap = PricingModel.for_instance(machine_instance(0.001))
    advice = right_size(peaks, cheap, machine)
    assert (advice.verdict, advice.instance) == ("cheapest", None)
    assert "already the cheapest fit" in advice.sentence()
    assert "no saving" not in advice.sentence()
