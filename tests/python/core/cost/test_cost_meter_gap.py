"""A meter of another process started late (a pipeline execution's kernel, metered from a
thread once the kernel runs) books what that process used before the meter's first sample:
its start-up and its first work were lost before, so short executions logged no cost."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from jupyter_mlops.core.cost.meter import ProcessMeter
from jupyter_mlops.core.cost.pricing import PricingModel

BURN = (
    "import sys, time\n"
    "end = time.process_time() + 0.8\n"
    "while time.process_time() < end: pass\n"
    "print('burnt', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_late_meter_of_a_new_process_books_its_cpu_before_the_first_sample() -> None:
    since = time.time()
    child = subprocess.Popen(
        [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "burnt"
        times = psutil.Process(child.pid).cpu_times()
        used = times.user + times.system  # what it used before the meter was up
        meter = ProcessMeter(PricingModel.per_resource(), interval=1.0, pid=child.pid)
        meter.start(thread=False, since=since, cpu_at_since=0.0)  # a new process: none before
        totals = meter.stop()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    assert used >= 0.8 - 0.02  # /proc counts whole clock ticks (10 ms): 0.8 s may read 0.79
    # booked: its CPU as the first sample read it (a little more than `used`, read earlier)
    assert used * 0.98 <= totals.cpu_core_seconds <= used + 0.5
    assert totals.cost_allocated > 0


def test_a_late_meter_of_a_process_already_gone_books_no_cpu_of_this_one() -> None:
    since = time.time()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(30)
    meter = ProcessMeter(PricingModel.per_resource(), interval=1.0, pid=child.pid)
    meter.start(thread=False, since=since, cpu_at_since=0.0)
    # the gone process was not read: nothing of this (test) process's CPU is booked for it
    assert meter.stop().cpu_core_seconds == 0.0
