"""The environment routes against a real server, a real MLflow store and real kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from env_canaries import leaks, plant_canaries, write_dist
from server_helpers import RecordingAuthorizer

from jupyter_mlops.core.environment import content_hash, take_snapshot
from jupyter_mlops.core.environment.run_record import log_environment
from jupyter_mlops.core.tracking.tracker import Tracker

pytestmark = pytest.mark.slow

Check = Callable[[str, int, Any], None]
UNKNOWN = "0123456789abcdef0123456789abcdef"
ROUTES = ["runs/{run}/environment", "environment/current", "environment/diff?a={run}&b={run}"]


@pytest.fixture(autouse=True)
def _artifacts_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow puts a SQLite store's artifacts under ./mlruns of the process: keep them here."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def tracked(mlflow_store: Any, tmp_path: Path) -> Callable[[], str]:
    """``tracked()``: a run started and ended by a real Tracker on the server's store."""
    trackers: list[Tracker] = []

    def run() -> str:
        if not trackers:
            trackers.append(Tracker(mlflow_store.uri, tmp_path / "spool", flush_interval=0.05))
        run_id = trackers[0].start_run(experiment="env").run_id
        trackers[0].end_run()
        return run_id

    yield run
    for tracker in trackers:
        tracker.close()


def changed_run(mlflow_store: Any) -> tuple[str, str, str]:
    """A run whose recorded environment has one package at 0.0.1: (run id, name, version)."""
    snap = take_snapshot()
    packages = list(snap.pip_packages)
    index = next(i for i, p in enumerate(packages) if p.direct_url is None)
    name, version = packages[index].name, str(packages[index].version)
    packages[index] = packages[index]._replace(version="0.0.1")
    client = mlflow_store.client
    experiment = client.get_experiment_by_name("env").experiment_id
    run_id = client.create_run(experiment).info.run_id
    log_environment(client, run_id, snap._replace(pip_packages=tuple(packages)))
    return run_id, name, version


async def test_run_environment(
    get_json: Any, check_response: Check, tracked: Callable[[], str]
) -> None:
    run_id = tracked()
    code, body = await get_json("runs", run_id, "environment")
    assert code == 200, body
    check_response("/runs/{run_id}/environment", 200, body)
    current = take_snapshot()
    assert body["run_id"] == run_id
    assert body["hash"] == body["snapshot"]["content_hash"] == content_hash(current)
    assert body["environment_yml"].startswith("# jupyter-mlops environment snapshot")
    assert body["snapshot"]["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert body["snapshot"]["source"] == "file"
    assert body["snapshot"]["platform"]["os"] == current.platform["os"]
    names = {p["name"] for p in body["snapshot"]["pip_packages"]}
    assert names == {p.name for p in current.pip_packages}


async def test_run_environment_404_and_400(
    get_json: Any, check_response: Check, make_run: Any
) -> None:
    plain = make_run("plain")
    for run_id in (plain, UNKNOWN):
        code, body = await get_json("runs", run_id, "environment")
        assert code == 404
        check_response("/runs/{run_id}/environment", 404, body)
        assert body["error"] == "NotFoundError"
        assert body["run_id"] == run_id
    _, body = await get_json("runs", plain, "environment")
    assert "no environment snapshot" in body["message"]
    code, body = await get_json("runs", "bad!id", "environment")
    assert code == 400
    check_response("/runs/{run_id}/environment", 400, body)


async def test_environment_diff(
    get_json: Any, check_response: Check, tracked: Callable[[], str], mlflow_store: Any
) -> None:
    a = tracked()
    b, name, version = changed_run(mlflow_store)
    code, body = await get_json("environment", "diff", params={"a": a, "b": b})
    assert code == 200, body
    check_response("/environment/diff", 200, body)
    assert body == {
        "added": [],
        "removed": [],
        "changed": [{"section": "pip", "name": name, "old": version, "new": "0.0.1"}],
        "python": None,
        "listed_only": False,
        "drift": True,
    }
    code, body = await get_json("environment", "diff", params={"a": a, "b": tracked()})
    assert code == 200
    assert body["drift"] is False
    assert body["changed"] == []


async def test_environment_diff_errors(
    get_json: Any, check_response: Check, tracked: Callable[[], str], make_run: Any
) -> None:
    a = tracked()
    plain = make_run("plain")
    for params, status in [
        ({"a": a}, 400),
        ({"b": a}, 400),
        ({"a": a, "b": "bad id"}, 400),
        ({"a": a, "b": plain}, 404),
        ({"a": UNKNOWN, "b": a}, 404),
    ]:
        code, body = await get_json("environment", "diff", params=params)
        assert code == status, (params, body)
        check_response("/environment/diff", status, body)
    _, body = await get_json("environment", "diff", params={"a": a, "b": plain})
    assert body["run_id"] == plain


async def test_current_environment_of_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, get_json: Any, check_response: Check
) -> None:
    canaries = plant_canaries(tmp_path, monkeypatch)
    code, body = await get_json("environment", "current")
    assert code == 200, body
    check_response("/environment/current", 200, body)
    assert body["kernel_id"] is None
    assert body["prefix"] == sys.prefix
    assert body["python"] == ".".join(map(str, sys.version_info[:3]))
    assert body["hash"] == content_hash(take_snapshot())
    rows = {row["name"]: row for row in body["packages"]}
    assert rows["canary-vcs-pkg"]["origin"] == "https://git.example.com/team/canary-vcs-pkg.git"
    assert rows["canary-edit-pkg"]["origin"] == "https://gitlab.example.com/team/proj.git"
    assert rows["mlflow"]["source"] == "pip"
    assert [row["name"] for row in body["packages"]] == sorted(rows)
    assert body["platform"]["python_version"] == body["python"]
    assert leaks(canaries, body=json.dumps(body)) == []


