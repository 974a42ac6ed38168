"""Confinement of the artifact routes to the run's artifact folder, against a real server.

The run's artifact folder sits beside files it must never serve: a secret in
its parent, a file in a sibling run's folder, ``/etc/passwd``, and symlinks
inside the artifact folder that point at the secret and at the outside folder.
Every payload of the traversal corpus (``../``, ``..%2f``, ``%2e%2e/``,
double-encoded dots, absolute paths, ``a/../../x``, backslashes, NUL, the
symlinks) is refused with a 4xx by the listing, preview and raw routes; no
response carries a canary; listings leave the outward links out. The same
corpus is refused by the core functions directly (no URL decoding in between).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from promises import record

from jupyter_mlops.core.artifacts import browse as artifact_browse
from jupyter_mlops.exceptions import MlopsError
from jupyter_mlops.server.errors import http_status

pytestmark = pytest.mark.slow

API = "jupyter-mlops/api"
ROUTES = ("artifacts", "artifacts/preview", "artifacts/raw")

# Sent as written in the query string (the server decodes it once).
ENCODED_CORPUS = [
    "..%2Fsecret.txt",
    "..%2fsecret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "%2e%2e%5csecret.txt",
    "%2Fetc%2Fpasswd",
    "..%00/secret.txt",
    "ok.txt%00",
    "a%2F..%2F..%2Fsecret.txt",
]
# Given as the decoded value (URL-encoded once by the client).
PLAIN_CORPUS = [
    "../secret.txt",
    "..",
    "../",
    "a/../../secret.txt",
    "plots/../../secret.txt",
    "/etc/passwd",
    "//etc/passwd",
    "~/secret.txt",
    "..\\secret.txt",
    "a\\..\\..\\secret.txt",
    "C:\\Windows\\win.ini",
    "ok.txt\x00",
    "%2e%2e/secret.txt",
    "%2e%2e%2fsecret.txt",
    "../sibling/artifacts/other.txt",
    "link_out/secret.txt",
    "link_out",
    "link_secret",
    "link_passwd",
    "plots/link_up/secret.txt",
    "x" * 2000,
]


class World:
    """A run's artifact folder with outward symlinks, beside canary files."""

    def __init__(self, client: Any, tmp: Path) -> None:
        self.canaries: list[str] = []
        base = tmp / "artifact-store"
        experiment = client.create_experiment("confined", artifact_location=base.as_uri())
        self.run_id = client.create_run(experiment).info.run_id
        client.log_text(self.run_id, "fine", "ok.txt")
        client.log_text(self.run_id, "roc", "plots/roc.txt")
        self.root = Path(client.get_run(self.run_id).info.artifact_uri.removeprefix("file://"))
        outside = tmp / "outside"
        outside.mkdir()
        self.secret = self._canary(self.root.parent / "secret.txt")
        self._canary(outside / "secret.txt")
        self._canary(self.root.parent.parent / "sibling" / "artifacts" / "other.txt")
        (self.root / "link_out").symlink_to(outside, target_is_directory=True)
        (self.root / "link_secret").symlink_to(self.secret)
        (self.root / "link_passwd").symlink_to("/etc/passwd")
        (self.root / "plots" / "link_up").symlink_to(self.root.parent, target_is_directory=True)
        (self.root / "link_inside").symlink_to(self.root / "ok.txt")

    def _canary(self, path: Path) -> Path:
        token = f"CANARY-{uuid.uuid4().hex}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token, encoding="utf-8")
        self.canaries.append(token)
        return path


@pytest.fixture
def jp_server_config(jp_server_config: Any, token: str) -> Any:
    """The shared server config with the module's token (``fetch(..., auth=True)`` sends it)."""
    jp_server_config.IdentityProvider.token = token
    return jp_server_config


@pytest.fixture
def world(mlflow_store: Any, tmp_path: Path) -> World:
    return World(mlflow_store.client, tmp_path)


def leaked(text: str, world: World) -> list[str]:
    return [c for c in world.canaries if c in text] + (["root:x:0"] if "root:x:0" in text else [])


