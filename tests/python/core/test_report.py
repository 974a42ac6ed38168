"""Notebook reports: nbconvert HTML and the saved notebook, uploaded by a detached worker."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import stored, wait_for

from jupyter_mlops.core.artifacts import queue as artifacts
from jupyter_mlops.core.artifacts.queue import ArtifactQueue, recover_artifacts
from jupyter_mlops.core.artifacts.staging import read_manifest
from jupyter_mlops.core.tracking.report import render_report, run_report_entry, snapshot_notebook

CANARY = "secret123-canary"


def _wait_worker(condition: Callable[[], bool], timeout: float = 180.0) -> None:
    wait_for(condition, timeout=timeout, interval=0.1)  # a worker imports MLflow and nbconvert


def _new_run(store: Any, location: Path) -> str:
    exp = store.client.create_experiment("reports", artifact_location=location.as_uri())
    run_id: str = store.client.create_run(exp).info.run_id
    return run_id


def _stream(text: str) -> dict[str, Any]:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _notebook(path: Path, *extra_outputs: dict[str, Any]) -> Path:
    """A small executed notebook (nbformat 4), written as its JSON."""

    def code(source: str, count: int, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "id": f"c{count}",
            "metadata": {},
            "source": source,
            "execution_count": count,
            "outputs": outputs,
        }

    cells = [
        {"cell_type": "markdown", "id": "m0", "metadata": {}, "source": "# Training report"},
        code("print('accuracy', 0.93)", 1, [_stream("accuracy 0.93-unique-output\n")]),
    ]
    if extra_outputs:
        cells.append(code("show()", 2, list(extra_outputs)))
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> str:
    """A secret in the environment of this process and of every worker it starts."""
    monkeypatch.setenv("JUPYTER_MLOPS_TEST_CANARY", CANARY)
    return CANARY


@pytest.fixture
def queue(mlflow_store: Any, spool_dir: Path, tmp_path: Path) -> Iterator[ArtifactQueue]:
    run_id = _new_run(mlflow_store, tmp_path / "artifact-volume")
    made = ArtifactQueue(spool_dir, run_id, mlflow_store.uri, flush_interval=0.05)
    yield made
    made.close()


def test_render_report_holds_the_outputs_and_adds_no_script(tmp_path: Path, canary: str) -> None:
    notebook = _notebook(tmp_path / "train.ipynb")
    html_out = tmp_path / "out" / "train.html"
    html_out.parent.mkdir()
    render_report(notebook, html_out)
    html = html_out.read_text(encoding="utf-8")
    assert "accuracy 0.93-unique-output" in html
    assert "Training report" in html
    assert "<script" not in html  # no require.js, MathJax, Mermaid or widget loader
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched
    assert canary not in html
    assert str(tmp_path) not in html


def test_script_in_outputs_is_the_notebooks_own(tmp_path: Path) -> None:
    payload = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
    notebook = _notebook(
        tmp_path / "xss.ipynb",
        {"output_type": "display_data", "data": {"text/html": payload}, "metadata": {}},
    )
    render_report(notebook, tmp_path / "xss.html")
    html = (tmp_path / "xss.html").read_text(encoding="utf-8")
    assert html.count("<script") == 1  # the output's own; shown only in a sandboxed frame


def test_snapshot_is_the_notebook_as_saved(tmp_path: Path, canary: str) -> None:
    notebook = _notebook(tmp_path / "a b.ipynb")
    copy = snapshot_notebook(notebook, tmp_path / "snap")
    assert copy == tmp_path / "snap" / "a b.ipynb"
    assert copy.read_bytes() == notebook.read_bytes()
    assert canary.encode() not in copy.read_bytes()


def test_log_report_uploads_notebook_and_html_from_a_detached_worker(
    mlflow_store: Any, queue: ArtifactQueue, tmp_path: Path, canary: str
) -> None:
    notebook = _notebook(tmp_path / "train.ipynb")
    saved = notebook.read_bytes()
    queue.log_report(notebook)
    _notebook(tmp_path / "train.ipynb", _stream("later\n"))
    queue.close()  # the kernel's run ends at once; the worker goes on alone

    client = mlflow_store.client
    # while the worker renders (it uploads the notebook first), it is not in the caller's
    # process tree: its work is not metered as the kernel's compute
    _wait_worker(lambda: "notebook/train.ipynb" in stored(client, queue.run_id))
    import psutil

    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            assert "jupyter_mlops.core.tracking.report" not in " ".join(child.cmdline())
    _wait_worker(lambda: "notebook/train.html" in stored(client, queue.run_id))
    files = stored(client, queue.run_id)
    assert set(files) == {"notebook/train.ipynb", "notebook/train.html"}
    assert files["notebook/train.ipynb"] == saved  # as saved when the run ended
    html = files["notebook/train.html"].decode()
    assert "accuracy 0.93-unique-output" in html
    assert "later" not in html
    assert CANARY not in html
    assert CANARY.encode() not in files["notebook/train.ipynb"]
    _wait_worker(lambda: not queue.folder.exists(), timeout=30)


def test_recovery_restarts_a_report_whose_worker_died(
    mlflow_store: Any,
    queue: ArtifactQueue,
    spool_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(artifacts, "start_report_worker", lambda *args: False)  # died at once
    queue.log_report(_notebook(tmp_path / "died.ipynb"), artifact_dir="reports")
    queue.close()
    assert queue.pending() == 1
    monkeypatch.undo()

    assert recover_artifacts(spool_dir, mlflow_store.uri) == [queue.run_id]
    _wait_worker(lambda: "reports/died.html" in stored(mlflow_store.client, queue.run_id))
    assert "reports/died.ipynb" in stored(mlflow_store.client, queue.run_id)
    _wait_worker(lambda: not queue.folder.exists(), timeout=30)


def test_a_notebook_that_does_not_render_is_kept_with_the_reason(
    mlflow_store: Any, queue: ArtifactQueue, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = spool_dir.parent / "broken.ipynb"
    broken.write_text('{"cells": "not a list"}')
    monkeypatch.setattr(artifacts, "start_report_worker", lambda *args: False)
    queue.log_report(broken)
    (entry,) = read_manifest(queue.manifest_path)

    assert run_report_entry(queue.folder, entry.id, mlflow_store.uri) is True
    assert queue.pending() == 0
    assert set(stored(mlflow_store.client, queue.run_id)) == {"notebook/broken.ipynb"}
    reason = spool_dir / "unrecoverable" / queue.folder.name / entry.id / "reason.txt"
    assert "did not render" in reason.read_text()


def test_worker_argv_holds_no_tracking_uri_and_no_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mlops.core.artifacts import delivery as artifact_delivery

    seen: list[tuple[Any, dict[str, Any]]] = []

    class Started:
        def __init__(self, argv: Any, **kw: Any) -> None:
            seen.append((argv, kw))

        def wait(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(artifact_delivery.subprocess, "Popen", Started)
    folder = tmp_path / "run.artifacts"
    (folder / "entries" / "e1").mkdir(parents=True)
    uri = "http://alice:s3cr3t-pw@127.0.0.1:9/?token=abc"
    assert artifact_delivery.start_report_worker(folder, "e1", uri) is True
    ((argv, kw),) = seen
    assert isinstance(argv, list)
    assert not kw.get("shell")
    assert not any("s3cr3t" in arg or "token" in arg for arg in argv)
    assert kw["env"][artifact_delivery.URI_ENV] == uri
    assert kw["start_new_session"] is True
    assert kw["stdin"] == kw["stdout"] == kw["stderr"] == artifact_delivery.subprocess.DEVNULL
