"""Notebook reports: the notebook as saved, and an HTML report rendered with nbconvert.

:func:`render_report` uses nbconvert's ``HTMLExporter`` with the ``lab`` template,
minus every script that template adds (require.js, MathJax, Mermaid, the widget
renderer, all loaded from CDNs): a report holds the notebook's own cells and outputs
and nothing else, nothing from the environment. Panels show it in a sandboxed frame
anyway, since the notebook's own outputs may hold HTML and script.

Run as ``python -m jupyter_mlops.core.tracking.report --queue DIR --entry ID [--lock-fd FD]``,
this module is the detached worker that
:meth:`jupyter_mlops.core.artifacts.queue.ArtifactQueue.log_report` starts: it uploads the
staged notebook, renders its report, uploads that and records the entry done, while
holding the entry's lock (inherited as ``FD``). The tracking URI comes in its
environment (``JUPYTER_MLOPS_REPORT_TRACKING_URI``), never in its argv.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_mlops.core.artifacts.delivery import (
    URI_ENV,
    ArtifactHealth,
    drop_entry,
    finish_if_idle,
    report_lock_path,
)
from jupyter_mlops.core.artifacts.staging import (
    DONE,
    ENTRIES,
    MANIFEST,
    OWNER,
    REPORT,
    QueueOwner,
    append_line,
    clone_or_copy,
    read_manifest,
    remove_tree,
)
from jupyter_mlops.core.tracking.delivery import is_permanent_error, quiet_store_errors
from jupyter_mlops.exceptions import InvalidValueError

__all__ = ["main", "render_report", "run_report_entry", "snapshot_notebook"]

_TEMPLATE = "jupyter_mlops_report.html.j2"
_TEMPLATE_SOURCE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_PATIENCE = 600.0  # seconds a worker keeps retrying an unreachable store before leaving
# the entry to recover_artifacts


ENV_REPORT = "JUPYTER_MLOPS_NOTEBOOK_REPORT"


def reports_enabled() -> bool:
    """Whether runs get notebook reports: ``$JUPYTER_MLOPS_NOTEBOOK_REPORT`` (0/false/no/off: no).

    The default of ``c.MlopsConfig.notebook_report``, and what pipeline executions follow.
    """
    return os.environ.get(ENV_REPORT, "1").strip().lower() not in ("0", "false", "no", "off")


_exporter_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _exporter() -> Any:
    """One HTML exporter per process: building its template environment costs more than
    rendering a notebook (a warm pipeline worker renders many)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        template_file=_TEMPLATE,
        extra_loaders=[DictLoader({_TEMPLATE: _TEMPLATE_SOURCE})],
    )


def render_report(notebook: Path, html_out: Path) -> None:
    """Render ``notebook`` to ``html_out`` (replaced atomically) with nbconvert's lab template.

    Nothing is executed and no script is added; raises nbconvert's or nbformat's error
    for a file that is not a notebook.
    """
    with _exporter_lock:
        body, _ = _exporter().from_filename(str(notebook))
    html_out = Path(html_out)
    tmp = html_out.with_name(f".{html_out.name}.{os.getpid()}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, html_out)


def snapshot_notebook(notebook: Path, dest_dir: Path) -> Path:
    """A copy of ``notebook`` as saved on disk, in ``dest_dir`` (created); its path."""
    notebook = Path(notebook)
    if not notebook.is_file():
        raise InvalidValueError(
            f"{notebook} is not a saved notebook file.", hint="save the notebook first"
        )
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / notebook.name
    clone_or_copy(notebook, dest)
    return dest


def _upload(send: Callable[[], None], health: ArtifactHealth, patience: float) -> str:
    """``"ok"``, ``"refused"`` (the store rejects it for good: the message) or ``""`` (gave up
    waiting for the store)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            send()
            return "ok"
        except Exception as exc:
            if is_permanent_error(exc):
                return f"refused: {type(exc).__name__}: {exc}"
            health.failed(exc)
            if time.monotonic() >= deadline:
                return ""
            time.sleep(min(health.retry_delay(1.0), max(deadline - time.monotonic(), 0.01)))


def run_report_entry(
    folder: Path,
    entry_id: str,
    tracking_uri: str | None = None,
    *,
    client: Any = None,
    patience: float = _PATIENCE,
) -> bool:
    """Upload report entry ``entry_id`` of queue ``folder``: the notebook, then its report.

    The caller holds the entry's lock. True when the entry is finished (done, or
    dropped because the store refused it or the notebook does not render), False when
    the store stayed unreachable for ``patience`` seconds (the entry stays staged).
    """
    entry = next((e for e in read_manifest(folder / MANIFEST) if e.id == entry_id), None)
    lock_path = report_lock_path(folder, entry_id)
    owner = QueueOwner.read(folder / OWNER)
    if entry is None or entry.kind != REPORT or owner is None:
        lock_path.unlink(missing_ok=True)
        return True
    staged = folder / ENTRIES / entry_id
    notebook = staged / f"{entry.name}.ipynb"
    html = staged / f"{entry.name}.html"
    if not notebook.is_file():
        drop_entry(folder, owner.run_id, entry, None)
        return True
    uri = tracking_uri or owner.tracking_uri
    if client is None:
        from jupyter_mlops.core.tracking.store import get_client

        client = get_client(uri)
    health = ArtifactHealth(uri, str(folder))
    with quiet_store_errors():
        sent = _upload(
            lambda: client.log_artifact(owner.run_id, str(notebook), entry.artifact_path),
            health,
            patience,
        )
        if sent == "ok" and not html.exists():
            try:
                render_report(notebook, html)
            except Exception as exc:
                sent = f"the notebook did not render: {type(exc).__name__}: {exc}"
        if sent == "ok":
            sent = _upload(
                lambda: client.log_artifact(owner.run_id, str(html), entry.artifact_path),
                health,
                patience,
            )
    if not sent:
        return False
    if sent == "ok":
        append_line(folder / MANIFEST, [DONE, entry_id])
        remove_tree(staged)
        lock_path.unlink(missing_ok=True)
    else:
        drop_entry(folder, owner.run_id, entry, sent)
    return True


def _detach() -> None:
    """Leave the starting process's tree (fork; the parent exits at once).

    The worker then belongs to no kernel: its rendering is not metered as the
    kernel's or the next run's compute, and the kernel has nothing to reap.
    The inherited entry lock stays held by this (the child's) copy of the fd.
    """
    if not hasattr(os, "fork"):
        return
    if os.fork() > 0:
        os._exit(0)


def main(argv: list[str] | None = None) -> int:
    """The report worker (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m jupyter_mlops.core.tracking.report")
    parser.add_argument("--queue", required=True, help="the run's artifact queue folder")
    parser.add_argument("--entry", required=True, help="the report entry's id")
    parser.add_argument("--lock-fd", type=int, default=None, help="inherited entry lock")
    args = parser.parse_args(argv)
    _detach()
    folder = Path(args.queue)
    uri = os.environ.pop(URI_ENV, None)
    try:
        run_report_entry(folder, args.entry, uri)
    finally:
        if args.lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(args.lock_fd)
    finish_if_idle(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