async def _start_kernel(jp_fetch: Any, name: str | None = None) -> str:
    response = await jp_fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": name} if name else {})
    )
    kernel_id: str = json.loads(response.body)["id"]
    return kernel_id


async def test_current_environment_of_a_real_kernel(
    jp_fetch: Any, get_json: Any, check_response: Check
) -> None:
    kernel_id = await _start_kernel(jp_fetch)
    try:
        code, body = await get_json("environment", "current", params={"kernel_id": kernel_id})
        assert code == 200, body
        check_response("/environment/current", 200, body)
        assert body["kernel_id"] == kernel_id
        assert body["prefix"] == sys.prefix  # the native python3 kernel runs this interpreter
        assert body["hash"] == content_hash(take_snapshot())
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


@pytest.fixture
def canary_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jp_kernel_dir: str
) -> tuple[Path, Any]:
    """A venv of its own with planted distributions, and a kernelspec whose argv[0] is its
    python (the kernel imports ipykernel through the PYTHONPATH pytest-jupyter sets)."""
    venv = tmp_path / "kernel-env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True
    )
    site = next((venv / "lib").glob("python*/site-packages"))
    canaries = plant_canaries(tmp_path, monkeypatch, site=site)
    write_dist(site, "only-in-kernel", "3.1")
    spec = Path(jp_kernel_dir) / "mlops-canary"
    spec.mkdir()
    argv = [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "canary", "language": "python"})
    )
    return venv, canaries


async def test_current_environment_of_a_kernel_in_another_env(
    canary_kernel: tuple[Path, Any], jp_fetch: Any, get_json: Any, check_response: Check
) -> None:
    venv, canaries = canary_kernel
    kernel_id = await _start_kernel(jp_fetch, "mlops-canary")
    try:
        code, body = await get_json("environment", "current", params={"kernel_id": kernel_id})
        assert code == 200, body
        check_response("/environment/current", 200, body)
        assert body["prefix"] == str(venv)
        assert [row["name"] for row in body["packages"]] == [
            "canary-edit-pkg",
            "canary-vcs-pkg",
            "only-in-kernel",
        ]
        assert body["hash"] == content_hash(take_snapshot(venv))
        assert leaks(canaries, body=json.dumps(body)) == []
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_current_environment_errors(get_json: Any, check_response: Check) -> None:
    code, body = await get_json("environment", "current", params={"kernel_id": UNKNOWN})
    assert code == 404
    check_response("/environment/current", 404, body)
    assert "No running kernel" in body["message"]
    code, body = await get_json("environment", "current", params={"kernel_id": "../x"})
    assert code == 400
    check_response("/environment/current", 400, body)


async def test_no_canary_in_any_body(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    get_json: Any,
    tracked: Callable[[], str],
) -> None:
    canaries = plant_canaries(tmp_path, monkeypatch)
    a, b = tracked(), tracked()
    bodies = {
        "run": await get_json("runs", a, "environment"),
        "diff": await get_json("environment", "diff", params={"a": a, "b": b}),
        "current": await get_json("environment", "current"),
        "404": await get_json("runs", UNKNOWN, "environment"),
    }
    assert "canary-vcs-pkg" in bodies["run"][1]["environment_yml"]
    texts = {label: json.dumps(body) for label, (_, body) in bodies.items()}
    assert leaks(canaries, **texts) == []


@pytest.mark.parametrize("route", ROUTES)
async def test_without_token_is_403(raw_get: Any, route: str) -> None:
    code, body = await raw_get("jupyter-mlops/api/" + route.format(run=UNKNOWN))
    assert code == 403
    assert body["error"] == "HTTPError"


class TestAuthorization:
    @pytest.fixture
    def jp_server_config(self, jp_server_config: Any) -> Any:
        return RecordingAuthorizer.install(jp_server_config)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_each_route_authorizes_mlops_environment(
        self, raw_get: Any, jp_auth_header: dict[str, str], route: str
    ) -> None:
        path = "jupyter-mlops/api/" + route.format(run=UNKNOWN)
        code, _ = await raw_get(path, headers=jp_auth_header)
        assert code in {200, 404}
        assert ("read", "mlops:environment") in RecordingAuthorizer.seen
        RecordingAuthorizer.denied = {"mlops:environment"}
        code, body = await raw_get(path, headers=jp_auth_header)
        assert code == 403
        assert body["error"] == "HTTPError"


def test_routes_are_in_the_route_table() -> None:
    from jupyter_mlops.server import env_handlers
    from jupyter_mlops.server.routes import API_PREFIX, ROUTES

    assert all(
        route in ROUTES
        for route in [
            (f"{API_PREFIX}/runs/([^/]+)/environment", env_handlers.RunEnvironmentHandler),
            (f"{API_PREFIX}/environment/current", env_handlers.CurrentEnvironmentHandler),
            (f"{API_PREFIX}/environment/diff", env_handlers.EnvironmentDiffHandler),
        ]
    )
    assert os.path.basename(__file__) == "test_server_environment.py"
