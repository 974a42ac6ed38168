"""The public Python surface: ``jupyter_mlops.__all__`` is exactly what the README documents.

A name added to or dropped from ``__all__`` must be a deliberate, documented change:
update ``DOCUMENTED`` here and the README together.
"""

from __future__ import annotations

import inspect

import pytest

import jupyter_mlops

DOCUMENTED_API = {
    "ActiveRun",
    "active_run",
    "end_run",
    "flush",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_tag",
    "set_tags",
    "start_run",
}
DOCUMENTED = DOCUMENTED_API | {"__version__", "load_ipython_extension", "unload_ipython_extension"}


def test_all_is_the_documented_surface() -> None:
    assert set(jupyter_mlops.__all__) == DOCUMENTED
    assert len(jupyter_mlops.__all__) == len(DOCUMENTED), "duplicates in __all__"


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_each_public_name_resolves(name: str) -> None:
    value = getattr(jupyter_mlops, name)
    if name == "__version__":
        assert isinstance(value, str)
        assert value
        return
    assert callable(value)
    assert inspect.getdoc(value), f"jupyter_mlops.{name} has no docstring"


@pytest.mark.parametrize("name", sorted(DOCUMENTED_API))
def test_api_names_come_from_the_kernel_api(name: str) -> None:
    from jupyter_mlops.kernel import api

    assert getattr(jupyter_mlops, name) is getattr(api, name)
    assert name in api.__all__


def test_documented_keywords_of_start_run() -> None:
    parameters = inspect.signature(jupyter_mlops.start_run).parameters
    assert {"experiment", "project", "tags"} <= set(parameters)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = jupyter_mlops.no_such_name  # type: ignore[attr-defined]


def test_widgets_module() -> None:
    from jupyter_mlops import widgets

    assert widgets.__all__ == ["CostMeter", "RunView"]
    assert inspect.isclass(widgets.RunView)
    assert inspect.isclass(widgets.CostMeter)


def test_extension_entry_points() -> None:
    from jupyter_mlops.server.app import MlopsExtensionApp

    points = jupyter_mlops._jupyter_server_extension_points()
    assert points == [{"module": "jupyter_mlops", "app": MlopsExtensionApp}]
    assert MlopsExtensionApp.name == "jupyter_mlops"
    assert jupyter_mlops._jupyter_labextension_paths() == [
        {"src": "labextension", "dest": "jupyter-mlops"}
    ]


def test_package_import_leaves_the_api_for_first_use() -> None:
    """``import jupyter_mlops`` is cheap: ``kernel.api`` loads on the first API name (or ``__all__``)."""
    import subprocess
    import sys

    code = (
        "import sys, jupyter_mlops\n"
        "before = 'jupyter_mlops.kernel.api' in sys.modules\n"
        "jupyter_mlops.start_run\n"
        "print(before, 'jupyter_mlops.kernel.api' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
