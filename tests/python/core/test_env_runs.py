"""Runs record their environment; reading it back, finding a notebook's last one, resolving
"RUN_ID or file", and the environment of an interpreter. Real MLflow store, real Tracker."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from env_canaries import leaks, plant_canaries, write_dist

from jupyter_mlops.core.environment import (
    HASH_TAG,
    PipPackage,
    content_hash,
    render_environment_yml,
    take_snapshot,
    write_snapshot,
)
from jupyter_mlops.core.environment import run_record as env_runs
from jupyter_mlops.core.tracking.tracker import Tracker
from jupyter_mlops.exceptions import NotFoundError, UsageError


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow puts a SQLite store's artifacts under ./mlruns of the process: keep them here."""
    monkeypatch.chdir(tmp_path)


def _artifact_texts(client: Any, run_id: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for info in client.list_artifacts(run_id, "environment"):
        folder = client.download_artifacts(run_id, info.path, dst_path=str(Path.cwd()))
        out[info.path] = Path(folder).read_text(encoding="utf-8")
    return out


def edited(snapshot: Any, name: str | None = None, version: str = "0.0.1") -> Any:
    """``snapshot`` with one pip package (the first plain one, or ``name``) at ``version``."""
    packages = list(snapshot.pip_packages)
    index = next(
        i
        for i, p in enumerate(packages)
        if (p.name == name if name else p.direct_url is None and p.version)
    )
    packages[index] = packages[index]._replace(version=version)
    return snapshot._replace(pip_packages=tuple(packages))


def test_a_started_run_records_its_environment(tracker: Tracker, mlflow_store: Any) -> None:
    info = tracker.start_run(experiment="env")
    tracker.end_run()
    client = mlflow_store.client
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED"
    texts = _artifact_texts(client, info.run_id)
    assert set(texts) == {"environment/environment.yml", "environment/platform.yml"}
    expected_hash = content_hash(take_snapshot())
    assert run.data.tags[HASH_TAG] == expected_hash
    assert f"# content-hash: sha256:{expected_hash}" in texts["environment/environment.yml"]
    assert run.data.tags["mlops.env.python"] == ".".join(map(str, sys.version_info[:3]))
    assert run.data.tags["mlops.env.kind"] == "full"
    document = yaml.safe_load(texts["environment/environment.yml"])
    assert document["dependencies"][0] == f"python={sys.version_info[0]}.{sys.version_info[1]}"
    assert yaml.safe_load(texts["environment/platform.yml"])["os"]


def test_runs_in_the_same_environment_share_the_hash(tracker: Tracker, mlflow_store: Any) -> None:
    ids = []
    for name in ("first", "second"):
        ids.append(tracker.start_run(experiment="env", run_name=name).run_id)
        tracker.end_run()
    hashes = {mlflow_store.client.get_run(run_id).data.tags[HASH_TAG] for run_id in ids}
    assert len(hashes) == 1
    found = mlflow_store.client.search_runs(
        [mlflow_store.client.get_experiment_by_name("env").experiment_id],
        filter_string=f"tags.`{HASH_TAG}` = '{hashes.pop()}'",
    )
    assert {run.info.run_id for run in found} == set(ids)


def test_flush_waits_for_the_environment_of_a_running_run(
    tracker: Tracker, mlflow_store: Any
) -> None:
    info = tracker.start_run(experiment="env")
    tracker.flush()
    run = mlflow_store.client.get_run(info.run_id)
    assert run.info.status == "RUNNING"
    assert HASH_TAG in run.data.tags
    tracker.end_run()


def test_a_failing_environment_log_warns_once_and_never_fails_the_run(
    make_tracker: Callable[..., Tracker],
    mlflow_store: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(env_runs.EnvironmentJob, "_warned", False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("artifacts cannot go below a file\n")
    mlflow_store.client.create_experiment("broken", artifact_location=str(blocker))
    tracker = make_tracker()
    caplog.set_level(logging.WARNING, logger="jupyter_mlops.environment")
    ids = []
    for _ in range(2):
        ids.append(tracker.start_run(experiment="broken").run_id)
        tracker.end_run()
    for run_id in ids:
        run = mlflow_store.client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert HASH_TAG not in run.data.tags
    warnings = [r for r in caplog.records if "environment of run" in r.getMessage()]
    assert len(warnings) == 1
    assert ids[0] in warnings[0].getMessage()


def test_record_environment_can_be_switched_off(
    make_tracker: Callable[..., Tracker], mlflow_store: Any
) -> None:
    tracker = make_tracker()
    tracker.record_environment = False
    info = tracker.start_run(experiment="env")
    tracker.end_run()
    assert HASH_TAG not in mlflow_store.client.get_run(info.run_id).data.tags
    assert mlflow_store.client.list_artifacts(info.run_id) == []


def test_no_canary_in_a_runs_artifacts_or_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tracker: Tracker, mlflow_store: Any
) -> None:
    canaries = plant_canaries(tmp_path, monkeypatch)
    info = tracker.start_run(experiment="env", tags={"team": "ml"})
    tracker.end_run()
    client = mlflow_store.client
    texts = _artifact_texts(client, info.run_id)
    names = {
        p.name for p in env_runs.load_run_environment(client, info.run_id).snapshot.pip_packages
    }
    assert {"canary-vcs-pkg", "canary-edit-pkg"} <= names
    tags = json.dumps(client.get_run(info.run_id).data.tags)
    assert leaks(canaries, tags=tags, **texts) == []
    assert "git.example.com/team/canary-vcs-pkg.git" in texts["environment/environment.yml"]


def test_load_run_environment(tracker: Tracker, mlflow_store: Any, make_run: Any) -> None:
    info = tracker.start_run(experiment="env")
    tracker.end_run()
    found = env_runs.load_run_environment(mlflow_store.client, info.run_id)
    assert found.run_id == info.run_id
    assert found.hash == content_hash(found.snapshot) == content_hash(take_snapshot())
    assert found.environment_yml.startswith("# jupyter-mlops environment snapshot")
    assert found.snapshot.platform["os"]

    plain = make_run("plain")
    with pytest.raises(NotFoundError) as raised:
        env_runs.load_run_environment(mlflow_store.client, plain)
    assert raised.value.run_id == plain
    assert "no environment snapshot" in raised.value.message
    with pytest.raises(NotFoundError):
        env_runs.load_run_environment(mlflow_store.client, "0123456789abcdef0123456789abcdef")
    with pytest.raises(UsageError):
        env_runs.load_run_environment(mlflow_store.client, "../etc")


def _notebook_run(client: Any, make_run: Any, notebook: str, snapshot: Any | None) -> str:
    run_id: str = make_run("nb", tags={"mlops.notebook": notebook}, status="RUNNING")
    if snapshot is not None:
        env_runs.log_environment(client, run_id, snapshot)
    client.set_terminated(run_id)
    return run_id


def test_latest_notebook_environment(mlflow_store: Any, make_run: Any) -> None:
    client = mlflow_store.client
    snap = take_snapshot(include_platform=False)
    notebook = "work/it's 100%_done.ipynb"
    assert env_runs.latest_notebook_environment(client, notebook) is None
    older = _notebook_run(client, make_run, notebook, snap)
    newest = _notebook_run(client, make_run, notebook, edited(snap))
    _notebook_run(client, make_run, notebook, None)  # newer, but recorded no environment
    _notebook_run(client, make_run, "work/it's 100%Xdone.ipynb", snap)  # LIKE-alike name
    found = env_runs.latest_notebook_environment(client, notebook)
    assert found is not None
    assert found.run_id == newest != older
    assert found.hash == content_hash(edited(snap))
    assert env_runs.latest_notebook_environment(client, "other.ipynb") is None


def test_resolve_snapshot_file_folder_run_or_neither(
    tmp_path: Path, tracker: Tracker, mlflow_store: Any
) -> None:
    snap = take_snapshot()
    write_snapshot(snap, tmp_path / "saved")  # a folder that does not exist yet is a file name
    (tmp_path / "folder").mkdir()
    write_snapshot(snap, tmp_path / "folder")

    def no_store() -> Any:
        pytest.fail("a file must not open the store")

    by_file = env_runs.resolve_snapshot(str(tmp_path / "saved"), no_store)
    by_folder = env_runs.resolve_snapshot(str(tmp_path / "folder"), no_store)
    assert by_file.run_id is None
    assert content_hash(by_file.snapshot) == content_hash(by_folder.snapshot) == content_hash(snap)
    assert by_folder.snapshot.platform == snap.platform

    info = tracker.start_run(experiment="env")
    tracker.end_run()
    by_run = env_runs.resolve_snapshot(info.run_id, lambda: mlflow_store.client)
    assert by_run.run_id == info.run_id
    assert by_run.label == f"run {info.run_id[:8]}"
    assert content_hash(by_run.snapshot) == content_hash(snap)
    with pytest.raises(UsageError, match="neither an environment file nor a run id"):
        env_runs.resolve_snapshot(str(tmp_path / "missing.yml"), no_store)


def test_diff_runs_lists_exactly_the_change(mlflow_store: Any, make_run: Any) -> None:
    client = mlflow_store.client
    snap = take_snapshot(include_platform=False)
    changed = edited(snap)
    name = next(p.name for p in changed.pip_packages if p.version == "0.0.1")
    old_version = next(p.version for p in snap.pip_packages if p.name == name)
    a = _notebook_run(client, make_run, "n.ipynb", snap)
    b = _notebook_run(client, make_run, "n.ipynb", changed)
    body = env_runs.environment_diff(client, a, b)
    assert body == {
        "added": [],
        "removed": [],
        "changed": [{"section": "pip", "name": name, "old": old_version, "new": "0.0.1"}],
        "python": None,
        "listed_only": False,
        "drift": True,
    }
    assert not env_runs.diff_runs(client, a, a)


def _venv(root: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True
    )
    return root


def test_interpreter_prefix(tmp_path: Path) -> None:
    assert env_runs.interpreter_prefix(sys.executable) == os.path.abspath(sys.prefix)
    assert env_runs.interpreter_prefix("python") == os.path.abspath(sys.prefix)
    assert env_runs.interpreter_prefix("{prefix}/bin/python") == os.path.abspath(sys.prefix)
    venv = _venv(tmp_path / "kernel-env")
    python = venv / "bin" / "python"
    assert python.is_symlink()  # into the base interpreter: the venv is still found
    assert env_runs.interpreter_prefix(str(python)) == str(venv)
    lone = tmp_path / "nowhere" / "bin" / "python"
    lone.parent.mkdir(parents=True)
    lone.write_text("")
    with pytest.raises(NotFoundError, match="No Python environment"):
        env_runs.interpreter_prefix(str(lone))
    with pytest.raises(NotFoundError, match="not found"):
        env_runs.interpreter_prefix(str(tmp_path / "missing" / "python"))


def test_current_environment_of_another_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = _venv(tmp_path / "kernel-env")
    site = next((venv / "lib").glob("python*/site-packages"))
    canaries = plant_canaries(tmp_path, monkeypatch, site=site)
    write_dist(site, "plain-pkg", "2.0")
    body = env_runs.current_environment(str(venv), kernel_id="k1")
    assert body["kernel_id"] == "k1"
    assert body["prefix"] == str(venv)
    assert body["python"] == ".".join(map(str, sys.version_info[:3]))
    rows = {row["name"]: row for row in body["packages"]}
    assert set(rows) == {"canary-edit-pkg", "canary-vcs-pkg", "plain-pkg"}
    assert rows["plain-pkg"] == {
        "name": "plain-pkg",
        "version": "2.0",
        "source": "pip",
        "requested": True,
        "origin": None,
    }
    assert rows["canary-vcs-pkg"]["origin"] == "https://git.example.com/team/canary-vcs-pkg.git"
    assert rows["canary-edit-pkg"]["origin"] == "https://gitlab.example.com/team/proj.git"
    assert body["hash"] == content_hash(take_snapshot(venv))
    assert "python_version" not in body["platform"]  # not this interpreter's facts
    assert leaks(canaries, body=json.dumps(body)) == []


def test_package_rows_of_conda_and_pip() -> None:
    from jupyter_mlops.core.environment import CondaPackage, DirectUrl, EnvironmentSnapshot

    snap = EnvironmentSnapshot(
        name="x",
        conda_packages=(CondaPackage("numpy", "1.26.4", "py311", "conda-forge", True),),
        pip_packages=(
            PipPackage("abc", "1.0", direct_url=DirectUrl("archive", "https://h/abc.whl")),
            PipPackage("local", "0.1", direct_url=DirectUrl("editable", "file:///p", path="/p")),
        ),
    )
    assert env_runs.package_rows(snap) == [
        {
            "name": "abc",
            "version": "1.0",
            "source": "pip",
            "requested": False,
            "origin": "https://h/abc.whl",
        },
        {"name": "local", "version": "0.1", "source": "pip", "requested": False, "origin": "/p"},
        {
            "name": "numpy",
            "version": "1.26.4",
            "source": "conda",
            "requested": True,
            "origin": "conda-forge",
        },
    ]
    assert render_environment_yml(snap)  # renders fine
