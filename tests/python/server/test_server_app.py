"""The extension app: store and project resolution, what kernels inherit, store failures."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import jupyter_mlops
from jupyter_mlops.server.app import export_environment
from jupyter_mlops.server.service import SERVICE_SETTING

pytestmark = pytest.mark.slow

STORE = "<the test store>"
GARBAGE = "<a file that is not a database>"
PACKAGE_PARENT = str(Path(jupyter_mlops.__file__).resolve().parents[1])


@pytest.fixture
def mlops_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``{"config": {MlopsConfig trait: value or None to unset}, "env": {name: value}}``."""
    settings: dict[str, Any] = getattr(request, "param", {})
    return settings


@pytest.fixture
def jp_server_config(
    jp_server_config: Any,
    mlops_settings: dict[str, Any],
    mlflow_store: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    garbage = tmp_path / "garbage" / "mlflow.db"
    garbage.parent.mkdir()
    garbage.write_bytes(b"this is not an sqlite database\n" * 100)
    values = {STORE: mlflow_store.uri, GARBAGE: f"sqlite:///{garbage}"}
    for name, value in mlops_settings.get("env", {}).items():
        monkeypatch.setenv(name, values.get(value, value))
    section = jp_server_config["MlopsConfig"]
    for name, value in mlops_settings.get("config", {}).items():
        if value is None:
            del section[name]
        else:
            section[name] = values.get(value, value)
    return jp_server_config


def settings(**kwargs: Any) -> Any:
    return pytest.mark.parametrize("mlops_settings", [kwargs], indirect=True)


@settings(config={"tracking_uri": None})
async def test_default_store_is_mlflow_db_in_server_root(get_json: Any, jp_root_dir: Path) -> None:
    _, health = await get_json("health")
    root = Path(jp_root_dir).resolve()
    assert health["tracking_uri"] == f"sqlite:///{root / 'mlflow.db'}"
    assert os.environ["MLFLOW_TRACKING_URI"] == health["tracking_uri"]
    assert os.environ["JUPYTER_MLOPS_ROOT_DIR"] == str(root)
    assert os.environ["JUPYTER_MLOPS_PROJECT"] == "test-project"


@settings(config={"tracking_uri": None}, env={"MLFLOW_TRACKING_URI": STORE})
async def test_env_tracking_uri_is_used_and_kept(get_json: Any, mlflow_store: Any) -> None:
    _, health = await get_json("health")
    assert health["tracking_uri"] == mlflow_store.uri
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_store.uri


@settings(env={"MLFLOW_TRACKING_URI": "sqlite:////elsewhere/mlflow.db"})
async def test_configured_uri_wins_for_kernels_too(get_json: Any, mlflow_store: Any) -> None:
    _, health = await get_json("health")
    assert health["tracking_uri"] == mlflow_store.uri
    assert os.environ["MLFLOW_TRACKING_URI"] == mlflow_store.uri


def test_export_environment_warns_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = "https://bob:envpass@mlflow.example"
    log = logging.getLogger("test-jupyter-mlops")
    with caplog.at_level(logging.INFO):
        export_environment("http://alice:s3cret@mlflow.example:5000", "/srv/root", "proj", log)
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://alice:s3cret@mlflow.example:5000"
    assert os.environ["JUPYTER_MLOPS_ROOT_DIR"] == "/srv/root"
    assert os.environ["JUPYTER_MLOPS_PROJECT"] == "proj"
    assert "overrides MLFLOW_TRACKING_URI" in caplog.text
    assert "http://mlflow.example:5000" in caplog.text
    assert "s3cret" not in caplog.text
    assert "envpass" not in caplog.text


@settings(config={"project": None})
async def test_default_project_is_root_folder_name(get_json: Any, jp_root_dir: Path) -> None:
    _, health = await get_json("health")
    assert health["project"] == Path(jp_root_dir).name
    assert os.environ["JUPYTER_MLOPS_PROJECT"] == health["project"]


@settings(
    config={"tracking_uri": "http://alice:s3cret@127.0.0.1:1"},
    env={"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"},
)
async def test_unreachable_store_is_502_and_credentials_never_shown(
    get_json: Any, check_response: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, health = await get_json("health")
    assert health["tracking_uri"] == "http://127.0.0.1:1"
    code, body = await get_json("experiments")
    assert code == 502
    check_response("/experiments", 502, body)
    assert body["error"] == "StoreError"
    assert "MLFLOW_TRACKING_URI" in body["hint"]
    assert "s3cret" not in json.dumps(body)
    assert "s3cret" not in caplog.text


@settings(config={"tracking_uri": GARBAGE})
async def test_corrupt_store_is_502(get_json: Any) -> None:
    code, body = await get_json("runs")
    assert code == 502
    assert body["error"] == "StoreError"
    assert "Traceback" not in json.dumps(body)


async def test_store_calls_run_in_the_extension_thread_pool(jp_serverapp: Any) -> None:
    service = jp_serverapp.web_app.settings[SERVICE_SETTING]

    def where(client: Any) -> str:
        return threading.current_thread().name

    assert (await service.call(where)).startswith("jupyter-mlops")
    assert threading.current_thread().name != "jupyter-mlops"


@settings(config={"tracking_uri": None})
async def test_store_is_opened_in_the_background_once_the_server_runs(
    jp_serverapp: Any, jp_root_dir: Path
) -> None:
    service = jp_serverapp.web_app.settings[SERVICE_SETTING]
    assert service.warming is None
    assert not (Path(jp_root_dir) / "mlflow.db").exists()
    await jp_serverapp._post_start()  # what ServerApp.start_ioloop schedules
    assert service.warming is not None
    await asyncio.wrap_future(service.warming)
    assert (Path(jp_root_dir) / "mlflow.db").is_file()


async def test_kernel_in_a_subfolder_gets_the_same_store(
    jp_serverapp: Any, jp_root_dir: Path
) -> None:
    (Path(jp_root_dir) / "notebooks" / "deep").mkdir(parents=True)
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name="python3", path="notebooks/deep")
    client = km.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        code = (
            f"import os, sys, json; sys.path.insert(0, {PACKAGE_PARENT!r})\n"
            "from jupyter_mlops.config import MlopsConfig\n"
            "print(json.dumps({'cwd': os.getcwd(), 'resolved': MlopsConfig().resolved_tracking_uri(),"
            " 'root': os.environ.get('JUPYTER_MLOPS_ROOT_DIR'),"
            " 'project': MlopsConfig().resolved_project()}))"
        )
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        reply = await client.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)
    seen = json.loads("".join(out))
    service = jp_serverapp.web_app.settings[SERVICE_SETTING]
    assert Path(seen["cwd"]) == (Path(jp_root_dir) / "notebooks" / "deep").resolve()
    assert seen["resolved"] == service.tracking_uri
    assert seen["root"] == service.root_dir
    assert seen["project"] == "test-project"


