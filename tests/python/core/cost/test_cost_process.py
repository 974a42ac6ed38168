"""Real psutil on real processes: CPU attribution of whole process trees, RSS, dead processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from cost_helpers import Burner

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.catalogue import Catalogue
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Target, TargetSample
from jupyter_mlops.core.cost.sampler import Sampler, sample_once
from jupyter_mlops.core.cost.sources import ProcessTreeSource, ResourceSource

if TYPE_CHECKING:
    import psutil

TOLERANCE = 0.05
CPU_RATE = 0.50  # per core-hour, so the money is easy to check


def within(measured: float, expected: float, tolerance: float = TOLERANCE) -> bool:
    return abs(measured - expected) <= tolerance * expected


def cpu_only_pricing() -> PricingModel:
    """CPU at CPU_RATE, everything else free: cost must be CPU_RATE x core-hours."""
    return PricingModel.per_resource(
        Catalogue.load(),
        rates={"cpu_core_hour": CPU_RATE, "ram_gb_hour": 0.0, "kwh": 0.0, "cpu_watts_per_core": 0},
    )


def process_sampler(children_every: int = 1) -> Sampler:
    return Sampler([ProcessTreeSource(children_every=children_every)])


def watching(pid: int, children_every: int = 1) -> Sampler:
    """A process sampler with ``pid``'s tree as target ``k``."""
    sampler = process_sampler(children_every)
    sampler.add_target("k", Target(pid))
    return sampler


def test_process_tree_source_is_a_resource_source() -> None:
    assert isinstance(ProcessTreeSource(), ResourceSource)


def test_busy_loop_cpu_is_attributed_within_5_percent(burner: Callable[[], Burner]) -> None:
    child = burner()
    sampler = process_sampler()
    accountant = CostAccountant(cpu_only_pricing())
    sampler.subscribe(accountant.on_snapshot)
    sampler.add_target("k", Target(child.pid, kernel_id="k", project="p"))

    before, _ = child.report("burn 0")
    first = sampler.tick().targets["k"]
    after, _ = child.report("burn 1.0")  # at least a second: a window long enough for a rate
    second = sampler.tick().targets["k"]

    burned = after - before
    assert burned >= 1.0
    assert within(second.cpu_delta, burned), (second.cpu_delta, burned)
    assert within(second.cpu_seconds, after), (second.cpu_seconds, after)  # cumulative: whole life
    assert first.alive
    assert second.alive
    assert second.rss_bytes > 1 << 20
    assert second.interval >= 1.0
    # the rate is timed by when the tree was read: about the delta over the interval
    assert second.cpu_percent == pytest.approx(100 * second.cpu_delta / second.interval, rel=0.05)

    totals = accountant.totals(kernel_id="k")
    assert totals.cpu_core_seconds == pytest.approx(second.cpu_delta)
    assert totals.cost_allocated == pytest.approx(CPU_RATE * totals.cpu_core_seconds / 3600)
    assert totals.cost_used == pytest.approx(totals.cost_allocated)
    assert within(totals.cost_allocated, CPU_RATE * burned / 3600)


def test_reaped_grandchild_cpu_counts_through_its_parent(burner: Callable[[], Burner]) -> None:
    """A short-lived child the sampler never saw still counts (its parent's children_* times)."""
    child = burner()
    sampler = watching(child.pid, children_every=1000)
    _, whole_before = child.report("burn 0")
    sampler.tick()
    _, whole_after = child.report("child 0.6")
    sample = sampler.tick().targets["k"]
    assert within(sample.cpu_delta, whole_after - whole_before), (sample.cpu_delta, whole_after)


