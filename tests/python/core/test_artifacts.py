"""The durable artifact queue: MLflow's uploads, off the caller's thread, never lost."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_helpers import stored, wait_for

from jupyter_mlops.core.artifacts.queue import ArtifactQueue, recover_artifacts
from jupyter_mlops.core.artifacts.staging import try_lock
from jupyter_mlops.exceptions import InvalidValueError, RunStateError, StoreError


def _experiment(client: Any, location: Path, name: str = "artifacts") -> str:
    found = client.get_experiment_by_name(name)
    if found:
        return str(found.experiment_id)
    return str(client.create_experiment(name, artifact_location=location.as_uri()))


def _new_run(store: Any, location: Path) -> str:
    run_id: str = store.client.create_run(_experiment(store.client, location)).info.run_id
    return run_id


@pytest.fixture
def art_root(tmp_path: Path) -> Path:
    return tmp_path / "artifact-volume"


@pytest.fixture
def make_queue(mlflow_store: Any, spool_dir: Path) -> Iterator[Callable[..., ArtifactQueue]]:
    made: list[ArtifactQueue] = []

    def make(run_id: str, **kwargs: Any) -> ArtifactQueue:
        kwargs.setdefault("flush_interval", 0.05)
        uri = kwargs.pop("tracking_uri", mlflow_store.uri)
        queue = ArtifactQueue(spool_dir, run_id, uri, **kwargs)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()


def test_every_method_uploads_what_mlflow_uploads(
    mlflow_store: Any, art_root: Path, tmp_path: Path, make_queue: Callable[..., ArtifactQueue]
) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours, theirs = _new_run(mlflow_store, art_root), _new_run(mlflow_store, art_root)
    client = mlflow_store.client
    src = tmp_path / "src"
    (src / "data" / "nested").mkdir(parents=True)
    (src / "model.bin").write_bytes(bytes(range(256)) * 10)
    (src / "data" / "a.csv").write_text("x,y\n1,2\n")
    (src / "data" / "nested" / "b.json").write_text('{"b": 1}')
    payload = {"lr": 0.1, "layers": [64, 32], "name": "ü", "when": Path("/x")}
    fig, ax = plt.subplots()
    ax.plot([0, 1], [2, 3])

    queue = make_queue(ours)
    queue.log_artifact(src / "model.bin")
    queue.log_artifact(str(src / "model.bin"), "models/v1")
    queue.log_artifacts(src / "data", "dataset")
    queue.log_artifacts(src / "data")
    queue.log_text("héllo\nworld", "notes/readme.txt")
    queue.log_dict(payload, "config.json")
    queue.log_dict(payload, "cfg/config.yaml")
    queue.log_dict(payload, "config")
    queue.log_figure(fig, "plots/curve.png")
    queue.flush(timeout=30)
    assert queue.pending() == 0

    client.log_artifact(theirs, str(src / "model.bin"))
    client.log_artifact(theirs, str(src / "model.bin"), "models/v1")
    client.log_artifacts(theirs, str(src / "data"), "dataset")
    client.log_artifacts(theirs, str(src / "data"))
    client.log_text(theirs, "héllo\nworld", "notes/readme.txt")
    client.log_dict(theirs, payload, "config.json")
    client.log_dict(theirs, payload, "cfg/config.yaml")
    client.log_dict(theirs, payload, "config")
    client.log_figure(theirs, fig, "plots/curve.png")
    plt.close(fig)

    expected = stored(client, theirs)
    assert len(expected) == 11
    assert stored(client, ours) == expected
    assert not queue.folder.joinpath("entries").exists() or not any(
        queue.folder.joinpath("entries").iterdir()
    )


def test_the_staged_copy_is_uploaded_even_if_the_file_changes(
    mlflow_store: Any, art_root: Path, tmp_path: Path, make_queue: Callable[..., ArtifactQueue]
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    queue = make_queue(run_id)
    with queue._deliver_lock:  # hold the writer back: the file changes before the upload
        rewritten, deleted = tmp_path / "metrics.csv", tmp_path / "gone.txt"
        rewritten.write_text("epoch,loss\n1,0.5\n")
        deleted.write_text("first")
        queue.log_artifact(rewritten)
        queue.log_artifact(deleted)
        with open(rewritten, "w") as f:  # rewritten in place: same inode
            f.write("overwritten")
        deleted.unlink()
    queue.flush(timeout=30)
    assert stored(mlflow_store.client, run_id) == {
        "metrics.csv": b"epoch,loss\n1,0.5\n",
        "gone.txt": b"first",
    }


def _bad_calls(tmp_path: Path) -> list[tuple[str, Callable[[ArtifactQueue], None]]]:
    file = tmp_path / "ok.txt"
    file.write_text("x")
    folder = tmp_path / "folder"
    folder.mkdir(exist_ok=True)
    (tmp_path / "plain.txt").write_text("{}")
    circular: dict[str, Any] = {}
    circular["self"] = circular
    return [
        ("does not exist", lambda q: q.log_artifact(tmp_path / "missing.txt")),
        ("is a folder", lambda q: q.log_artifact(folder)),
        ("is absolute", lambda q: q.log_artifact(file, "/etc")),
        ("'..'", lambda q: q.log_artifact(file, "../outside")),
        ("'..'", lambda q: q.log_artifact(file, "a/../../outside")),
        ("backslash", lambda q: q.log_artifact(file, "..\\outside")),
        ("is absolute", lambda q: q.log_artifact(file, "C:/temp")),
        ("must be a path", lambda q: q.log_artifact(42)),
        ("takes a folder", lambda q: q.log_artifacts(file)),
        ("does not exist", lambda q: q.log_artifacts(tmp_path / "nope")),
        ("'..'", lambda q: q.log_artifacts(folder, "..")),
        ("'..'", lambda q: q.log_text("x", "../t.txt")),
        ("is absolute", lambda q: q.log_text("x", "/tmp/t.txt")),
        ("names no file", lambda q: q.log_text("x", "dir/")),
        ("names no file", lambda q: q.log_text("x", "")),
        ("must be a string", lambda q: q.log_text(b"x", "t.txt")),
        ("could not serialize", lambda q: q.log_dict(circular, "d.json")),
        ("'..'", lambda q: q.log_dict({}, "../d.json")),
        ("unsupported figure", lambda q: q.log_figure(object(), "f.png")),
        ("not a notebook", lambda q: q.log_report(tmp_path / "plain.txt")),
        ("not a notebook", lambda q: q.log_report(tmp_path / "missing.ipynb")),
        ("'..'", lambda q: q.log_report(tmp_path / "plain.txt", "../up")),
    ]


def test_bad_inputs_raise_with_a_hint_and_stage_nothing(
    mlflow_store: Any, art_root: Path, tmp_path: Path, make_queue: Callable[..., ArtifactQueue]
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    queue = make_queue(run_id)
    for words, call in _bad_calls(tmp_path):
        with pytest.raises(InvalidValueError, match=None) as raised:
            call(queue)
        assert words in str(raised.value).lower(), (words, str(raised.value))
        assert raised.value.hint
        assert queue.pending() == 0
        assert list((queue.folder / "entries").iterdir()) == []
    queue.flush(timeout=10)
    assert stored(mlflow_store.client, run_id) == {}


def test_artifact_store_outage_keeps_entries_and_delivers_when_back(
    mlflow_store: Any,
    art_root: Path,
    tmp_path: Path,
    make_queue: Callable[..., ArtifactQueue],
    caplog: pytest.LogCaptureFixture,
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    queue = make_queue(run_id)
    queue.log_text("before", "before.txt")
    queue.flush(timeout=30)

    # the artifact volume goes away: its mount point is now a plain file
    away = art_root.with_name("volume-away")
    art_root.rename(away)
    art_root.write_text("not a folder")
    caplog.set_level(logging.WARNING, logger="jupyter_mlops.spool")
    try:
        source = tmp_path / "weights.bin"
        source.write_bytes(b"\x00\x01" * 1000)
        queue.log_artifact(source, "model")
        queue.log_dict({"a": 1}, "during.json")
        source.unlink()  # gone before the store is back: the staged copy is uploaded
        wait_for(lambda: queue.health.failures >= 3)
        with pytest.raises(StoreError) as raised:
            queue.flush(timeout=0.2)
        assert "not yet in the tracking store" in str(raised.value)
        assert str(queue.folder) in str(raised.value.hint)
        assert queue.pending() == 2
    finally:
        art_root.unlink()
        away.rename(art_root)

    queue.flush(timeout=30)
    assert queue.pending() == 0
    assert stored(mlflow_store.client, run_id) == {
        "before.txt": b"before",
        "model/weights.bin": b"\x00\x01" * 1000,
        "during.json": b'{\n  "a": 1\n}',
    }
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "cannot upload artifacts" in m]) == 1
    assert len([m for m in messages if "is reachable again;" in m]) == 1
    assert "Traceback" not in caplog.text


def test_unreachable_tracking_server_fails_fast_and_keeps_the_entry(
    mlflow_store: Any, art_root: Path, make_queue: Callable[..., ArtifactQueue]
) -> None:
    with socket.socket() as sock:  # a loopback port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run_id = _new_run(mlflow_store, art_root)
    queue = make_queue(run_id, tracking_uri=f"http://127.0.0.1:{port}")
    queue.log_text("kept", "kept.txt")
    wait_for(lambda: queue.health.failures >= 2, timeout=60)  # no minutes-long retry loop
    with pytest.raises(StoreError):
        queue.flush(timeout=0.1)
    assert queue.pending() == 1
    queue.close()
    assert queue.pending() == 1  # closed with the store away: kept for recovery
    with pytest.raises(RunStateError):
        queue.log_text("late", "late.txt")


def test_close_removes_the_folder_and_delete_discards(
    mlflow_store: Any, art_root: Path, spool_dir: Path
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    queue = ArtifactQueue(spool_dir, run_id, mlflow_store.uri, flush_interval=0.05)
    queue.log_text("x", "x.txt")
    queue.flush(timeout=30)
    queue.close()
    assert not queue.folder.exists()

    with socket.socket() as sock:  # a store nobody answers for: the entry stays pending
        sock.bind(("127.0.0.1", 0))
        away = f"http://127.0.0.1:{sock.getsockname()[1]}"
    other_run = _new_run(mlflow_store, art_root)  # (MLflow caches a known run's artifact store)
    other = ArtifactQueue(spool_dir, other_run, away, flush_interval=0.05)
    other.log_text("dropped", "dropped.txt")
    assert other.pending() == 1
    other.close(delete=True)
    assert not other.folder.exists()
    assert set(stored(mlflow_store.client, run_id)) == {"x.txt"}
    assert stored(mlflow_store.client, other_run) == {}


CRASHER = """
import os, sys
from pathlib import Path
from jupyter_mlops.core.artifacts.queue import ArtifactQueue
from jupyter_mlops.core.artifacts.staging import try_lock
uri, spool_dir, run_id, source = sys.argv[1:5]
queue = ArtifactQueue(Path(spool_dir), run_id, uri, flush_interval=0.01)
assert try_lock(queue.folder / ".lock") is not None  # as if busy: the writer must wait
queue.log_artifact(source, "outputs")
queue.log_text("text of a killed kernel", "notes/killed.txt")
print("acknowledged", flush=True)
import time
time.sleep(600)
"""


def test_sigkill_right_after_the_call_then_recovery_in_another_process(
    mlflow_store: Any,
    art_root: Path,
    spool_dir: Path,
    tmp_path: Path,
    child_env: dict[str, str],
    run_python: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    source = tmp_path / "predictions.csv"
    source.write_text("id,p\n1,0.9\n")
    argv = [mlflow_store.uri, str(spool_dir), run_id, str(source)]
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHER), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "acknowledged", proc.stderr
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    source.unlink()
    assert stored(mlflow_store.client, run_id) == {}

    code = """
    import sys
    from jupyter_mlops.core.tracking.recovery import recover_orphans
    print(recover_orphans(sys.argv[1], tracking_uri=sys.argv[2]))
    """
    out = run_python(code, str(spool_dir), mlflow_store.uri).stdout
    assert out.strip() == str([run_id])
    assert stored(mlflow_store.client, run_id) == {
        "outputs/predictions.csv": b"id,p\n1,0.9\n",
        "notes/killed.txt": b"text of a killed kernel",
    }
    assert not (spool_dir / f"{run_id}.artifacts").exists()
    assert recover_artifacts(spool_dir, mlflow_store.uri) == []


def test_two_recoverers_never_upload_the_same_entry_twice(
    mlflow_store: Any, art_root: Path, spool_dir: Path
) -> None:
    run_id = _new_run(mlflow_store, art_root)
    queue = ArtifactQueue(spool_dir, run_id, mlflow_store.uri, flush_interval=0.05)
    busy = try_lock(queue.folder / ".lock")  # as if another process delivered: the writer waits
    assert busy is not None
    for i in range(20):
        queue.log_text(f"entry {i}", f"e/{i}.txt")
    queue.close()  # closed with everything pending: recovery's job
    os.close(busy)
    assert queue.pending() == 20

    uploads: list[str] = []

    class Counting:
        def __init__(self, client: Any) -> None:
            self.client = client

        def log_artifact(self, run: str, path: str, artifact_path: str | None = None) -> None:
            uploads.append(path)
            time.sleep(0.01)
            self.client.log_artifact(run, path, artifact_path)

    client = Counting(mlflow_store.client)
    results: list[list[str]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                recover_artifacts(spool_dir, mlflow_store.uri, client=client)
            )
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    while recover_artifacts(spool_dir, mlflow_store.uri, client=client):
        pass
    assert len(uploads) == len(set(uploads)) == 20
    assert len(stored(mlflow_store.client, run_id)) == 20
    assert not queue.folder.exists()
    assert os.listdir(spool_dir) == []
