"""``CostMeter``: a live line of this kernel's use and cost, escaped, stopped on close."""

from __future__ import annotations

import time
from dataclasses import replace

from jupyter_mlops.core.cost import PricingModel
from jupyter_mlops.core.cost.records import TargetGpu
from jupyter_mlops.kernel.cost_widget import render_cost_line
from jupyter_mlops.widgets import CostMeter


def test_meter_updates_and_stops_on_close() -> None:
    pricing = PricingModel.per_resource(rates={"cpu_core_hour": 1.0})
    meter = CostMeter(refresh=0.1, pricing=pricing)
    try:
        deadline = time.monotonic() + 30
        while "/h" not in meter.value and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "CPU " in meter.value
        assert "memory " in meter.value
        assert "/h" in meter.value
        assert " since " in meter.value
    finally:
        meter.close()
    assert not meter.meter.sampler.running


def test_text_is_escaped() -> None:
    pricing = PricingModel.per_resource(rates={"cpu_core_hour": 1.0})
    meter = CostMeter(refresh=60, pricing=pricing)
    try:
        snapshot = meter.meter.sampler.latest()
        assert snapshot is not None
        live = meter.meter.accountant.live("self")
        assert live is not None
        gpu = TargetGpu(
            key="<b>0</b>",
            index=0,
            model="<b>evil</b>",
            mem_bytes=1 << 30,
            util_pct=50.0,
            device_util_pct=50.0,
            power_w=None,
            energy_j=0.0,
        )
        own = replace(snapshot.targets["self"], gpus=(gpu,))
        assert "GPU <b>0</b> 1.00 GiB 50%" in render_cost_line(own, live, time.time())
        meter._show(own, live)
        assert "<b>" not in meter.value
        assert "GPU &lt;b&gt;0&lt;/b&gt; 1.00 GiB 50%" in meter.value
        assert meter.value.startswith("<span>")
    finally:
        meter.close()