def test_live_grandchild_then_reaped_counts_once(burner: Callable[[], Burner]) -> None:
    """A descendant seen alive and later reaped is neither lost nor counted twice."""
    child = burner()
    sampler = watching(child.pid, children_every=1)
    _, whole_before = child.report("burn 0")
    sampler.tick()
    child.report("hold 0.6")  # grandchild burns 0.6 s and stays alive
    held = child.held_pid()
    live = sampler.tick().targets["k"]
    assert live.num_processes == 2
    assert held > 0
    assert 0.55 <= live.cpu_delta <= 0.8, live.cpu_delta  # its 0.6 s burn, plus its start-up
    _, whole_after = child.report("release")  # killed and reaped: now in children_* times
    reaped = sampler.tick().targets["k"]
    assert reaped.num_processes == 1
    total = live.cpu_delta + reaped.cpu_delta
    assert within(total, whole_after - whole_before), (total, whole_after - whole_before)


def _burn_then_release(
    sampler: Sampler, burner: psutil.Process, parent: subprocess.Popen[str]
) -> TargetSample:
    """Tick until ``burner`` used its 0.5 s of CPU, sample target ``k`` (both processes
    alive), then send ``parent`` a line; the sample."""
    deadline = time.monotonic() + 60
    # /proc counts in clock ticks: the child's 0.5 s may show as a little less
    while sum(burner.cpu_times()[:2]) < 0.45 and time.monotonic() < deadline:
        sampler.tick()
        time.sleep(0.05)
    seen = sampler.tick().targets["k"]
    assert seen.num_processes == 2
    assert parent.stdin is not None
    parent.stdin.write("\n")
    parent.stdin.flush()
    return seen


