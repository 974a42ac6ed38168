"""ipywidgets for jupyter-mlops, for JupyterLab, classic Notebook and Voila.

::

    from jupyter_mlops.widgets import RunView
    RunView()            # the active run: status, parameters, live metric chart

ipywidgets (and matplotlib) are imported only when a widget is first used, so
``import jupyter_mlops`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.kernel.widgets import RunView

__all__ = ["RunView"]


def __getattr__(name: str) -> Any:
    if name == "RunView":
        from jupyter_mlops.kernel.widgets import RunView

        return RunView
    raise AttributeError(f"module 'jupyter_mlops.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
