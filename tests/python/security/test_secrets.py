"""Secrets never leak: canaries in the environment and a git remote, then real work, then a search.

Canaries (unique ``canary-<uuid>`` values) are planted in secret-named
environment variables (``MLOPS_CANARY_TOKEN``, ``MLOPS_CANARY_KEY``,
``AWS_SECRET_ACCESS_KEY``, ``JUPYTER_TOKEN``, ``GIT_PASSWORD``), in the
``origin`` remote of the git repository the work happens in (one test each
for ``https://user:<canary>@example.com/x.git``,
``git+ssh://user:<canary>@example.com/x.git`` and the scp-style
``user:<canary>@example.com:x.git``) and in the install records of
two distributions the interpreters see (a VCS install and an editable git
checkout, see :mod:`env_canaries`). Then real work that records things:

a. a tracked run in a real kernel through papermill (``%load_ext jupyter_mlops``,
   ``%mlops start``, params, metrics, tags, ``%mlops end``: environment
   snapshot, context tags and cost are recorded on their own);
b. ``jupyter mlops run`` of a 2-trial sweep on 2 workers, in a subprocess;
c. ``jupyter mlops env snapshot`` and ``jupyter mlops export``.

Meanwhile the argv of every descendant process and every file in the spool
folder (spool files live until their run is delivered) are sampled. Then
every file under the test's folder (MLflow store and artifacts, spool, cost
ledger, output notebooks, exported pipeline) and under the runs' artifact
roots, every run's tags, params and metric keys, the captured output and log
records, and the argv samples are searched: no canary may appear anywhere.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from env_canaries import Canaries, plant_canaries
from notebooks import write_notebook
from promises import record

from jupyter_mlops.cli.main import main

ENV_NAMES = ("MLOPS_CANARY_TOKEN", "MLOPS_CANARY_KEY", "AWS_SECRET_ACCESS_KEY", "JUPYTER_TOKEN")
SKIP_DIRS = {".git", "canary-site"}  # the planted secrets themselves (git config, install records)

TRACKED_PARAMS = "lr = 0.01\nepochs = 2\n"
TRACKED_CELLS = [
    "%load_ext jupyter_mlops",
    "%mlops start --experiment secrets --run-name tracked --tag team=ml",
    "%mlops param batch=32\n%mlops log acc=0.5 --step 1\n%mlops log acc=0.75 --step 2",
    "import jupyter_mlops\njupyter_mlops.log_metric('loss', 0.25)\nprint('epochs', epochs, 'lr', lr)",
    "%mlops end",
]
SWEEP_PARAMS = "lr: float = 0.1\n"
SWEEP_ARGS = ("--grid", "lr=0.1,0.2", "--workers", "2", "--format", "json")
REMOTES = {  # form: (origin with the canary in it, the repoURL tag it must become)
    "https": ("https://user:{}@example.com/x.git", "https://example.com/x.git"),
    "git+ssh": ("git+ssh://user:{}@example.com/x.git", "git+ssh://example.com/x.git"),
    "scp": ("user:{}@example.com:x.git", "example.com:x.git"),
}
SWEEP_CELLS = ["import jupyter_mlops\njupyter_mlops.log_metric('score', lr * 10)\nprint('lr', lr)"]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


class Sampler:
    """Every ~50 ms, on a thread: the argv of every descendant of this process, and the
    files in ``spool`` (spool files live only until their run is delivered), searched for
    ``secrets`` while they exist."""

    def __init__(self, secrets: list[str], spool: Path) -> None:
        self.root = os.getpid()
        self.needles = [s.encode() for s in secrets]
        self.spool = spool
        self.argvs: set[str] = set()
        self.samples = 0
        self.processes: set[int] = set()
        # kernels forked by a pipeline worker's fork server keep the server's argv; each is
        # its own session's leader (the server is not)
        self.forked_kernels: set[int] = set()
        self.spool_files: set[str] = set()
        self.spool_hits: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="secrets-sampler", daemon=True)

    def _sample(self) -> None:
        parents: dict[int, int] = {}
        argv: dict[int, list[str]] = {}
        for proc in psutil.process_iter(["pid", "ppid", "cmdline"]):
            info = proc.info
            parents[info["pid"]] = info["ppid"] or 0
            argv[info["pid"]] = info["cmdline"] or []
        for pid in argv:
            ancestor, hops = parents.get(pid, 0), 0
            while ancestor and ancestor != self.root and hops < 64:
                ancestor, hops = parents.get(ancestor, 0), hops + 1
            if ancestor == self.root:
                self.processes.add(pid)
                self.argvs.add("\0".join(argv[pid]))
                if any("forkchild import serve" in part for part in argv[pid]):
                    with contextlib.suppress(OSError):
                        if os.getsid(pid) == pid:
                            self.forked_kernels.add(pid)
        for path in _files(self.spool) if self.spool.is_dir() else ():
            try:
                data = path.read_bytes()
            except OSError:  # delivered and removed meanwhile
                continue
            self.spool_files.add(path.name)
            self.spool_hits.update(f"spool {path.name}: {n!r}" for n in self.needles if n in data)
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture(params=sorted(REMOTES))
def remote(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The form of the secret ``origin`` remote: its template and the credential-free URL."""
    template, expected = REMOTES[request.param]
    return template, expected


