"""A real Jupyter kernel burning a known amount of CPU: attributed within 5%, priced rate x time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_exec import execute

from jupyter_mlops.core.cost.accounting import CostAccountant
from jupyter_mlops.core.cost.ledger import Ledger
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Target
from jupyter_mlops.core.cost.sampler import Sampler
from jupyter_mlops.core.cost.sources import ProcessTreeSource

CPU_RATE = 0.75
BURN = (
    "import time\n"
    "end = time.process_time() + {seconds}\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "print(time.process_time())"
)


def _run(client: Any, code: str) -> str:
    """Execute ``code`` and return its stdout once the kernel is idle again."""
    status, outputs = execute(client, code)
    assert status == "ok", outputs
    return "".join(o["text"] for o in outputs if o["type"] == "stream")


@pytest.mark.slow
def test_real_kernel_cpu_is_attributed_and_priced(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=child_env)
    try:
        pid = manager.provisioner.pid
        ledger = Ledger(f"sqlite:///{tmp_path / 'cost.db'}")
        pricing = PricingModel.per_resource(
            rates={"cpu_core_hour": CPU_RATE, "ram_gb_hour": 0.0, "cpu_watts_per_core": 0.0}
        )
        accountant = CostAccountant(pricing, ledger, flush_interval=0)
        sampler = Sampler([ProcessTreeSource()])
        sampler.subscribe(accountant.on_snapshot)
        sampler.add_target(
            "kernel-1", Target(pid, kernel_id="kernel-1", notebook="burn.ipynb", project="p")
        )

        before = float(_run(client, "import time; print(time.process_time())"))
        sampler.tick()
        after = float(_run(client, BURN.format(seconds=1.0)))
        sample = sampler.tick().targets["kernel-1"]
        burned = after - before

        assert burned >= 1.0
        assert abs(sample.cpu_delta - burned) <= 0.05 * burned, (sample.cpu_delta, burned)
        assert sample.alive
        assert sample.rss_bytes > 10 << 20
        accountant.flush()
        totals = ledger.totals(kernel_id="kernel-1")
        assert totals.cpu_core_seconds == pytest.approx(sample.cpu_delta)
        assert totals.cost_allocated == pytest.approx(CPU_RATE * totals.cpu_core_seconds / 3600)
        assert (
            abs(totals.cost_allocated - CPU_RATE * burned / 3600) <= 0.05 * CPU_RATE * burned / 3600
        )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
