"""ipywidgets for jupyter-mlops, for JupyterLab, classic Notebook and Voila.

::

    from jupyter_mlops.widgets import RunView
    RunView()            # the active run: status, parameters, live metric chart
    CostMeter()          # this kernel's CPU, memory, GPUs, $/h and cost, kept current

ipywidgets (and matplotlib) are imported only when a widget is first used, so
``import jupyter_mlops`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.kernel.cost_widget import CostMeter
    from jupyter_mlops.kernel.widgets import RunView

__all__ = ["CostMeter", "RunView"]


def __getattr__(name: str) -> Any:
    if name == "RunView":
        from jupyter_mlops.kernel.widgets import RunView

        return RunView
    if name == "CostMeter":
        from jupyter_mlops.kernel.cost_widget import CostMeter

        return CostMeter
    raise AttributeError(f"module 'jupyter_mlops.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