@pytest.fixture
def planted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: tuple[str, str]
) -> tuple[Canaries, Path]:
    """Canaries planted; returns them and the work folder (a git repo with a secret remote)."""
    canaries = plant_canaries(tmp_path, monkeypatch, names=ENV_NAMES)
    # child interpreters (kernels, workers) see the planted distributions too
    paths = [str(canaries.site), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    remote_secret = canaries.values["git remote"] = f"canary-{os.urandom(16).hex()}"
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "remote", "add", "origin", remote[0].format(remote_secret))
    write_notebook(work / "tracked.ipynb", TRACKED_PARAMS, TRACKED_CELLS)
    write_notebook(work / "sweep.ipynb", SWEEP_PARAMS, SWEEP_CELLS)
    git(work, "add", "tracked.ipynb", "sweep.ipynb")
    git(work, "-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "-m", "nb")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_LOGGING_LEVEL", "WARNING")
    monkeypatch.setenv("JUPYTER_MLOPS_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("JUPYTER_MLOPS_PROJECT", "secrets")
    monkeypatch.chdir(work)
    return canaries, work


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):  # symlinked folders are not followed
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                yield path


def _artifact_folder(uri: str) -> Path | None:
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    if uri.startswith("file:"):
        return Path(url2pathname(urlsplit(uri).path))
    return Path(uri) if "://" not in uri else None


def _store_texts(uri: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Every run's name, tags, params, metric keys and artifact paths, and each experiment's
    name, as text by label; and the runs as dicts."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=uri)
    experiments = client.search_experiments(view_type=ViewType.ALL)
    texts = {f"experiment {e.experiment_id}": json.dumps([e.name, e.tags]) for e in experiments}
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL)
    found = []
    for run in runs:
        found.append(
            {
                "name": run.info.run_name,
                "artifact_uri": run.info.artifact_uri,
                "tags": run.data.tags,
                "params": run.data.params,
                "metrics": sorted(run.data.metrics),
                "artifacts": [a.path for a in client.list_artifacts(run.info.run_id)],
            }
        )
        texts[f"run {run.info.run_id}"] = json.dumps(found[-1])
    return texts, found


