"""GPU logic against the scripted NVML stand-in; the no-GPU path against the real pynvml here.

Processes are real (idle children); only NVML is scripted. Time comes from a
fake clock, so "idle for 10 minutes" takes ten ticks, not ten minutes.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable

import pytest
from cost_helpers import FakeClock
from fake_pynvml import GIB, NVML_ERROR_DRIVER_NOT_LOADED, NVML_ERROR_NO_PERMISSION, FakeNvml

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.alerts import IdleGpuDetector
from jupyter_mlops.core.cost.catalogue import Catalogue
from jupyter_mlops.core.cost.nvml import NvmlSource
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Target
from jupyter_mlops.core.cost.sampler import Sampler
from jupyter_mlops.core.cost.sources import ProcessTreeSource, ResourceSource

Sleeper = Callable[[], subprocess.Popen[bytes]]
H100_RATE = 5.0  # the packaged catalogue's H100-80GB hourly price


def gpu_sampler(nvml: FakeNvml, clock: FakeClock) -> Sampler:
    return Sampler(
        [ProcessTreeSource(children_every=1), NvmlSource(nvml, clock=clock)], clock=clock
    )


# -- no GPU -------------------------------------------------------------------------


def test_no_gpu_on_this_machine_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    """The real pynvml: nvmlInit fails (no library / driver); the GPU part is simply absent."""
    caplog.set_level(logging.DEBUG, logger="jupyter_mlops.cost")
    source = NvmlSource(check_driver=False)  # really call nvmlInit
    assert source.open() is False
    reading = source.collect({}, 0.0)
    assert reading.gpus == ()
    assert not source.available
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    default = Sampler()  # psutil + NVML with the driver check
    snap = default.tick()
    assert snap.gpu_available is False
    assert snap.gpus == ()
    default.stop()


def test_driver_not_loaded_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="jupyter_mlops.cost")
    source = NvmlSource(FakeNvml(init_error=NVML_ERROR_DRIVER_NOT_LOADED))
    assert source.collect({}, 0.0).gpus == ()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_other_init_error_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    source = NvmlSource(FakeNvml(init_error=NVML_ERROR_NO_PERMISSION))
    for _ in range(3):
        assert source.collect({}, 0.0).gpus == ()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "GPU cost not measured" in warnings[0].getMessage()


def test_nvml_source_is_a_resource_source() -> None:
    assert isinstance(NvmlSource(FakeNvml()), ResourceSource)


# -- attribution ----------------------------------------------------------------------


def test_processes_memory_util_and_power_are_attributed(sleeper: Sleeper, clock: FakeClock) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", util=60, power_w=400.0)
    a, b, other = sleeper(), sleeper(), sleeper()
    gpu.processes = {a.pid: 30 * GIB, b.pid: 10 * GIB, other.pid: 10 * GIB}
    gpu.process_util = {a.pid: 40, b.pid: 10, other.pid: 10}
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("a", Target(a.pid))
    sampler.add_target("b", Target(b.pid))
    sampler.tick()
    clock.advance(2)
    snap = sampler.tick()

    assert snap.gpu_available
    (device,) = snap.gpus
    assert device.memory_used == 50 * GIB
    (ga,) = snap.targets["a"].gpus
    (gb,) = snap.targets["b"].gpus
    assert (ga.mem_bytes, gb.mem_bytes) == (30 * GIB, 10 * GIB)
    assert (ga.util_pct, gb.util_pct) == (40, 10)  # per-process SM utilisation
    assert ga.power_w == pytest.approx(400 * 40 / 60)  # power split by utilisation
    assert ga.energy_j == pytest.approx(400 * 40 / 60 * 2)  # power x 2 s, no energy counter
    assert snap.targets["a"].gpu_mem_bytes == 30 * GIB


def test_without_per_process_util_device_util_is_shared_by_memory(
    sleeper: Sleeper, clock: FakeClock
) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu(util=80, process_util=None)
    a, b = sleeper(), sleeper()
    gpu.processes = {a.pid: 30 * GIB, b.pid: 10 * GIB}
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("a", Target(a.pid))
    sampler.add_target("b", Target(b.pid))
    snap = sampler.tick()
    assert snap.targets["a"].gpus[0].util_pct == pytest.approx(60)
    assert snap.targets["b"].gpus[0].util_pct == pytest.approx(20)
    gpu.processes = {a.pid: 30 * GIB}
    alone = sampler.tick().targets["a"].gpus[0]
    assert alone.util_pct == 80  # the only holder gets the device figure
    assert sampler.tick().targets["b"].gpus == ()


def test_energy_counter_deltas(sleeper: Sleeper, clock: FakeClock) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu(energy_mj=1_000_000)
    proc = sleeper()
    gpu.held_by(proc.pid, GIB, 50)
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("k", Target(proc.pid))
    sampler.tick()
    gpu.energy_mj += 300_000  # 300 J
    clock.advance(1)
    assert sampler.tick().targets["k"].gpus[0].energy_j == pytest.approx(300.0)


def test_mig_slices_are_devices_without_utilisation(sleeper: Sleeper, clock: FakeClock) -> None:
    nvml = FakeNvml()
    board = nvml.add_gpu("NVIDIA A100-SXM4-40GB", memory_gb=40)
    first, _second = nvml.enable_mig(board, [10, 20])
    proc = sleeper()
    first.processes = {proc.pid: 4 * GIB}
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("k", Target(proc.pid))
    sampler.tick()
    clock.advance(60)
    snap = sampler.tick()
    assert [g.key for g in snap.gpus] == ["0/mig0", "0/mig1"]
    (held,) = snap.targets["k"].gpus
    assert held.key == "0/mig0"
    assert held.fraction == pytest.approx(0.25)
    assert held.util_pct is None
    pricing = PricingModel.per_resource(Catalogue.load())
    usage = pricing.measure(snap.targets["k"])
    assert usage.gpus[0].held_seconds == pytest.approx(15.0)  # 60 s x 1/4 of the board
    assert usage.gpus[0].used_seconds == pytest.approx(15.0)  # unknown use: no waste claimed
    assert pricing.gpu_rate(held.model, held.memory_total * 4) == 2.93  # priced as an A100 40GB


# -- failures -------------------------------------------------------------------------


def test_gpu_lost_mid_run(
    sleeper: Sleeper, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = FakeNvml()
    lost, kept = nvml.add_gpu(), nvml.add_gpu()
    proc = sleeper()
    lost.processes = {proc.pid: GIB}
    kept.processes = {proc.pid: GIB}
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("k", Target(proc.pid))
    assert len(sampler.tick().targets["k"].gpus) == 2
    lost.lost = True
    for _ in range(3):
        clock.advance(1)
        snap = sampler.tick()
        assert [g.index for g in snap.gpus] == [1]
        assert [g.key for g in snap.targets["k"].gpus] == ["1"]
        assert snap.targets["k"].alive  # the sampler carries on
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "GPU 0" in warnings[0]
    assert "lost" in warnings[0]
    kept.lost = True
    snap = sampler.tick()
    assert snap.gpus == ()
    assert not snap.gpu_available
    assert snap.targets["k"].gpus == ()


def test_one_failing_call_skips_one_value(sleeper: Sleeper, clock: FakeClock) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu(power_w=None)  # no power reading on this board
    proc = sleeper()
    gpu.processes = {proc.pid: GIB}
    gpu.fail["nvmlDeviceGetProcessUtilization"] = NVML_ERROR_NO_PERMISSION
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("k", Target(proc.pid))
    (held,) = sampler.tick().targets["k"].gpus
    assert held.power_w is None
    assert held.util_pct == 0  # device utilisation, the only holder


# -- the idle-GPU alert ---------------------------------------------------------------


def test_idle_gpu_alert_fires_with_money_burned_and_clears(
    sleeper: Sleeper, clock: FakeClock
) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", util=70)
    proc = sleeper()
    gpu.held_by(proc.pid, 20 * GIB, 70)
    pricing = PricingModel.per_resource(Catalogue.load())
    detector = IdleGpuDetector(pricing, util_threshold_pct=5, after_minutes=10, min_mem_mb=512)
    events = []
    detector.listeners.append(events.append)
    sampler = gpu_sampler(nvml, clock)
    sampler.subscribe(detector.on_snapshot)
    sampler.add_target("k", Target(proc.pid, kernel_id="k", notebook="train.ipynb"))

    sampler.tick()
    clock.advance(60)
    sampler.tick()  # busy minute
    gpu.util, gpu.process_util = 0, {proc.pid: 0}
    idle_from = clock.now
    for _ in range(9):  # nine idle minutes: not yet
        clock.advance(60)
        sampler.tick()
    assert events == []
    assert detector.active() == []
    clock.advance(60)
    sampler.tick()  # the tenth idle minute
    (fired,) = events
    assert fired.state == "fired"
    alert = fired.alert
    assert alert.since == idle_from
    assert alert.burned == pytest.approx(H100_RATE * 10 / 60)  # ten minutes of an H100
    assert alert.labels["notebook"] == "train.ipynb"
    assert alert.message().startswith("idle GPU: $0.83 burned since ")
    assert detector.active() == [alert]

    clock.advance(60)
    sampler.tick()  # still idle: no second "fired", the money keeps counting
    assert len(events) == 1
    assert detector.active()[0].burned == pytest.approx(H100_RATE * 11 / 60)

    gpu.util, gpu.process_util = 90, {proc.pid: 90}
    clock.advance(60)
    sampler.tick()
    assert [e.state for e in events] == ["fired", "cleared"]
    assert detector.active() == []


def test_idle_alert_clears_when_memory_is_freed_and_can_be_dismissed(
    sleeper: Sleeper, clock: FakeClock
) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu(util=0)
    proc = sleeper()
    gpu.held_by(proc.pid, 2 * GIB, 0)
    detector = IdleGpuDetector(PricingModel.per_resource(), after_minutes=1, min_mem_mb=512)
    sampler = gpu_sampler(nvml, clock)
    sampler.add_target("k", Target(proc.pid))
    detector.update(sampler.tick())
    clock.advance(61)
    assert [e.state for e in detector.update(sampler.tick())] == ["fired"]
    assert detector.dismiss("k", "0")
    assert detector.active() == []
    gpu.processes = {proc.pid: 100 << 20}  # below min_mem_mb: not holding the GPU any more
    clock.advance(1)
    assert [e.state for e in detector.update(sampler.tick())] == ["cleared"]
    assert not detector.dismiss("k", "0")


def test_accountant_prices_gpu_held_and_used(sleeper: Sleeper, clock: FakeClock) -> None:
    nvml = FakeNvml()
    gpu = nvml.add_gpu("NVIDIA H100 80GB HBM3", util=25)
    proc = sleeper()
    gpu.held_by(proc.pid, 8 * GIB, 25)
    pricing = PricingModel.per_resource(
        Catalogue.load(), rates={"cpu_core_hour": 0, "ram_gb_hour": 0, "cpu_watts_per_core": 0}
    )
    accountant = CostAccountant(pricing, clock=clock)
    sampler = gpu_sampler(nvml, clock)
    sampler.subscribe(accountant.on_snapshot)
    sampler.add_target("k", Target(proc.pid, kernel_id="k", run_id="r"))
    sampler.tick()
    clock.advance(3600)
    sampler.tick()
    totals = accountant.totals(run_id="r")
    assert totals.gpu_seconds == pytest.approx(3600)
    assert totals.gpu_used_seconds == pytest.approx(900)
    assert totals.gpu_mem_gb_seconds == pytest.approx(8 * 3600)
    assert totals.cost_allocated == pytest.approx(H100_RATE)
    assert totals.cost_used == pytest.approx(H100_RATE / 4)
    assert totals.cost_waste == pytest.approx(H100_RATE * 3 / 4)
    live = accountant.live("k")
    assert live is not None
    assert live.rate.allocated == pytest.approx(H100_RATE)


def test_nvml_going_away_mid_run_warns_once_and_reopens_after_close(
    sleeper: Sleeper, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    nvml = FakeNvml()
    for _ in range(2):
        nvml.add_gpu().processes = {sleeper().pid: GIB}
    source = NvmlSource(nvml, clock=clock)
    assert len(source.collect({}, 0.0).gpus or ()) == 2
    nvml.initialised = False  # every call now: NVMLError_Uninitialized
    for _ in range(3):
        assert source.collect({}, 0.0).gpus == ()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [warnings[0]]
    assert "NVML stopped working" in warnings[0]
    source.close()  # a stopped sampler closes its sources; starting again re-opens NVML
    assert len(source.collect({}, 0.0).gpus or ()) == 2
