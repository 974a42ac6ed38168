"""The artifact routes against a real server and a real MLflow store with real artifacts.

Listing (folders first, sizes, kinds, MLflow model folders), capped previews, a
large file streamed byte for byte, ``MLmodel`` flavours and signatures (a
hand-written one and a real ``mlflow.sklearn.log_model``), the headers that keep
HTML and SVG from running in JupyterLab's origin, the MLflow UI route, and
403 without credentials or with an authorizer that refuses ``mlops:runs``.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from jupyter_server.auth import Authorizer

from jupyter_mlops.core.artifacts import browse as artifact_browse
from jupyter_mlops.core.artifacts.browse import PREVIEW_BYTES

pytestmark = pytest.mark.slow

Check = Callable[[str, int, Any], None]
API = "jupyter-mlops/api"
UNKNOWN = "0123456789abcdef0123456789abcdef"
XSS_HTML = (
    "<html><body><h1>Report</h1><script>window.__xss=1</script>"
    '<img src=x onerror="window.__xss=1"></body></html>'
)
SVG = '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.9
    env: {conda: conda.yaml}
  sklearn:
    sklearn_version: 1.5.0
    serialization_format: cloudpickle
mlflow_version: 3.17.2
model_uuid: 5d9c
run_id: abc
signature:
  inputs: '[{"type": "double", "name": "age", "required": true}, {"type": "string",
    "name": "city", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-12-06 10:00:00.000000'
"""