@pytest.mark.slow
def test_no_canary_anywhere(
    planted: tuple[Canaries, Path],
    remote: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import papermill

    canaries, work = planted
    secrets = canaries.strings()
    caplog.set_level(logging.DEBUG)
    texts: dict[str, str] = {}
    with Sampler(secrets, tmp_path / "spool") as sampler:
        # (a) a tracked run in a real kernel, through papermill
        monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK", "tracked.ipynb")
        monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(work))
        papermill.execute_notebook(
            str(work / "tracked.ipynb"),
            str(work / "tracked-out.ipynb"),
            parameters={"lr": 0.02},
            cwd=str(work),
            kernel_name="python3",
            log_output=True,
            progress_bar=False,
        )
        monkeypatch.delenv("JUPYTER_MLOPS_NOTEBOOK")
        monkeypatch.delenv("JUPYTER_MLOPS_ROOT_DIR")
        # (b) a 2-trial sweep on 2 workers, in a subprocess
        sweep = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli.main", "run", "sweep.ipynb", *SWEEP_ARGS],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        texts["sweep stdout"], texts["sweep stderr"] = sweep.stdout, sweep.stderr
        assert sweep.returncode == 0, sweep.stderr
        # (c) an environment snapshot and an exported pipeline
        (work / "snapshot").mkdir()
        assert main(["env", "snapshot", "-o", str(work / "snapshot")]) == 0
        assert main(["env", "snapshot"]) == 0
        assert main(["export", "tracked.ipynb", "sweep.ipynb", "-o", "pipe"]) == 0
        assert main(["runs", "--format", "json"]) == 0
    out, err = capfd.readouterr()
    texts["captured stdout"], texts["captured stderr"] = out, err
    texts["log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records
    )

    # the work really happened
    result = json.loads(sweep.stdout)
    assert result["status"] == "FINISHED"
    assert len(result["results"]) == 2
    assert "environment.yml" in {p.name for p in (work / "snapshot").iterdir()}
    assert (work / "pipe" / "pipeline.yaml").is_file()
    store, runs = _store_texts(os.environ["MLFLOW_TRACKING_URI"])
    (tracked,) = (run for run in runs if run["name"] == "tracked")
    assert tracked["params"]["batch"] == "32"
    assert tracked["tags"]["mlflow.source.git.repoURL"] == remote[1]
    assert "mlops.env.hash" in tracked["tags"]
    assert {"acc", "loss"} <= set(tracked["metrics"])
    texts.update(store)
    editable = (work / "snapshot" / "environment.yml").read_text(encoding="utf-8")
    assert "canary-edit-pkg" in editable  # the planted distributions were seen (and scrubbed)

    # search every place
    hits = [f"{label}: {s}" for label, text in texts.items() for s in secrets if s in text]
    argv_text = "\n".join(sampler.argvs)
    hits += [f"argv: {s}" for s in secrets if s in argv_text]
    hits += sorted(sampler.spool_hits)
    folders = {tmp_path}
    for run in runs:
        folder = _artifact_folder(run["artifact_uri"])
        if folder is not None and tmp_path not in folder.parents:
            folders.add(folder)
    files = sorted({path for folder in folders for path in _files(folder)})
    needles = [s.encode() for s in secrets]
    for path in files:
        data = path.read_bytes()
        hits += [f"{path.relative_to(tmp_path.parent)}: {s!r}" for s in needles if s in data]
    outputs = [p for p in files if p.suffix == ".ipynb" and "outputs" in p.parts]
    places = len(texts) + len(files) + len(sampler.argvs) + len(sampler.spool_files)
    record(
        "secrets",
        "no env value, token or URL credential in any artifact, tag, param, log line or argv",
        ok=not hits,
        remote=remote[1],
        canaries=len(secrets),
        places_scanned=places,
        files=len(files),
        runs=len(runs),
        argv_samples=sampler.samples,
        processes=len(sampler.processes),
        spool_files=len(sampler.spool_files),
        hits=len(hits),
    )
    assert not hits, "\n".join(hits)
    assert len(outputs) >= 2, files
    launched = [argv for argv in sampler.argvs if "ipykernel_launcher" in argv]
    # the tracked run's kernel and both trials' kernels (launched, or forked by a worker)
    assert len(launched) + len(sampler.forked_kernels) >= 3, sampler.argvs
    # the runs' spool files were seen (and searched) while they existed
    assert any(name != ".recover.lock" for name in sampler.spool_files), sampler.spool_files
