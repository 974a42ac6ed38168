"""``%mlops cost`` and ``%%mlops track``: this kernel's compute cost, and one cell's.

Listed in :data:`SUBCOMMANDS`, which :mod:`jupyter_mlops.kernel.magics` dispatches
to. psutil, NVML and the price
catalogue load when a subcommand runs, never at ``%load_ext``. Prices come from
the ``cost_*`` settings of ``MlopsConfig`` (``$JUPYTER_MLOPS_COST_CATALOGUE``
for another catalogue), the same ones the server uses.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from jupyter_mlops.exceptions import MlopsError, UsageError
from jupyter_mlops.kernel.keepalive_magics import KEEP_ALIVE
from jupyter_mlops.kernel.parsing import Invocation, Subcommand

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.advice import Peaks
    from jupyter_mlops.core.cost.pricing import Usage
    from jupyter_mlops.core.cost.records import TargetSample
    from jupyter_mlops.core.cost.totals import Totals

__all__ = ["SUBCOMMANDS", "format_duration", "kernel_peaks", "track_metrics"]

_GIB = 1024.0**3


def format_duration(seconds: float) -> str:
    """``0.42 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _money(amount: float, currency: str) -> str:
    from jupyter_mlops.core.cost.alerts import format_money

    return format_money(amount, currency)


def _budget_warnings() -> None:
    """Print each budget threshold this kernel has not announced yet (once per period)."""
    from jupyter_mlops.kernel.cost_budget import announce_budgets

    announce_budgets(force=True)


# -- %mlops cost -------------------------------------------------------------------------


def _cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--advice",
        action="store_true",
        help="right-sizing advice: peak RAM, CPU and GPU memory against this machine, and the\n"
        "cheapest catalogued instance that would fit, with the hourly saving (or that this\n"
        "machine is already the cheapest fit)",
    )


def kernel_peaks(sample: TargetSample, usage: Usage) -> Peaks:
    """This kernel's peaks from one sample: the highest resident memory the kernel (or a
    reaped child) ever had (``getrusage``), CPU cores on average over its life, GPU memory now."""
    from jupyter_mlops.core.cost.advice import Peaks

    rss = sample.rss_bytes
    try:
        import resource

        scale = 1 if sys.platform == "darwin" else 1024  # macOS: bytes; Linux: KiB
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
            rss = max(rss, resource.getrusage(who).ru_maxrss * scale)
    except (ImportError, OSError):  # Windows: no resource module
        pass
    wall = usage.wall_seconds
    average = usage.cpu_core_seconds / wall if wall > 0 else 0.0
    return Peaks(
        cpu_cores=average,
        rss_bytes=int(rss),
        gpu_mem_bytes=sum(g.mem_bytes for g in sample.gpus),
        gpus=len({g.index for g in sample.gpus}),
        cpu_average=average,
    )


def _cost(inv: Invocation) -> None:
    from jupyter_mlops.core.cost.meter import lifetime_cost
    from jupyter_mlops.core.cost.sampler import snapshot_once
    from jupyter_mlops.kernel.api import kernel_pricing

    pricing = kernel_pricing()
    snapshot = snapshot_once()
    sample = snapshot.targets["once"]
    usage, cost = lifetime_cost(pricing, sample)
    if inv.args.advice:
        from jupyter_mlops.core.cost.advice import Machine, right_size

        advice = right_size(kernel_peaks(sample, usage), pricing, Machine.detect(snapshot))
        print(advice.sentence(cpu="CPU average"))
        for note in advice.notes:
            print(note)
        return
    lines = [
        f"Kernel up {format_duration(usage.wall_seconds)}: "
        f"CPU {format_duration(usage.cpu_core_seconds)}, "
        f"memory {sample.rss_bytes / _GIB:.2f} GiB now ({sample.num_processes} processes)",
    ]
    for gpu in sample.gpus:
        util = "" if gpu.util_pct is None else f", {gpu.util_pct:.0f}% busy"
        lines.append(f"GPU {gpu.key} ({gpu.model}): {gpu.mem_bytes / _GIB:.2f} GiB held{util}")
    lines.append(
        f"Cost so far: {_money(cost.allocated, cost.currency)} "
        f"(at {_money(cost.allocated / max(usage.wall_seconds, 1e-9) * 3600, cost.currency)}/h "
        f"on average; pricing {pricing.pricing_id()})"
    )
    print("\n".join(lines))
    _budget_warnings()