def png_bytes(width: int = 4, height: int = 3) -> bytes:
    """A real, valid PNG image (red pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def artifact_run(mlflow_store: Any, tmp_path: Path) -> tuple[str, Path]:
    """A run with an image, CSV, JSON, SVG, HTML report, a model folder and a 2.7 MB log."""
    client = mlflow_store.client
    experiment = client.create_experiment(
        "artifacts", artifact_location=(tmp_path / "artifacts").as_uri()
    )
    run_id = client.create_run(experiment).info.run_id
    client.log_text(run_id, "epoch,loss\n1,0.5\n2,0.25\n", "data/metrics.csv")
    client.log_dict(run_id, {"lr": 0.1, "layers": [3, 4]}, "config.json")
    client.log_text(run_id, XSS_HTML, "notebook/x.html")
    client.log_text(run_id, SVG, "plots/shape.svg")
    client.log_text(run_id, MLMODEL, "model/MLmodel")
    client.log_text(run_id, "numpy==2.0\n", "model/requirements.txt")
    source = tmp_path / "src"
    source.mkdir()
    (source / "roc.png").write_bytes(png_bytes())
    client.log_artifact(run_id, str(source / "roc.png"), "plots")
    big = source / "train.log"
    with big.open("wb") as handle:
        for i in range(3 * 1024 * 1024 // 64):
            handle.write(f"{i:08d} step loss=0.123456789 accuracy=0.987654321 ok\n".encode())
    client.log_artifact(run_id, str(big))
    (source / "weights.bin").write_bytes(bytes(range(256)) * 4)
    client.log_artifact(run_id, str(source / "weights.bin"))
    client.set_terminated(run_id)
    root = Path(client.get_run(run_id).info.artifact_uri.removeprefix("file://"))
    return run_id, root


async def test_root_listing_folders_first_with_sizes(
    get_json: Any, check_response: Check, artifact_run: tuple[str, Path]
) -> None:
    run_id, root = artifact_run
    code, body = await get_json("runs", run_id, "artifacts")
    assert code == 200, body
    check_response("/runs/{run_id}/artifacts", 200, body)
    names = [(e["name"], e["is_dir"], e["kind"]) for e in body["entries"]]
    assert names == [
        ("data", True, "folder"),
        ("model", True, "folder"),
        ("notebook", True, "folder"),
        ("plots", True, "folder"),
        ("config.json", False, "text"),
        ("train.log", False, "text"),
        ("weights.bin", False, "binary"),
    ]
    sizes = {e["name"]: e["size"] for e in body["entries"]}
    assert sizes["train.log"] == (root / "train.log").stat().st_size
    assert sizes["data"] is None
    assert next(e for e in body["entries"] if e["name"] == "model")["is_model"] is True
    assert (body["path"], body["truncated"], body["model"], body["models"]) == ("", False, None, [])


async def test_sub_folder_and_model_folder(
    get_json: Any, check_response: Check, artifact_run: tuple[str, Path]
) -> None:
    run_id, _ = artifact_run
    code, plots = await get_json("runs", run_id, "artifacts", params={"path": "plots/"})
    assert code == 200
    assert [(e["path"], e["kind"]) for e in plots["entries"]] == [
        ("plots/roc.png", "image"),
        ("plots/shape.svg", "svg"),
    ]
    code, body = await get_json("runs", run_id, "artifacts", params={"path": "model"})
    assert code == 200
    check_response("/runs/{run_id}/artifacts", 200, body)
    model = body["model"]
    assert [f["name"] for f in model["flavors"]] == ["python_function", "sklearn"]
    assert model["flavors"][1]["details"] == {
        "sklearn_version": "1.5.0",
        "serialization_format": "cloudpickle",
    }
    assert model["signature"]["inputs"] == [
        {"name": "age", "type": "double"},
        {"name": "city", "type": "string (optional)"},
    ]
    assert model["signature"]["outputs"] == [{"name": None, "type": "tensor(float64, [-1])"}]
    assert model["signature"]["params"] == []
    assert model["mlflow_version"] == "3.17.2"


async def test_previews_text_capped_and_kinds(
    get_json: Any, check_response: Check, artifact_run: tuple[str, Path]
) -> None:
    run_id, root = artifact_run

    async def preview(path: str) -> dict[str, Any]:
        code, body = await get_json("runs", run_id, "artifacts", "preview", params={"path": path})
        assert code == 200, body
        check_response("/runs/{run_id}/artifacts/preview", 200, body)
        return dict(body)

    csv = await preview("data/metrics.csv")
    assert csv["kind"] == "text"
    assert csv["text"] == "epoch,loss\n1,0.5\n2,0.25\n"
    assert csv["truncated"] is False
    assert json.loads((await preview("config.json"))["text"]) == {"lr": 0.1, "layers": [3, 4]}
    log = await preview("train.log")
    assert log["truncated"] is True
    assert len(log["text"].encode()) == PREVIEW_BYTES
    assert log["size"] == (root / "train.log").stat().st_size
    for path, kind in [("plots/roc.png", "image"), ("notebook/x.html", "html")]:
        found = await preview(path)
        assert (found["kind"], found["text"]) == (kind, None)
    assert (await preview("weights.bin"))["kind"] == "binary"
    mlmodel = await preview("model/MLmodel")
    assert mlmodel["model"]["flavors"][0]["name"] == "python_function"


async def test_large_file_streams_whole(jp_fetch: Any, artifact_run: tuple[str, Path]) -> None:
    run_id, root = artifact_run
    expected = (root / "train.log").read_bytes()
    assert len(expected) > 2_500_000  # many chunks of the raw handler
    response = await jp_fetch(API, "runs", run_id, "artifacts", "raw", params={"path": "train.log"})
    assert response.code == 200
    assert response.body == expected
    assert response.headers["Content-Length"] == str(len(expected))
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("path", "content_type", "plain", "previewed"),
    [
        ("notebook/x.html", "text/html; charset=utf-8", "attachment", "inline"),
        ("plots/shape.svg", "image/svg+xml", "attachment", "inline"),
        ("plots/roc.png", "image/png", "inline", "inline"),
        ("data/metrics.csv", "text/plain; charset=utf-8", "inline", "inline"),
        ("weights.bin", "application/octet-stream", "attachment", "attachment"),
    ],
)
async def test_raw_headers_sandbox_everything(
    jp_fetch: Any,
    artifact_run: tuple[str, Path],
    path: str,
    content_type: str,
    plain: str,
    previewed: str,
) -> None:
    run_id, root = artifact_run
    for params, disposition in [
        ({"path": path}, plain),
        ({"path": path, "preview": "1"}, previewed),
        ({"path": path, "preview": "1", "download": "1"}, "attachment"),
    ]:
        response = await jp_fetch(API, "runs", run_id, "artifacts", "raw", params=params)
        assert response.code == 200
        assert response.body == (root / path).read_bytes()
        headers = response.headers
        assert headers["Content-Type"] == content_type
        assert headers["X-Content-Type-Options"] == "nosniff"
        policy = [part.strip() for part in headers["Content-Security-Policy"].split(";")]
        assert "sandbox" in policy  # no allow-scripts, no allow-same-origin
        assert "default-src 'none'" in policy
        assert not any("script-src" in part for part in policy)
        assert headers["Content-Disposition"].startswith(f"{disposition}; filename=")
        assert Path(path).name in headers["Content-Disposition"]


async def test_errors(get_json: Any, jp_fetch: Any, artifact_run: tuple[str, Path]) -> None:
    run_id, _ = artifact_run
    code, body = await get_json("runs", UNKNOWN, "artifacts")
    assert (code, body["error"]) == (404, "NotFoundError")
    code, body = await get_json("runs", run_id, "artifacts", params={"path": "nope"})
    assert (code, body["error"]) == (404, "NotFoundError")
    code, body = await get_json("runs", run_id, "artifacts", params={"path": "config.json"})
    assert (code, body["error"]) == (400, "UsageError")
    code, body = await get_json("runs", run_id, "artifacts", "preview")
    assert (code, body["error"]) == (400, "UsageError")
    code, body = await get_json("runs", run_id, "artifacts", "preview", params={"path": "plots"})
    assert (code, body["error"]) == (400, "UsageError")
    response = await jp_fetch(
        API, "runs", run_id, "artifacts", "raw", params={"path": "gone.txt"}, raise_error=False
    )
    assert response.code == 404
    assert json.loads(response.body)["error"] == "NotFoundError"


async def test_logged_sklearn_model_is_listed(
    get_json: Any, check_response: Check, mlflow_store: Any, tmp_path: Path
) -> None:
    """MLflow 3 keeps ``log_model`` output outside the run's tree; the root listing shows it."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression

    client = mlflow_store.client
    experiment = client.create_experiment("models", artifact_location=(tmp_path / "m").as_uri())
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_store.uri)
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            model = LinearRegression().fit(np.ones((3, 2)), [1.0, 2.0, 3.0])
            mlflow.sklearn.log_model(model, name="regressor", input_example=np.ones((1, 2)))
    finally:
        mlflow.set_tracking_uri(previous)
    code, body = await get_json("runs", run.info.run_id, "artifacts")
    assert code == 200, body
    check_response("/runs/{run_id}/artifacts", 200, body)
    [logged] = body["models"]
    assert logged["name"] == "regressor"
    assert logged["uri"] == f"models:/{logged['model_id']}"
    assert logged["error"] is None
    flavors = [f["name"] for f in logged["model"]["flavors"]]
    assert flavors == ["python_function", "sklearn"]
    assert logged["model"]["signature"]["inputs"] == [
        {"name": None, "type": "tensor(float64, [-1, 2])"}
    ]


