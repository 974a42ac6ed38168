"""``jupyter_mlops.widgets.RunView`` on a real store."""

from __future__ import annotations

import ipywidgets
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.exceptions import NotFoundError, RunStateError, UsageError
from jupyter_mlops.kernel import api
from jupyter_mlops.kernel.widgets import render_chart
from jupyter_mlops.widgets import RunView

PNG = b"\x89PNG\r\n\x1a\n"
EVIL = "<img src=x onerror=alert(1)>"


def test_public_module_exports_run_view() -> None:
    import jupyter_mlops.widgets as public

    assert public.__all__ == ["CostMeter", "RunView"]
    assert issubclass(public.RunView, ipywidgets.DOMWidget)


def test_needs_an_active_run_or_a_run_id(store: str) -> None:
    with pytest.raises(RunStateError):
        RunView()


def test_shows_run_text_escaped(store: str) -> None:
    with mlops.start_run(experiment="widget", run_name=EVIL, tags={"note": EVIL}) as run:
        mlops.log_params({"evil": EVIL, "lr": 0.1})
        view = RunView(refresh=None)
        try:
            html = view._header.value + view._details.value
            assert EVIL not in html
            assert "&lt;img src=x onerror=alert(1)&gt;" in html
            assert run.run_id in view._header.value
            assert "RUNNING" in view._header.value
            assert "No metrics yet" in view._message.value
            assert not view.running
        finally:
            view.close()


def test_chart_appears_after_metrics_are_logged(store: str) -> None:
    with mlops.start_run(experiment="widget-chart") as run:
        view = RunView(run.run_id, refresh=None)
        try:
            assert view._chart.layout.display == "none"
            for step in range(5):
                mlops.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 5}, step=step)
            view.refresh()
            assert bytes(view._chart.value).startswith(PNG)
            assert view._chart.layout.display is None
            assert view._message.value == ""
        finally:
            view.close()


def test_background_thread_stops_on_close(store: str) -> None:
    with mlops.start_run(experiment="widget-thread"):
        view = RunView(refresh=0.05)
        thread = view._thread
        assert thread is not None
        assert view.running
        view.close()
        assert not thread.is_alive()
        assert view.comm is None


def test_background_thread_stops_when_the_run_ends(store: str) -> None:
    with mlops.start_run(experiment="widget-end") as run:
        view = RunView(refresh=0.05)
        mlops.log_metric("m", 1.0, step=0)
    thread = view._thread
    assert thread is not None
    thread.join(timeout=60)  # generous: the thread sees FINISHED on its next refresh
    try:
        assert not thread.is_alive()
        assert view.status == "FINISHED"
        assert "FINISHED" in view._header.value
        assert bytes(view._chart.value).startswith(PNG)
    finally:
        view.close()
    assert api.active_run() is None
    assert run.run_id in view._header.value


def test_finished_run_starts_no_thread(store: str) -> None:
    with mlops.start_run(experiment="widget-done") as run:
        mlops.log_metric("m", 2.0, step=1)
    view = RunView(run.run_id, refresh=0.05)
    try:
        assert view._thread is None
        assert view.status == "FINISHED"
        assert bytes(view._chart.value).startswith(PNG)
    finally:
        view.close()


def test_chart_survives_odd_metric_names() -> None:
    png = render_chart({"a$b": [(0, 1.0), (1, 2.0)], "$\\frac$": [(0, 1.0)], "c": []})
    assert png.startswith(PNG)


def test_unknown_run_is_not_found(store: str) -> None:
    with pytest.raises(NotFoundError):
        RunView("0123456789abcdef", refresh=None)


@pytest.mark.parametrize("refresh", [-1.0, float("nan")])
def test_refresh_must_be_a_non_negative_interval(refresh: float) -> None:
    with pytest.raises(UsageError):
        RunView("0123456789abcdef", refresh=refresh)