COST = Subcommand(
    "cost",
    "this kernel's compute use and cost so far",
    _cost,
    arguments=_cost_options,
    details="CPU time is the kernel's (and its subprocesses') since it started; memory and\n"
    "GPUs are priced as held now over the kernel's life (an estimate). The server's Cost\n"
    "view measures every second instead.\n"
    "With --advice: peak RAM (the kernel's highest ever), CPU cores (on average over the\n"
    "kernel's life) and GPU memory (held now) against this machine, and the cheapest\n"
    "catalogued instance (and GPU) that fits them with 20% headroom, with the saving per\n"
    "hour against the current pricing; when nothing that fits costs less, it says this\n"
    "machine is already the cheapest fit. A kernel that used no GPU is never offered one.\n"
    "examples:\n  %mlops cost\n  %mlops cost --advice",
)


# -- %%mlops track -----------------------------------------------------------------------


def track_metrics(totals: Totals, wall: float, currency: str) -> dict[str, float]:
    """What ``%%mlops track`` logs to an active run (prefix ``cell/``)."""
    c = currency.lower()
    return {
        "cell/wall_seconds": wall,
        "cell/cpu_seconds": totals.cpu_core_seconds,
        "cell/gpu_seconds": totals.gpu_seconds,
        "cell/peak_rss_gb": totals.peak_rss_bytes / _GIB,
        f"cell/cost_{c}": totals.cost_allocated,
    }


def _track_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=float,
        default=0.2,
        metavar="SECONDS",
        help="seconds between samples while the cell runs (peak memory) (default: 0.2)",
    )
    parser.add_argument(
        "--no-log",
        action="store_true",
        help="do not log the figures to the active run (they are always printed)",
    )


def _track(inv: Invocation) -> None:
    from jupyter_mlops.core.cost.meter import ProcessMeter
    from jupyter_mlops.kernel import api

    body, shell = inv.cell_body("measure below %%mlops track")
    if not inv.args.interval > 0:
        raise UsageError("--interval must be a positive number of seconds.")
    meter = ProcessMeter(api.kernel_pricing(), interval=inv.args.interval)
    meter.start()
    start = time.perf_counter()
    try:
        result = shell.run_cell(body, store_history=False)  # type: ignore[no-untyped-call]
    finally:
        wall = time.perf_counter() - start
        totals = meter.stop()
    currency = meter.pricing.currency
    print(
        f"wall {format_duration(wall)}, CPU {format_duration(totals.cpu_core_seconds)}, "
        f"GPU {format_duration(totals.gpu_seconds)}, "
        f"peak memory {totals.peak_rss_bytes / _GIB:.2f} GiB, "
        f"cost {_money(totals.cost_allocated, currency)}"
    )
    info = api.active_run()
    if info is not None and not inv.args.no_log:
        try:
            api.log_metrics(track_metrics(totals, wall, currency))
        except MlopsError as err:
            print(f"(not logged to run {info.run_id}: {err})")
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise MlopsError(f"The cell raised {type(error).__name__}.")


TRACK = Subcommand(
    "track",
    "run the cell and report its wall, CPU and GPU time, peak memory and cost",
    _track,
    arguments=_track_options,
    details="With an active run the figures are also logged as metrics cell/wall_seconds,\n"
    "cell/cpu_seconds, cell/gpu_seconds, cell/peak_rss_gb and cell/cost_usd.\n"
    "example:\n  %%mlops track\n  model.fit(X, y)",
    cell=True,
)

SUBCOMMANDS = (COST, TRACK, KEEP_ALIVE)