async def test_traversal_corpus_refused_by_every_route(
    fetch: Any, world: World, jp_base_url: str
) -> None:
    tried = refused = 0
    queries = [*ENCODED_CORPUS, *(quote(p, safe="") for p in PLAIN_CORPUS)]
    for route in ROUTES:
        for query in queries:
            url = f"{API}/runs/{world.run_id}/{route}?path={query}"
            response = await fetch(url, auth=True)
            tried += 1
            text = response.body.decode("utf-8", "replace")
            assert 400 <= response.code < 500, (route, query, response.code, text[:200])
            refused += 1
            assert leaked(text, world) == [], (route, query)
            body = json.loads(text)
            assert body["error"] in {"UsageError", "PathError", "NotFoundError"}, body
    record(
        "security",
        "artifact routes refuse the traversal corpus; nothing outside the run's folder is read",
        requests=tried,
        refused=refused,
        canaries_planted=len(world.canaries),
    )


async def test_listings_hide_outward_links_and_serve_inward_ones(fetch: Any, world: World) -> None:
    response = await fetch(f"{API}/runs/{world.run_id}/artifacts", auth=True)
    assert response.code == 200
    names = [e["name"] for e in json.loads(response.body)["entries"]]
    assert names == ["plots", "link_inside", "ok.txt"]
    plots = await fetch(f"{API}/runs/{world.run_id}/artifacts?path=plots", auth=True)
    assert [e["name"] for e in json.loads(plots.body)["entries"]] == ["roc.txt"]
    inside = await fetch(f"{API}/runs/{world.run_id}/artifacts/raw?path=link_inside", auth=True)
    assert (inside.code, inside.body) == (200, b"fine")
    symlinked = await fetch(f"{API}/runs/{world.run_id}/artifacts/raw?path=link_secret", auth=True)
    assert symlinked.code == 403
    assert json.loads(symlinked.body)["error"] == "PathError"


@pytest.mark.parametrize("path", PLAIN_CORPUS + [p.replace("%", "%25") for p in ENCODED_CORPUS])
def test_core_refuses_corpus(mlflow_store: Any, world: World, path: str) -> None:
    """The core functions refuse each path as given (a caller that does no URL decoding)."""
    client = mlflow_store.client
    for call in (
        artifact_browse.list_artifacts,
        artifact_browse.preview_artifact,
        artifact_browse.open_artifact,
    ):
        with pytest.raises(MlopsError) as refused:
            call(client, world.run_id, path)
        assert http_status(refused.value) in {400, 403, 404}
        assert leaked(str(refused.value), world) == []


async def test_raw_route_checks_origin_with_a_cookie(
    fetch: Any, world: World, jp_http_port: int
) -> None:
    """Like jupyter_server's ``/files``: a cookie-only GET of a file needs the XSRF token or a
    same-origin referer (what a browser sends for the panel's ``<img>`` and frame)."""
    first = await fetch(f"{API}/health", auth=True)
    cookie = next(
        header.split(";", 1)[0]
        for header in first.headers.get_list("Set-Cookie")
        if header.startswith("username-")
    )
    url = f"{API}/runs/{world.run_id}/artifacts/raw?path=ok.txt"
    for headers in ({"Cookie": cookie}, {"Cookie": cookie, "Referer": "https://evil.example/"}):
        refused = await fetch(url, headers=headers)
        assert refused.code == 403, headers
        assert b"fine" not in refused.body
    same_origin = {"Cookie": cookie, "Referer": f"http://127.0.0.1:{jp_http_port}/lab"}
    xsrf = "2|abcdef01|0123456789abcdef0123456789abcdef|1700000000"
    for target, headers in (
        (url, same_origin),
        (f"{url}&_xsrf={quote(xsrf)}", {"Cookie": f"{cookie}; _xsrf={xsrf}"}),
    ):
        allowed = await fetch(target, headers=headers)
        assert (allowed.code, allowed.body) == (200, b"fine")