def test_remote_store_path_downloads_with_cap(mlflow_store: Any, tmp_path: Path) -> None:
    """``direct=False`` is the path of S3 & co: list_artifacts, download_artifacts, a size cap."""
    client = mlflow_store.client
    experiment = client.create_experiment("remote", artifact_location=(tmp_path / "r").as_uri())
    run_id = client.create_run(experiment).info.run_id
    client.log_text(run_id, "a,b\n1,2\n", "tables/t.csv")
    client.log_text(run_id, "x" * 5000, "big.txt")
    listing = artifact_browse.list_artifacts(client, run_id, "", direct=False)
    assert [(e["path"], e["is_dir"], e["size"]) for e in listing["entries"]] == [
        ("tables", True, None),
        ("big.txt", False, 5000),
    ]
    with artifact_browse.open_artifact(client, run_id, "tables/t.csv", direct=False) as found:
        temp = found.temp_dir
        assert temp is not None
        assert found.path.read_text() == "a,b\n1,2\n"
    assert not Path(temp).exists()
    from jupyter_mlops.exceptions import NotFoundError, UsageError

    with pytest.raises(UsageError, match="more than the 1000 bytes"):
        artifact_browse.open_artifact(client, run_id, "big.txt", max_bytes=1000, direct=False)
    with pytest.raises(NotFoundError):
        artifact_browse.list_artifacts(client, run_id, "nothing", direct=False)
    preview = artifact_browse.preview_artifact(client, run_id, "big.txt", limit=10, direct=False)
    assert (preview["text"], preview["truncated"]) == ("x" * 10, True)


