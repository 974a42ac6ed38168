"""``RunView``: one run's status, parameters and a live chart of its metrics.

A plain ``ipywidgets.VBox`` of ``HTML`` and ``Image`` widgets, so it works
wherever ipywidgets do (JupyterLab, classic Notebook, Voila). Text from the run
(ids, names, parameters, tags, errors) is HTML-escaped: it renders as text.
The chart is drawn by matplotlib's Agg canvas (no pyplot: the user's backend and
figures are untouched) into a PNG. A daemon thread re-reads the run from the
tracking store every ``refresh`` seconds, after flushing this process's spool
when the run is the active one; it stops when the run ends or the view closes.
Setting widget traits from that thread is safe: ipykernel sends comm messages
through its IOPub thread, and a closed widget sends nothing.
"""

from __future__ import annotations

import html
import io
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from jupyter_mlops.exceptions import RunStateError, UsageError

__all__ = ["RunView", "render_chart"]

_MAX_VALUE_CHARS = 300
_TERMINAL = ("FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class _Snapshot:
    status: str
    run_name: str
    experiment_id: str
    params: dict[str, str]
    tags: dict[str, str]
    histories: dict[str, list[tuple[int, float]]]


def render_chart(histories: Mapping[str, Sequence[tuple[int, float]]]) -> bytes:
    """A PNG with one small line chart (value by step) per metric, in name order."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = sorted(histories)
    ncols = 1 if len(keys) < 2 else 2
    nrows = max(1, math.ceil(len(keys) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 2.6 * nrows), dpi=80)
    FigureCanvasAgg(fig)
    for index, key in enumerate(keys, start=1):
        points = sorted(histories[key])
        ax = fig.add_subplot(nrows, ncols, index)
        ax.plot(
            [p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 60 else ""
        )
        ax.set_title(key.replace("$", r"\$"), fontsize=10)  # "$" would start mathtext
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _text(value: object) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 1] + "…"
    return html.escape(text)


def _table(title: str, items: Mapping[str, str]) -> str:
    if not items:
        return f"<p><b>{title}</b>: none</p>"
    cell = 'style="padding:1px 12px 1px 0;text-align:left;vertical-align:top"'
    rows = "".join(
        f"<tr><td {cell}><code>{_text(key)}</code></td><td {cell}>{_text(items[key])}</td></tr>"
        for key in sorted(items)
    )
    return f"<b>{title}</b><table>{rows}</table>"


class RunView(widgets.VBox):  # type: ignore[misc]
    """Live view of one run: id, status, parameters, tags and a metric chart.

    ``RunView()`` shows the active run; ``RunView(run_id=...)`` any run of the
    store (``tracking_uri`` defaults to the tracker's). ``refresh`` is the
    number of seconds between background updates (``None`` or 0: only on
    :meth:`refresh`). :meth:`close` stops the background thread.
    """

    def __init__(
        self,
        run_id: str | None = None,
        *,
        refresh: float | None = 2.0,
        tracking_uri: str | None = None,
        max_metrics: int = 12,
        **kwargs: Any,
    ) -> None:
        from jupyter_mlops.kernel import api

        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if refresh is not None and not refresh >= 0:
            raise UsageError(f"refresh must be seconds >= 0 or None, not {refresh!r}.")
        active = api.active_run()
        if run_id is None:
            if active is None:
                raise RunStateError(
                    "No active run to show.",
                    hint="start one with %mlops start, or pass RunView(run_id=...)",
                )
            run_id = active.run_id
        if tracking_uri is None:
            same = active is not None and active.run_id == run_id
            tracking_uri = active.tracking_uri if same and active else _default_uri()
        self._header = widgets.HTML()
        self._details = widgets.HTML()
        self._chart = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self._message = widgets.HTML()
        super().__init__(
            children=[self._header, self._details, self._chart, self._message], **kwargs
        )
        self.run_id: str = run_id
        self.tracking_uri: str = tracking_uri
        self.refresh_interval = refresh
        self.max_metrics = max_metrics
        self.status = "UNKNOWN"
        self._drawn: object = None
        try:
            self.refresh()
        except BaseException:
            self.close()
            raise
        if refresh and self.status not in _TERMINAL:
            self._thread = threading.Thread(
                target=self._loop, name=f"jupyter-mlops-runview-{run_id[:8]}", daemon=True
            )
            self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the background refresh thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def refresh(self) -> None:
        """Re-read the run from the store and update the view now."""
        with self._lock:
            snap = self._read()
            self.status = snap.status
            self._render(snap)

    def close(self) -> None:
        """Stop the background thread, then close the view and its parts."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        for child in self.children:
            child.close()
        super().close()

    def _loop(self) -> None:
        while not self._stop.wait(self.refresh_interval or 1.0):
            try:
                self.refresh()
            except Exception as exc:  # keep the view alive and say what failed
                self._message.value = (
                    f'<span style="color:#b71c1c">Could not refresh: {_text(exc)}</span>'
                )
                continue
            if self.status in _TERMINAL:
                return

    def _read(self) -> _Snapshot:
        from jupyter_mlops.core.tracking import query
        from jupyter_mlops.kernel import api

        active = api.active_run()
        if active is not None and active.run_id == self.run_id:
            api.flush()
        client = query.connect(self.tracking_uri)
        run = query.get_run(client, self.run_id)
        histories = {
            key: [
                (point["step"], point["value"])
                for point in query.metric_history(client, self.run_id, key)["points"]
                if point["value"] is not None
            ]
            for key in sorted(run["metrics"])[: self.max_metrics]
        }
        return _Snapshot(
            status=run["status"],
            run_name=run["run_name"],
            experiment_id=run["experiment_id"],
            params=run["params"],
            tags=run["tags"],
            histories=histories,
        )

    def _render(self, snap: _Snapshot) -> None:
        name = f" {_text(snap.run_name)}" if snap.run_name else ""
        self._header.value = (
            f"<b>Run</b> <code>{_text(self.run_id)}</code>{name} &middot; "
            f"<b>{_text(snap.status)}</b> &middot; experiment <code>{_text(snap.experiment_id)}</code>"
        )
        self._details.value = _table("Parameters", snap.params) + _table("Tags", snap.tags)
        drawn = tuple((k, len(v), v[-1] if v else None) for k, v in sorted(snap.histories.items()))
        if drawn != self._drawn:
            if snap.histories:
                self._chart.value = render_chart(snap.histories)
                self._chart.layout.display = None
            else:
                self._chart.layout.display = "none"
            self._drawn = drawn
        self._message.value = "" if snap.histories else "<i>No metrics yet.</i>"


def _default_uri() -> str:
    from jupyter_mlops.kernel import api

    return str(api.get_tracker().tracking_uri)
