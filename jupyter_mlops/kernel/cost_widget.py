"""``CostMeter``: this kernel's live compute use and cost, as one line that updates itself.

An ``ipywidgets.HTML`` (works in JupyterLab, classic Notebook and Voila). A
:class:`~jupyter_mlops.core.cost.meter.ProcessMeter` samples this kernel's
process tree every ``refresh`` seconds on its own thread and each sample
re-renders the line: CPU %, memory, GPUs held, the live cost per hour and the
cost since the meter started. Every piece of text is HTML-escaped. Closing the
widget stops the thread.
"""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.accounting import LiveCost
    from jupyter_mlops.core.cost.meter import ProcessMeter
    from jupyter_mlops.core.cost.records import TargetSample

__all__ = ["CostMeter", "render_cost_line"]

_GIB = 1024.0**3


def render_cost_line(sample: TargetSample, live: LiveCost, since: float) -> str:
    """The meter's text for one sample (plain text; the widget escapes it)."""
    from jupyter_mlops.core.cost.alerts import format_money

    parts = [f"CPU {sample.cpu_percent:.0f}%", f"memory {sample.rss_bytes / _GIB:.2f} GiB"]
    for gpu in sample.gpus:
        util = "" if gpu.util_pct is None else f" {gpu.util_pct:.0f}%"
        parts.append(f"GPU {gpu.key} {gpu.mem_bytes / _GIB:.2f} GiB{util}")
    currency = live.rate.currency
    parts.append(f"{format_money(live.rate.allocated, currency)}/h")
    started = time.strftime("%H:%M:%S", time.localtime(since))
    parts.append(f"{format_money(live.session.cost_allocated, currency)} since {started}")
    return " · ".join(parts)


class CostMeter(widgets.HTML):  # type: ignore[misc]
    """This kernel's CPU, memory, GPUs, $/h and cost since the meter was shown, kept current.

    ``refresh``: seconds between samples (default 2). ``pricing``: a
    :class:`~jupyter_mlops.core.cost.PricingModel` (default: the ``cost_*``
    settings of ``MlopsConfig``, as ``%mlops cost`` uses).
    """

    def __init__(self, refresh: float = 2.0, pricing: Any = None, **kwargs: Any) -> None:
        from jupyter_mlops.core.cost.meter import ProcessMeter
        from jupyter_mlops.kernel.api import kernel_pricing

        super().__init__(value="<span>measuring…</span>", **kwargs)
        self.meter: ProcessMeter = ProcessMeter(
            pricing or kernel_pricing(), interval=max(0.1, float(refresh))
        )
        self.meter.listeners.append(self._show)
        self.meter.start()

    def _show(self, sample: TargetSample, live: LiveCost) -> None:
        since = self.meter.started or time.time()
        self.value = f"<span>{html.escape(render_cost_line(sample, live, since))}</span>"

    def stop(self) -> None:
        """Stop measuring (the line keeps its last value)."""
        self.meter.stop()

    def close(self) -> None:
        self.stop()
        super().close()