def test_mlflow_ui_info_redacts_and_refuses_scripts() -> None:
    info = artifact_browse.mlflow_ui_info("", "postgresql://u:secret@db/mlflow")
    assert info == {
        "url": None,
        "command": "mlflow ui --backend-store-uri postgresql://db/mlflow",
    }
    assert artifact_browse.mlflow_ui_info("javascript:alert(1)", "sqlite:///x.db")["url"] is None
    url = artifact_browse.mlflow_ui_info("https://me:pw@mlflow.example/ui/", "x")["url"]
    assert url == "https://mlflow.example/ui"


class DenyRuns(Authorizer):
    """Allows everything but ``mlops:runs`` (read included); records what it was asked."""

    seen: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.seen.append((action, resource))
        return resource != "mlops:runs"


@pytest.fixture
def jp_server_config(jp_server_config: Any, request: pytest.FixtureRequest) -> Any:
    """The MLflow UI address set; the refusing authorizer for the tests that ask for it."""
    jp_server_config["MlopsConfig"]["mlflow_ui_url"] = "http://user:pw@mlflow.example:5000/"
    if request.node.name.startswith("test_read_denied"):
        DenyRuns.seen = []
        jp_server_config["ServerApp"]["authorizer_class"] = DenyRuns
    return jp_server_config


async def test_mlflow_ui_route(get_json: Any, check_response: Check, mlflow_store: Any) -> None:
    code, body = await get_json("mlflow-ui")
    assert code == 200
    check_response("/mlflow-ui", 200, body)
    assert body["url"] == "http://mlflow.example:5000"
    assert body["command"] == f"mlflow ui --backend-store-uri {mlflow_store.uri}"


ARTIFACT_URLS = [
    "runs/{run}/artifacts",
    "runs/{run}/artifacts?path=plots",
    "runs/{run}/artifacts/preview?path=config.json",
    "runs/{run}/artifacts/raw?path=plots/roc.png",
    "runs/{run}/artifacts/raw?path=notebook/x.html&preview=1",
]


async def test_without_credentials_403(raw_get: Any, artifact_run: tuple[str, Path]) -> None:
    run_id, _ = artifact_run
    for url in ARTIFACT_URLS:
        code, body = await raw_get(f"{API}/{url.format(run=run_id)}")
        assert code == 403, url
        assert body["error"] == "HTTPError"
        assert "Report" not in json.dumps(body)


async def test_read_denied_403(
    raw_get: Any, jp_auth_header: dict[str, str], artifact_run: tuple[str, Path]
) -> None:
    run_id, _ = artifact_run
    for url in ARTIFACT_URLS:
        DenyRuns.seen = []
        code, body = await raw_get(f"{API}/{url.format(run=run_id)}", headers=jp_auth_header)
        assert code == 403, url
        assert body["error"] == "HTTPError"
        assert DenyRuns.seen == [("read", "mlops:runs")]