def test_orphaned_grandchild_cpu_is_carried(tmp_path: object) -> None:
    """A descendant whose parent died keeps counting; when it exits its CPU is not lost."""
    code = (
        "import subprocess, sys, time\n"
        "BURN = 'import time\\nend = time.process_time() + 0.5\\n"
        "while time.process_time() < end: pass\\nimport sys; sys.stdin.read()'\n"
        "p = subprocess.Popen([sys.executable, '-c', BURN], stdin=subprocess.PIPE)\n"
        "print(p.pid, flush=True)\n"
        "sys.stdin.readline()\n"  # exit without waiting: the grandchild is re-parented
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert parent.stdin is not None
    grandchild = int(parent.stdout.readline())
    sampler = watching(parent.pid, children_every=1)
    try:
        import psutil

        g = psutil.Process(grandchild)
        seen = _burn_then_release(sampler, g, parent)
        parent.wait(10)
        after_parent = sampler.tick().targets["k"]
        assert not after_parent.alive
        assert after_parent.num_processes == 1  # the orphan is still tracked
        g.kill()
        g.wait(10)
        final = sampler.tick().targets["k"]
        assert final.num_processes == 0
        assert final.cpu_seconds >= seen.cpu_seconds  # nothing lost, never decreasing
        assert final.cpu_seconds >= 0.45
    finally:
        parent.kill()
        parent.wait()
        subprocess.run(["kill", "-9", str(grandchild)], check=False, capture_output=True)


AUTO_REAP = (
    "import signal, subprocess, sys\n"
    "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"  # children vanish without a wait()
    "BURN = 'import time\\nend = time.process_time() + 0.5\\n"
    "while time.process_time() < end: pass\\nimport sys; sys.stdin.read()'\n"
    "p = subprocess.Popen([sys.executable, '-c', BURN], stdin=subprocess.PIPE)\n"
    "print(p.pid, flush=True)\n"
    "sys.stdin.readline()\n"
    "p.stdin.close()\n"  # the child exits and is reaped by the kernel, not by us
    "import time\n"
    "print('released', time.process_time(), flush=True)\n"
    "sys.stdin.readline()\n"
    "end = time.process_time() + 0.4\n"
    "while time.process_time() < end: pass\n"
    "print(time.process_time(), flush=True)\n"
    "sys.stdin.readline()\n"
)


def test_auto_reaped_child_cpu_is_carried() -> None:
    """A child whose CPU never reaches its parent's children_* times (SIGCHLD ignored) is kept."""
    import psutil

    parent = subprocess.Popen(
        [sys.executable, "-c", AUTO_REAP], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    assert parent.stdin is not None
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        sampler = watching(parent.pid, children_every=1)
        seen = _burn_then_release(sampler, child, parent)
        word, before = parent.stdout.readline().split()
        assert word == "released"
        child.wait(10)
        gone = sampler.tick().targets["k"]
        assert gone.num_processes == 1
        assert gone.cpu_seconds >= seen.cpu_seconds >= 0.45
        parent.stdin.write("\n")  # the parent burns 0.4 s more
        parent.stdin.flush()
        burned = float(parent.stdout.readline()) - float(before)
        after = sampler.tick().targets["k"]
        # the child's 0.5 s was carried, so the parent's new CPU shows in full (not swallowed
        # by the never-decreasing total catching up with a lost 0.5 s)
        assert within(gone.cpu_delta + after.cpu_delta, burned), (after.cpu_delta, burned)
    finally:
        parent.kill()
        parent.wait()


def test_dead_target_keeps_its_figures_and_never_raises(burner: Callable[[], Burner]) -> None:
    child = burner()
    sampler = watching(child.pid)
    child.report("burn 0.2")
    alive = sampler.tick().targets["k"]
    child.stop()
    dead = sampler.tick().targets["k"]
    assert alive.alive
    assert not dead.alive
    assert dead.cpu_seconds >= alive.cpu_seconds
    assert dead.cpu_delta >= 0
    assert dead.rss_bytes == 0
    assert dead.num_processes == 0


def test_unknown_pid_is_quietly_dead() -> None:
    sampler = process_sampler()
    sampler.add_target("ghost", Target(2**22 + 12345))
    sample = sampler.tick().targets["ghost"]
    assert not sample.alive
    assert sample.cpu_seconds == 0


def test_sample_once_measures_this_process() -> None:
    sample = sample_once()
    assert sample.alive
    assert sample.target.pid == os.getpid()
    assert sample.cpu_seconds > 0
    assert sample.rss_bytes > 1 << 20
    assert sample.gpus == ()  # no GPU here, quietly


def test_relabel_keeps_the_process_state(burner: Callable[[], Burner]) -> None:
    child = burner()
    sampler = process_sampler()
    sampler.add_target("k", Target(child.pid, kernel_id="k"))
    sampler.tick()
    sampler.update_target("k", run_id="r1")
    child.report("burn 0.2")
    sample = sampler.tick().targets["k"]
    assert sample.target.run_id == "r1"
    assert sample.cpu_delta > 0.15  # a delta, not the whole life again
    with pytest.raises(TypeError):
        sampler.update_target("k", nonsense="x")


def test_sampler_thread_ticks_and_stops(sleeper: Callable[[], subprocess.Popen[bytes]]) -> None:
    sampler = Sampler(interval=0.05)
    proc = sleeper()
    sampler.add_target("s", Target(proc.pid))
    seen = []
    sampler.subscribe(seen.append)
    sampler.start()
    try:
        deadline = time.monotonic() + 60
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sampler.stop()
    assert not sampler.running
    latest = sampler.latest()
    assert latest is not None
    assert "s" in latest.targets
    assert sampler.stats().ticks >= 3


def test_figures_are_the_ones_psutil_reads(sleeper: Callable[[], subprocess.Popen[bytes]]) -> None:
    """The source's own /proc reads (Linux) give what psutil gives for the same process."""
    import psutil

    proc = sleeper()
    time.sleep(0.3)  # started and asleep: its figures stay put
    use = ProcessTreeSource().collect({"k": Target(proc.pid)}, time.time()).processes["k"]
    p = psutil.Process(proc.pid)
    times = p.cpu_times()
    assert use.cpu_seconds == pytest.approx(sum(times[:4]))
    assert use.rss_bytes == p.memory_info().rss
    assert use.pids == frozenset({proc.pid})