def test_server_start_does_not_import_mlflow(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp(jpserver_extensions={'jupyter_mlops': True}, root_dir=sys.argv[1],"
        " open_browser=False)\n"
        "app.initialize(argv=[], new_httpserver=False)\n"
        "assert 'jupyter_mlops' in app.extension_manager.extension_apps, 'extension not loaded'\n"
        "print('mlflow' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, "JUPYTER_MLOPS_PROJECT": "p"}
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_startup_heap_is_frozen_once_the_store_is_warm() -> None:
    """After the warm-up, what the server holds leaves the collector's full passes (gc.freeze):
    a full collection over MLflow's heap paused every request for 150-250 ms."""
    code = (
        "import gc, mlflow\n"
        "from jupyter_mlops.server.app import MlopsExtensionApp, _freeze_heap\n"
        "assert MlopsExtensionApp().freeze_startup_heap\n"
        "before = gc.get_freeze_count()\n"
        "_freeze_heap()\n"
        "print(before, gc.get_freeze_count() > 100_000)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": PACKAGE_PARENT},
        timeout=120,
        check=True,
    ).stdout.split()
    assert out == ["0", "True"]


async def test_a_second_start_starts_nothing_twice(jp_serverapp: Any) -> None:
    """A second ``_post_start`` (tests have made one) must not start a second cost engine,
    sampler or scheduler: two engines warned of every idle kernel twice."""

    def threads(name: str) -> int:
        return sum(1 for t in threading.enumerate() if t.name == name and t.is_alive())

    service = jp_serverapp.web_app.settings[SERVICE_SETTING]
    before = {name: threads(name) for name in ("mlops-cost-sampler", "jupyter-mlops-scheduler")}
    await jp_serverapp._post_start()  # what ServerApp.start_ioloop schedules
    engine = service.cost
    assert engine is not None
    started = {name: threads(name) for name in before}
    assert started == {name: count + 1 for name, count in before.items()}
    await jp_serverapp._post_start()
    assert service.cost is engine
    assert {name: threads(name) for name in before} == started
