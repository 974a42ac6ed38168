"""The pipeline routes against a real server: listing, parameters, export, launches, authorization.

Launches run real notebooks with real kernels and papermill into the test's
MLflow SQLite store; tests poll ``GET pipelines/runs/{id}`` until the launch
ends (the deadline is a safety net, not a timing assertion).
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from jupyter_server.auth import Authorizer

from jupyter_mlops.server.service import LAUNCHES_SETTING

pytestmark = pytest.mark.slow

API = "jupyter-mlops/api"
TERMINAL = {"FINISHED", "FAILED", "KILLED"}


# -- notebooks and requests ---------------------------------------------------------------------


def code(source: str, tags: list[str] | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


def notebook(*cells: dict[str, Any]) -> dict[str, Any]:
    return {
        "cells": list(cells),
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(path: Path, nb: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def tagged(params: str, *body: str) -> dict[str, Any]:
    return notebook(code(params, ["parameters"]), *(code(b) for b in body))


async def call(jp_fetch: Any, method: str, *parts: str, body: Any = None, **kw: Any) -> Any:
    """``(status, json)`` of a request to the API; never raises on 4xx."""
    if method == "POST":
        kw["body"] = json.dumps(body if body is not None else {})
    response = await jp_fetch(API, *parts, method=method, raise_error=False, **kw)
    return response.code, json.loads(response.body)


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    return Path(jp_root_dir).resolve()


@pytest.fixture
def check(check_response: Any) -> Any:
    """``check("post", "/pipelines/export", 201, body)``: body matches api/openapi.yaml exactly."""

    def _check(method: str, path: str, status: int, body: Any) -> None:
        check_response(path, status, body, method=method)

    return _check


# -- listing and parameters ---------------------------------------------------------------------


async def test_list_finds_exported_pipelines_only_inside_root(
    jp_fetch: Any, root: Path, tmp_path: Path, check: Any
) -> None:
    from jupyter_mlops.core.environment import take_snapshot
    from jupyter_mlops.core.pipeline import export_pipeline

    write(root / "src" / "prep.ipynb", tagged("test_size: float = 0.25\nseed = 42\nn = len('ab')"))
    write(root / "src" / "train.ipynb", tagged("lr = 0.1"))
    snapshot = take_snapshot(requested_only=True)
    export_pipeline(
        ["src/prep.ipynb", "src/train.ipynb"],
        "pipes/demo",
        root=root,
        name="demo",
        depends_on={"train": ["prep"]},
        snapshot=snapshot,
    )
    manifest = (root / "pipes" / "demo" / "pipeline.yaml").read_text()
    for hidden in (".hidden/p", "node_modules/p", "pipes/demo/outputs/p", "a/runs/p"):
        (root / hidden).mkdir(parents=True)
        (root / hidden / "pipeline.yaml").write_text(manifest)
    (root / "broken").mkdir()
    (root / "broken" / "pipeline.yaml").write_text("steps: [oops")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "pipeline.yaml").write_text(manifest)
    (root / "linked").symlink_to(outside, target_is_directory=True)

    code, body = await call(jp_fetch, "GET", "pipelines")
    assert code == 200
    check("get", "/pipelines", 200, body)
    assert body["truncated"] is False
    assert [p["path"] for p in body["pipelines"]] == ["pipes/demo"]
    pipeline = body["pipelines"][0]
    assert pipeline["name"] == "demo"
    assert [s["name"] for s in pipeline["steps"]] == ["prep", "train"]
    prep, train = pipeline["steps"]
    assert train["depends_on"] == ["prep"]
    assert prep["notebook"] == "notebooks/prep.ipynb"
    assert prep["parameters"] == {
        "test_size": {"type": "float", "default": 0.25, "annotation": "float"},
        "seed": {"type": "int", "default": 42},
        "n": {"type": "any", "default": None, "literal": False},
    }


async def test_parameters_of_tagged_and_untagged_notebooks(
    jp_fetch: Any, root: Path, check: Any
) -> None:
    write(root / "nb" / "t.ipynb", tagged("lr: float = 0.1\nname = 'x'\nn = len([])", "print(lr)"))
    untagged = notebook(
        {"cell_type": "markdown", "metadata": {}, "source": "# Title"},
        code("import os"),
        code("epochs = 3\n" + "x" * 200),
    )
    write(root / "nb" / "u.ipynb", untagged)

    code_, body = await call(
        jp_fetch, "GET", "pipelines", "parameters", params={"path": "nb/t.ipynb"}
    )
    assert code_ == 200
    check("get", "/pipelines/parameters", 200, body)
    assert body["path"] == "nb/t.ipynb"
    assert body["parameters_cell"] == 0
    assert [(p["name"], p["type"], p["default"], p["literal"]) for p in body["parameters"]] == [
        ("lr", "float", 0.1, True),
        ("name", "str", "x", True),
        ("n", "any", None, False),
    ]
    assert body["parameters"][0]["annotation"] == "float"
    assert body["parameters"][2]["line"] == 3

    code_, body = await call(
        jp_fetch, "GET", "pipelines", "parameters", params={"path": "nb/u.ipynb"}
    )
    assert code_ == 200
    check("get", "/pipelines/parameters", 200, body)
    assert body["parameters_cell"] is None
    assert body["parameters"] == []
    assert [c["index"] for c in body["cells"]] == [1, 2]
    assert body["cells"][0]["preview"] == "import os"
    assert len(body["cells"][1]["preview"]) == 80


async def test_parameters_bad_paths_and_malformed_notebooks(
    jp_fetch: Any, root: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "outside" / "o.ipynb", tagged("a = 1"))
    (root / "link.ipynb").symlink_to(outside)
    (root / "bad.ipynb").write_text("{not json")
    write(root / ".secret" / "h.ipynb", tagged("a = 1"))
    (root / "visible").symlink_to(root / ".secret", target_is_directory=True)
    cases = {
        ".secret/h.ipynb": (404, "NotFoundError"),
        "visible/h.ipynb": (404, "NotFoundError"),
        "link.ipynb": (403, "PathError"),
        "../outside/o.ipynb": (400, "UsageError"),
        str(outside): (400, "UsageError"),
        "bad.ipynb": (400, "InvalidValueError"),
        "missing.ipynb": (404, "NotFoundError"),
    }
    for path, (status, error) in cases.items():
        code_, body = await call(jp_fetch, "GET", "pipelines", "parameters", params={"path": path})
        assert (code_, body["error"]) == (status, error), path
        if error != "PathError":  # that one names the root folder the path must be in
            assert str(root) not in body["message"]
    code_, body = await call(jp_fetch, "GET", "pipelines", "parameters")
    assert code_ == 400


# -- export -------------------------------------------------------------------------------------


async def test_export_writes_the_pipeline_and_lists_it(
    jp_fetch: Any, root: Path, check: Any
) -> None:
    write(root / "work" / "prep.ipynb", tagged("seed = 1", "print(seed)"))
    write(root / "work" / "train.ipynb", tagged("lr = 0.1\nk = len('a')"))
    request = {"notebooks": ["work/prep.ipynb", "work/train.ipynb"], "output": "pipelines/two"}
    code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=request)
    assert code_ == 201, body
    check("post", "/pipelines/export", 201, body)
    assert body["path"] == "pipelines/two"
    assert body["name"] == "two"
    assert body["steps"] == ["prep", "train"]
    assert "pipelines/two/pipeline.yaml" in body["files"]
    assert "pipelines/two/notebooks/train.ipynb" in body["files"]
    assert all((root / f).is_file() for f in body["files"])
    assert any("'k'" in w for w in body["warnings"])
    document = yaml.safe_load((root / "pipelines/two/pipeline.yaml").read_text())
    assert [s["name"] for s in document["steps"]] == ["prep", "train"]

    _, listing = await call(jp_fetch, "GET", "pipelines")
    assert [p["path"] for p in listing["pipelines"]] == ["pipelines/two"]


async def test_export_tags_the_chosen_cell_in_jupyter_format(jp_fetch: Any, root: Path) -> None:
    nb = notebook(code("import math"), code("alpha = 0.5\nlabel = 'café'"), code("print(alpha)"))
    source = write(root / "untagged.ipynb", nb)
    before = source.read_bytes()

    request: dict[str, Any] = {"notebooks": ["untagged.ipynb"], "output": "pipes/u"}
    code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=request)
    assert code_ == 400
    assert "parameters" in body["message"]
    assert "cell" in body["hint"]
    assert not (root / "pipes").exists()
    assert source.read_bytes() == before

    code_, body = await call(
        jp_fetch, "POST", "pipelines", "export", body={**request, "tag_cell": 0}
    )
    assert code_ == 201, body
    text = source.read_text(encoding="utf-8")
    saved = json.loads(text)
    assert saved["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert "tags" not in saved["cells"][1]["metadata"]

    code_, body = await call(
        jp_fetch, "POST", "pipelines", "export", body={**request, "tag_cell": 1}
    )
    assert code_ == 201, body
    text = source.read_text(encoding="utf-8")
    saved = json.loads(text)
    assert [c["metadata"].get("tags") for c in saved["cells"]] == [None, ["parameters"], None]
    assert text == json.dumps(saved, indent=1, ensure_ascii=False) + "\n"
    assert "café" in text
    exported = yaml.safe_load((root / "pipes/u/pipeline.yaml").read_text())
    assert list(exported["steps"][0]["parameters"]) == ["alpha", "label"]


async def test_export_refuses_bad_input_and_writes_nothing(
    jp_fetch: Any, root: Path, tmp_path: Path
) -> None:
    good = write(root / "good.ipynb", tagged("a = 1"))
    outside = write(tmp_path / "outside" / "o.ipynb", tagged("a = 1"))
    (root / "link.ipynb").symlink_to(outside)
    (root / "bad.ipynb").write_text('{"cells": "nope", "nbformat": 4}')
    (root / "notjson.ipynb").write_text("garbage")
    (root / "outlink").symlink_to(tmp_path / "outside", target_is_directory=True)
    before = files_under(root)
    good_bytes = good.read_bytes()
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"notebooks": ["link.ipynb"], "output": "p"}, 403, "PathError"),
        ({"notebooks": ["../outside/o.ipynb"], "output": "p"}, 400, "UsageError"),
        ({"notebooks": [str(outside)], "output": "p"}, 400, "UsageError"),
        ({"notebooks": ["bad.ipynb"], "output": "p"}, 400, "InvalidValueError"),
        ({"notebooks": ["notjson.ipynb"], "output": "p"}, 400, "InvalidValueError"),
        ({"notebooks": ["good.ipynb", "bad.ipynb"], "output": "p"}, 400, "InvalidValueError"),
        ({"notebooks": ["good.ipynb"], "output": "outlink/p"}, 403, "PathError"),
        ({"notebooks": ["good.ipynb"], "output": "../p"}, 400, "UsageError"),
        ({"notebooks": ["good.ipynb"], "output": "p", "tag_cell": 7}, 400, "UsageError"),
        (
            {"notebooks": ["good.ipynb", "bad.ipynb"], "output": "p", "tag_cell": 0},
            400,
            "UsageError",
        ),
        ({"notebooks": [], "output": "p"}, 400, "UsageError"),
        ({"notebooks": ["good.ipynb"]}, 400, "UsageError"),
        ({"notebooks": ["good.ipynb"], "output": "p", "extra": 1}, 400, "UsageError"),
    ]
    for request, status, error in cases:
        code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=request)
        assert (code_, body["error"]) == (status, error), (request, body)
        assert body["message"]
    response = await jp_fetch(
        API, "pipelines", "export", method="POST", body="[1, 2", raise_error=False
    )
    assert response.code == 400
    assert files_under(root) == before
    assert good.read_bytes() == good_bytes
    assert list((tmp_path / "outside").iterdir()) == [outside]


# -- launches -----------------------------------------------------------------------------------


async def wait_for(jp_fetch: Any, launch_id: str, deadline: float = 240.0) -> dict[str, Any]:
    """Poll the launch until it ends (the deadline only stops a hung test)."""
    end = time.monotonic() + deadline
    while True:
        code_, body = await call(jp_fetch, "GET", "pipelines", "runs", launch_id)
        assert code_ == 200, body
        if body["status"] in TERMINAL:
            return body  # type: ignore[no-any-return]
        if time.monotonic() > end:  # hung: where the server's threads are (in this process)
            faulthandler.dump_traceback(all_threads=True)
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)


async def test_launch_with_bad_parameters_runs_nothing(jp_fetch: Any, root: Path) -> None:
    write(root / "one.ipynb", tagged("lr: float = 0.1\nepochs = 2", "print(lr)"))
    before = files_under(root)
    cases = [
        ({"path": "one.ipynb", "parameters": {"nope": 1}}, "nope"),
        ({"path": "one.ipynb", "parameters": {"lr": "fast"}}, "lr"),
        ({"path": "one.ipynb", "parameters": {"class": 1}}, "keyword"),
        ({"path": "one.ipynb", "grid": {"epochs": [1, "x"]}}, "epochs"),
    ]
    for request, word in cases:
        code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body=request)
        assert code_ == 400, body
        assert body["errors"], body
        assert any(word in e for e in body["errors"]), body
        assert "epochs" in body["hint"]
        assert "lr" in body["hint"]
    for request in (
        {"path": "one.ipynb", "workers": 0},
        {"path": "one.ipynb", "executor": "slurm"},
        {"path": "one.ipynb", "timeout": -1},
        {"path": "one.ipynb", "retries": -1},
        {"path": "one.ipynb", "retries": 11},
        {"path": "one.ipynb", "force": "yes"},
        {"path": "one.ipynb", "grid": {"lr": []}},
        {"path": "../one.ipynb"},
        {},
    ):
        code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body=request)
        assert code_ == 400, (request, body)
    code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "none.ipynb"})
    assert code_ == 404
    _, listing = await call(jp_fetch, "GET", "pipelines", "runs")
    assert listing == {"runs": []}
    assert files_under(root) == before


async def test_launch_runs_to_finished_with_runs_and_outputs(
    jp_fetch: Any, root: Path, mlflow_store: Any, check: Any
) -> None:
    write(root / "job" / "tiny.ipynb", tagged("x: int = 1", "y = x * 2\nprint(y)"))
    request = {"path": "job/tiny.ipynb", "parameters": {"x": 5}}
    code_, launch = await call(jp_fetch, "POST", "pipelines", "runs", body=request)
    assert code_ == 202, launch
    check("post", "/pipelines/runs", 202, launch)
    assert launch["path"] == "job/tiny.ipynb"
    assert [e["parameters"] for e in launch["executions"]] == [{"x": 5}]

    done = await wait_for(jp_fetch, launch["id"])
    client = mlflow_store.client
    check("get", "/pipelines/runs/{launch_id}", 200, done)
    assert done["status"] == "FINISHED", done
    assert done["run_id"]
    assert done["experiment_id"] == client.get_run(done["run_id"]).info.experiment_id
    assert done["ended"] is not None
    assert done["error"] is None
    (execution,) = done["executions"]
    assert execution["status"] == "FINISHED"
    assert execution["run_id"]
    assert execution["duration"] is not None
    output = root / execution["output"]
    assert output.is_file()
    executed = json.loads(output.read_text())
    assert any(
        "10" in "".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])
    )
    assert client.get_run(done["run_id"]).info.status == "FINISHED"
    child = client.get_run(execution["run_id"])
    assert child.info.status == "FINISHED"
    assert child.data.tags.get("mlflow.parentRunId") == done["run_id"]

    code_, listing = await call(jp_fetch, "GET", "pipelines", "runs")
    assert code_ == 200
    check("get", "/pipelines/runs", 200, listing)
    assert [r["id"] for r in listing["runs"]] == [launch["id"]]
    code_, _ = await call(jp_fetch, "GET", "pipelines", "runs", "0" * 32)
    assert code_ == 404
    code_, _ = await call(jp_fetch, "GET", "pipelines", "runs", "not-an-id")
    assert code_ == 400


async def test_failing_notebook_ends_failed(jp_fetch: Any, root: Path, mlflow_store: Any) -> None:
    write(root / "fail.ipynb", tagged("n = 1", "raise ValueError('boom')"))
    code_, launch = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "fail.ipynb"})
    assert code_ == 202, launch
    done = await wait_for(jp_fetch, launch["id"])
    assert done["status"] == "FAILED", done
    (execution,) = done["executions"]
    assert execution["status"] == "FAILED"
    assert execution["reason"] == "cell_error"
    assert "boom" in (execution["error"] or "")
    assert execution["output"]
    assert (root / execution["output"]).is_file()
    assert mlflow_store.client.get_run(execution["run_id"]).info.status == "FAILED"


async def wait_running(jp_fetch: Any, launch_id: str) -> dict[str, Any]:
    end = time.monotonic() + 120
    while True:
        _, body = await call(jp_fetch, "GET", "pipelines", "runs", launch_id)
        if any(e["status"] == "RUNNING" for e in body["executions"]) or time.monotonic() > end:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.2)


async def test_cancel_stops_a_sleeping_run(jp_fetch: Any, root: Path, mlflow_store: Any) -> None:
    write(root / "sleep.ipynb", tagged("s = 600", "import time\ntime.sleep(s)"))
    code_, launch = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "sleep.ipynb"})
    assert code_ == 202
    running = await wait_running(jp_fetch, launch["id"])
    assert running["status"] == "RUNNING", running
    code_, body = await call(jp_fetch, "POST", "pipelines", "runs", launch["id"], "cancel")
    assert code_ == 200
    assert body["id"] == launch["id"]
    done = await wait_for(jp_fetch, launch["id"])
    assert done["status"] == "KILLED", done
    assert done["error"] is None
    (execution,) = done["executions"]
    assert (execution["status"], execution["reason"]) == ("KILLED", "cancelled")
    assert mlflow_store.client.get_run(execution["run_id"]).info.status == "KILLED"
    assert mlflow_store.client.get_run(done["run_id"]).info.status == "KILLED"
    code_, again = await call(jp_fetch, "POST", "pipelines", "runs", launch["id"], "cancel")
    assert (code_, again["status"]) == (200, "KILLED")


async def test_server_stop_cancels_running_launches(
    jp_fetch: Any, jp_serverapp: Any, root: Path, mlflow_store: Any
) -> None:
    write(root / "sleep.ipynb", tagged("s = 600", "import time\ntime.sleep(s)"))
    code_, launch = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "sleep.ipynb"})
    assert code_ == 202
    await wait_running(jp_fetch, launch["id"])
    registry = jp_serverapp.web_app.settings[LAUNCHES_SETTING]
    await asyncio.get_running_loop().run_in_executor(None, registry.shutdown)
    done = registry.get(launch["id"])
    assert done["status"] == "KILLED", done
    assert mlflow_store.client.get_run(done["run_id"]).info.status == "KILLED"
    code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "sleep.ipynb"})
    assert (code_, body["error"]) == (409, "RunStateError")


# -- authorization ------------------------------------------------------------------------------


class ActionAuthorizer(Authorizer):
    """Allows only the actions in ``allowed``; records what it was asked."""

    allowed: ClassVar[set[str]] = {"read", "write", "execute"}
    seen: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.seen.append((action, resource))
        return action in self.allowed


@pytest.fixture
def allowed_actions(request: pytest.FixtureRequest) -> set[str]:
    actions: set[str] = getattr(request, "param", {"read", "write", "execute"})
    return actions


@pytest.fixture
def jp_server_config(jp_server_config: Any, allowed_actions: set[str]) -> Any:
    ActionAuthorizer.allowed = allowed_actions
    ActionAuthorizer.seen = []
    jp_server_config["ServerApp"]["authorizer_class"] = ActionAuthorizer
    return jp_server_config


def allow(*actions: str) -> Any:
    return pytest.mark.parametrize("allowed_actions", [set(actions)], indirect=True)


@allow("read")
async def test_read_only_user_can_look_but_not_export_or_run(
    jp_fetch: Any, jp_serverapp: Any, root: Path
) -> None:
    write(root / "a.ipynb", tagged("a = 1"))
    before = files_under(root)
    code_, _ = await call(jp_fetch, "GET", "pipelines")
    assert code_ == 200
    code_, _ = await call(jp_fetch, "GET", "pipelines", "parameters", params={"path": "a.ipynb"})
    assert code_ == 200
    code_, _ = await call(jp_fetch, "GET", "pipelines", "runs")
    assert code_ == 200
    export = {"notebooks": ["a.ipynb"], "output": "p", "tag_cell": 0}
    code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=export)
    assert (code_, body["error"]) == (403, "HTTPError")
    assert "write" in body["message"]
    assert "mlops:pipelines" in body["message"]
    code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "a.ipynb"})
    assert (code_, body["error"]) == (403, "HTTPError")
    assert "execute" in body["message"]
    code_, _ = await call(jp_fetch, "POST", "pipelines", "runs", "0" * 32, "cancel")
    assert code_ == 403
    assert files_under(root) == before
    assert jp_serverapp.web_app.settings[LAUNCHES_SETTING].list() == []
    assert {r for _, r in ActionAuthorizer.seen} == {"mlops:pipelines"}
    assert [a for a, _ in ActionAuthorizer.seen] == [
        "read",
        "read",
        "read",
        "write",
        "execute",
        "execute",
    ]


@allow("read", "write")
async def test_writer_can_export_but_not_run(jp_fetch: Any, jp_serverapp: Any, root: Path) -> None:
    write(root / "a.ipynb", tagged("a = 1"))
    export = {"notebooks": ["a.ipynb"], "output": "p"}
    code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=export)
    assert code_ == 201, body
    code_, body = await call(jp_fetch, "POST", "pipelines", "runs", body={"path": "p"})
    assert code_ == 403
    assert jp_serverapp.web_app.settings[LAUNCHES_SETTING].list() == []
    assert not (root / "p" / "outputs").exists()


async def test_sweep_of_an_exported_pipeline(jp_fetch: Any, root: Path) -> None:
    prep = tagged("seed = 1", "open('data.txt', 'w').write(str(seed))")
    prep["metadata"]["jupyter_mlops"] = {"outputs": ["data.txt"]}
    train = tagged("lr = 0.1", "print(open('data.txt').read(), lr)")
    train["metadata"]["jupyter_mlops"] = {"inputs": ["data.txt"]}
    write(root / "src" / "prep.ipynb", prep)
    write(root / "src" / "train.ipynb", train)
    request = {"notebooks": ["src/prep.ipynb", "src/train.ipynb"], "output": "pipes/demo"}
    code_, body = await call(jp_fetch, "POST", "pipelines", "export", body=request)
    assert code_ == 201, body

    sweep = {"path": "pipes/demo", "grid": {"train.lr": [0.2, 0.3]}, "workers": 2}
    code_, launch = await call(jp_fetch, "POST", "pipelines", "runs", body=sweep)
    assert code_ == 202, launch
    assert launch["name"] == "demo"
    done = await wait_for(jp_fetch, launch["id"])
    assert done["status"] == "FINISHED", done
    rows = sorted((e["trial"], e["step"], e["parameters"]) for e in done["executions"])
    assert rows == [
        (0, "prep", {"seed": 1}),
        (0, "train", {"lr": 0.2}),
        (1, "prep", {"seed": 1}),
        (1, "train", {"lr": 0.3}),
    ]
    outputs = [e["output"] for e in done["executions"]]
    assert len(set(outputs)) == 4
    assert all(o.startswith("pipes/demo/runs/") and (root / o).is_file() for o in outputs)
    _, listing = await call(jp_fetch, "GET", "pipelines")
    assert [p["path"] for p in listing["pipelines"]] == ["pipes/demo"]
