"""Access control of every jupyter-mlops route, enumerated from the running server.

* The server starts with ``allow_unauthenticated_access=False`` and with
  ``JupyterServerAuthWarning`` turned into an error (the module's mark), so an
  undecorated handler would stop it from starting.
* Without credentials every route and method answers 403 (websockets included),
  before any authorizer is asked and before anything runs.
* With a read-only authorizer every GET works and every POST that writes or
  executes is 403, with nothing changed on disk or in the store.
* A cookie-authenticated POST without the XSRF token is 403.
* Error bodies carry no traceback, no package file paths and no token; the
  server log never contains the token.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from jupyter_server.utils import JupyterServerAuthWarning
from promises import record
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

import jupyter_mlops

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
]

PACKAGE_DIR = str(Path(jupyter_mlops.__file__).resolve().parent)


@pytest.fixture
def jp_server_config(jp_server_config: Any, token: str, authorizer: Any) -> Any:
    """The shared server config, with a long token and the recording authorizer."""
    authorizer.mode = "all"
    authorizer.seen = []
    jp_server_config["ServerApp"]["authorizer_class"] = authorizer
    # an extension that fails to load (an auth warning turned error) fails the test, loudly
    jp_server_config["ServerApp"]["reraise_server_extension_failures"] = True
    jp_server_config.IdentityProvider.token = token
    return jp_server_config


def check_error_body(response: Any, token: str) -> None:
    """No traceback, no path into the installed package, no token."""
    text = response.body.decode("utf-8", "replace")
    assert "Traceback" not in text, text[:300]
    assert PACKAGE_DIR not in text, text[:300]
    assert "site-packages" not in text, text[:300]
    assert token not in text


async def test_server_starts_clean_with_auth_required(jp_serverapp: Any, routes: list[Any]) -> None:
    """No auth warning at start (the mark makes one an error), and every method is decorated."""
    assert jp_serverapp.allow_unauthenticated_access is False
    assert "jupyter_mlops" in jp_serverapp.extension_manager.extensions
    assert jp_serverapp.extension_manager.extensions["jupyter_mlops"].enabled
    web_app = jp_serverapp.web_app
    for route in routes:
        undecorated = web_app._check_handler_auth(re.compile(route.pattern), route.handler)
        assert undecorated == [], route.pattern

    class Undecorated(tornado.web.RequestHandler):
        def get(self) -> None:
            self.finish("open")

    # the filter is armed: an undecorated route would have stopped the server
    with pytest.raises(JupyterServerAuthWarning):
        web_app.add_handlers(".*$", [("/jupyter-mlops/undecorated", Undecorated)])


async def test_every_route_is_403_without_credentials(
    routes: list[Any],
    fetch: Any,
    token: str,
    server_log: Any,
    authorizer: Any,
    jp_http_port: int,
) -> None:
    authorizer.seen = []
    checked = refused = websockets = 0
    for route in routes:
        for method in route.methods:
            response = await fetch(route.url, method=method)
            checked += 1
            assert response.code == 403, (method, route.url, response.code)
            refused += 1
            check_error_body(response, token)
            assert json.loads(response.body)["error"] == "HTTPError"
        if route.websocket:
            websockets += 1
            with pytest.raises(HTTPClientError) as refused_ws:
                await websocket_connect(f"ws://127.0.0.1:{jp_http_port}{route.url}")
            assert refused_ws.value.code == 403
    # authentication comes first: no authorizer was even asked
    assert authorizer.seen == []
    assert token not in server_log.text()
    record(
        "access",
        "every route answers 403 without credentials",
        ok=refused == checked,
        routes=len(routes),
        methods_checked=checked,
        refused=refused,
        websocket_routes=websockets,
    )


def store_state(client: Any) -> list[tuple[str, str, str]]:
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], max_results=1000
    )
    return sorted((r.info.run_id, r.info.status, json.dumps(r.data.metrics)) for r in runs)


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in folder.rglob("*")
        if p.is_file()
    }


def notebook(params: str) -> dict[str, Any]:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["parameters"]},
        "outputs": [],
        "source": [params],
    }
    return {
        "cells": [cell],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def post_body(route: Any) -> dict[str, Any]:
    """A body that would do real work if allowed (export a notebook, start a run)."""
    if route.url.endswith("/pipelines/export"):
        return {"notebooks": ["nb/train.ipynb"], "output": "exported"}
    if route.url.endswith("/pipelines/runs"):
        return {"path": "nb/train.ipynb"}
    if route.url.endswith("/pipelines/schedules"):
        return {"path": "nb/train.ipynb", "cron": "0 0 1 1 *"}
    return {}


async def test_read_only_authorizer_allows_gets_refuses_writes(
    routes: list[Any],
    fetch: Any,
    token: str,
    jp_root_dir: Path,
    mlflow_store: Any,
    make_run: Any,
    server_log: Any,
    authorizer: Any,
) -> None:
    root = Path(jp_root_dir)
    (root / "nb").mkdir()
    (root / "nb" / "train.ipynb").write_text(json.dumps(notebook("lr = 0.1\n")), "utf-8")
    make_run("churn", name="before", metrics={"acc": [0.5]})
    files_before, store_before = tree(root), store_state(mlflow_store.client)

    authorizer.mode = "read"
    gets = posts = 0
    for route in routes:
        for method in route.methods:
            authorizer.seen = []
            body = json.dumps(post_body(route)) if method != "GET" else None
            response = await fetch(route.url, method=method, body=body, auth=True)
            check_error_body(response, token)
            if method == "GET":
                gets += 1
                assert response.code in {200, 400, 404}, (route.url, response.code)
                assert [action for action, _ in authorizer.seen] == ["read"]
            else:
                posts += 1
                assert response.code == 403, (method, route.url, response.code)
                assert json.loads(response.body)["error"] == "HTTPError"
                # refused by the authorizer, for a write or execute action on an mlops: resource
                [(action, resource)] = authorizer.seen
                assert action in {"write", "execute"}
                assert resource.startswith("mlops:")
    assert gets
    assert posts
    assert tree(root) == files_before
    assert store_state(mlflow_store.client) == store_before
    listing = await fetch("jupyter-mlops/api/pipelines/runs", auth=True)
    assert json.loads(listing.body)["runs"] == []
    schedules = await fetch("jupyter-mlops/api/pipelines/schedules", auth=True)
    assert json.loads(schedules.body)["schedules"] == []  # listed (read), none added

    # the same export body is a real one: allowed, it writes the pipeline
    authorizer.mode = "all"
    export = next(r for r in routes if r.url.endswith("/pipelines/export"))
    allowed = await fetch(export.url, method="POST", body=json.dumps(post_body(export)), auth=True)
    assert allowed.code == 201, allowed.body
    assert (root / "exported" / "pipeline.yaml").is_file()
    schedules_route = next(r for r in routes if r.url.endswith("/pipelines/schedules"))
    body = json.dumps(post_body(schedules_route))
    added = await fetch(schedules_route.url, method="POST", body=body, auth=True)
    assert added.code == 201, added.body
    assert token not in server_log.text()
    record(
        "access",
        "read-only authorizer: every GET works, every POST that writes or executes is 403",
        gets=gets,
        posts_refused=posts,
        files_unchanged=True,
        store_unchanged=True,
    )


def login_cookie(response: Any) -> str:
    """``name=value`` of the login cookie the server set on a token-authenticated request."""
    for header in response.headers.get_list("Set-Cookie"):
        name_value = header.split(";", 1)[0]
        if name_value.startswith("username-"):
            return name_value
    raise AssertionError(f"no login cookie in {response.headers.get_list('Set-Cookie')}")


async def test_cookie_post_without_xsrf_is_403(
    routes: list[Any], fetch: Any, token: str, jp_root_dir: Path, server_log: Any
) -> None:
    first = await fetch("jupyter-mlops/api/health", auth=True)
    assert first.code == 200
    cookie = login_cookie(first)
    # the cookie alone authenticates a GET
    again = await fetch("jupyter-mlops/api/health", headers={"Cookie": cookie})
    assert again.code == 200

    before = tree(Path(jp_root_dir))
    posts = [r for r in routes if "POST" in r.methods]
    assert posts
    for route in posts:
        response = await fetch(route.url, method="POST", headers={"Cookie": cookie})
        assert response.code == 403, (route.url, response.code)
        check_error_body(response, token)
        assert "xsrf" in response.body.decode().lower()
    assert tree(Path(jp_root_dir)) == before

    # with the XSRF cookie and header the same POST gets through to the handler (bad body: 400)
    export = next(r for r in posts if r.url.endswith("/pipelines/export"))
    xsrf = "2|abcdef01|0123456789abcdef0123456789abcdef|1700000000"
    with_xsrf = await fetch(
        export.url,
        method="POST",
        body=b"{}",
        headers={"Cookie": f"{cookie}; _xsrf={xsrf}", "X-XSRFToken": xsrf},
    )
    assert with_xsrf.code == 400, with_xsrf.body
    assert token not in server_log.text()
    record(
        "access",
        "a cookie POST without XSRF is refused",
        post_routes=len(posts),
        refused=len(posts),
    )


async def test_errors_carry_no_traceback_and_logs_no_token(
    routes: list[Any], fetch: Any, token: str, server_log: Any, jp_base_url: str
) -> None:
    """Every kind of error, and the token in a URL, a header and a wrong token: none leak."""
    requests = 0
    for route in routes:
        requests += 1
        check_error_body(await fetch(route.url, method="PUT", auth=True), token)
        for method in route.methods:
            requests += 2
            bad_body = b"{not json" if method == "POST" else None
            check_error_body(await fetch(route.url, method=method, body=bad_body, auth=True), token)
            sep = "&" if "?" in route.url else "?"
            check_error_body(await fetch(f"{route.url}{sep}token={token}", method=method), token)
    wrong = f"wrong-{token[::-1]}"
    for headers in ({"Authorization": f"token {wrong}"}, {"Cookie": f"username-x={wrong}"}):
        requests += 1
        response = await fetch("jupyter-mlops/api/runs", headers=headers)
        assert response.code == 403
        check_error_body(response, token)
    # an unknown API path falls to jupyter_server's HTML 404 page; without credentials it
    # holds no token (with them, jupyter_server's page template embeds the caller's own token)
    requests += 1
    check_error_body(await fetch("jupyter-mlops/api/no-such-route"), token)
    log = server_log.text()
    assert log, "the server log was not captured"
    assert token not in log
    assert wrong not in log
    record(
        "access",
        "error bodies carry no traceback; the log never holds the token",
        requests=requests,
        log_lines=len(server_log.lines),
        python=sys.version.split()[0],
    )
