"""Path confinement of every endpoint that takes a path, against a real server.

The test server's root sits beside real files it must never reach: a notebook
in the root's parent, a sibling folder sharing the root's name as a prefix, an
outside folder reached by absolute path and through symlinks inside the root,
and a hidden folder inside it. Each holds a canary string; the outside files'
notebooks would write a marker file if they ever ran.

For each path-taking endpoint (``GET pipelines/parameters?path=``, ``POST
pipelines/export`` notebooks and output, ``POST pipelines/runs`` path, the
metric key of ``GET runs/{id}/metrics/{key}``) every payload is refused with a
4xx, no response carries a canary, and no file outside the root is written
(file names, sizes and mtimes of the outside folders are compared). ``GET
pipelines`` lists nothing behind a symlink or in a hidden folder.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from promises import record

pytestmark = pytest.mark.slow

API = "jupyter-mlops/api"
LEAF = "x.ipynb"


def notebook(params: str, *body: str) -> dict[str, Any]:
    def cell(source: str, tags: list[str]) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"tags": tags},
            "outputs": [],
            "source": [source],
        }

    return {
        "cells": [cell(params, ["parameters"]), *(cell(b, []) for b in body)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write(path: Path, content: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


class World:
    """The root, the folders around it, and the canary that must never come back."""

    def __init__(self, tmp_path: Path, root: Path) -> None:
        self.root = root
        # short, so a YAML error snippet would show it whole; checked by prefix too
        self.canary = f"CNRY{uuid.uuid4().hex[:12]}"
        self.parent = tmp_path
        self.outside = tmp_path / "outside"
        self.sibling = tmp_path / f"{root.name}-sibling"
        marker = self.outside / "RAN"
        evil = notebook(
            f"secret = {self.canary!r}\n",
            f"open({str(marker)!r}, 'w').write({self.canary!r})\n",
        )
        # real notebooks outside the root, each with the canary (and code that would leave a mark)
        for folder in (self.parent, self.outside, self.sibling):
            write(folder / LEAF, evil)
        write(self.outside / "pipeline.yaml", f"name: {self.canary}\nsteps: [{{name: s}}]\n")
        write(self.outside / "bad.yaml", f"name: x\nsteps: [{self.canary}\n  - {{\n")
        write(self.outside / "victim.yaml", f"{self.canary}: keep\n")
        # inside the root: a hidden folder, symlinks pointing out, a good notebook
        write(root / ".hidden" / LEAF, evil)
        write(root / ".hidden" / "pipeline.yaml", f"name: {self.canary}\nsteps: [{{name: s}}]\n")
        (root / "link").symlink_to(self.outside, target_is_directory=True)
        (root / "link.ipynb").symlink_to(self.outside / LEAF)
        write(root / "nb" / "ok.ipynb", notebook("lr = 0.1\n"))
        # a pipeline folder whose manifest is a symlink to an outside file
        write(root / "evil-manifest" / "notebooks" / "s.ipynb", notebook("lr = 0.1\n"))
        (root / "evil-manifest" / "pipeline.yaml").symlink_to(self.outside / "bad.yaml")
        # a real pipeline folder whose params.yaml is a symlink to an outside file
        write(root / "evil-params" / "notebooks" / "s.ipynb", notebook("lr = 0.1\n"))
        write(
            root / "evil-params" / "pipeline.yaml",
            "name: p\nsteps:\n- {name: s, notebook: notebooks/s.ipynb}\n",
        )
        (root / "evil-params" / "params.yaml").symlink_to(self.outside / "bad.yaml")
        # existing export folders with symlinks inside that lead out
        (root / "out-linked-folder").mkdir()
        (root / "out-linked-folder" / "notebooks").symlink_to(self.outside)
        (root / "out-linked-file").mkdir()
        (root / "out-linked-file" / "pipeline.yaml").symlink_to(self.outside / "victim.yaml")
        # a notebook and a pipeline whose outputs folder is a symlink that leads out
        write(root / "nb-linked-out" / "ok.ipynb", notebook("lr = 0.1\n"))
        (root / "nb-linked-out" / "outputs").symlink_to(self.outside)
        write(root / "pipe-linked-out" / "notebooks" / "s.ipynb", notebook("lr = 0.1\n"))
        write(
            root / "pipe-linked-out" / "pipeline.yaml",
            "name: p\nsteps:\n- {name: s, notebook: notebooks/s.ipynb}\n",
        )
        (root / "pipe-linked-out" / "outputs").symlink_to(self.outside)
        self.watched = (self.outside, self.sibling)
        self.canaries = [  # real files only (os.walk follows no link)
            Path(folder, name)
            for folder, _, names in os.walk(tmp_path)
            for name in names
            if not Path(folder, name).is_symlink()
            and self.canary.encode() in Path(folder, name).read_bytes()
        ]
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Every file of the outside folders and the root's parent level: (mtime, size)."""
        found: dict[str, tuple[int, int]] = {}
        for folder in self.watched:
            for path in folder.rglob("*"):
                info = path.lstat()
                found[str(path)] = (info.st_mtime_ns, info.st_size)
        for entry in os.scandir(self.parent):
            if entry.name.startswith("mlops-escape"):
                found[entry.path] = (0, 0)
        info = (self.parent / LEAF).stat()
        found[str(self.parent / LEAF)] = (info.st_mtime_ns, info.st_size)
        return found

    def notebook_payloads(self) -> list[str]:
        """Paths that name a notebook outside the root (or hidden, or through a link), decoded."""
        return [
            f"../{LEAF}",
            f"../{self.sibling.name}/{LEAF}",
            "/etc/passwd",
            str(self.outside / LEAF),
            str(self.sibling / LEAF),
            f"{self.root}/../{LEAF}",
            f"%2e%2e/{LEAF}",
            f"%252e%252e/{LEAF}",
            f"..%2f{LEAF}",
            "a\x00.ipynb",
            f"nb/ok.ipynb\x00/../../{LEAF}",
            f".hidden/{LEAF}",
            f"link/{LEAF}",
            "link.ipynb",
            f"nb/../../{LEAF}",
            f"..\\{LEAF}",
            f"~/{LEAF}",
            f"file://{self.outside / LEAF}",
        ]

    def output_payloads(self) -> list[str]:
        """Export output folders outside the root (or hidden, or through a link)."""
        return [
            "../mlops-escape",
            f"../{self.sibling.name}/mlops-escape",
            str(self.outside / "mlops-escape"),
            f"{self.root}/../mlops-escape",
            "nb/../../mlops-escape",
            "a\x00/mlops-escape",
            ".hidden/mlops-escape",
            "link/mlops-escape",
            "link",
            "out-linked-folder",
            "out-linked-file",
            "..\\mlops-escape",
            "~/mlops-escape",
        ]


@pytest.fixture
def world(tmp_path: Path, jp_root_dir: Path) -> World:
    return World(tmp_path, Path(jp_root_dir).resolve())


@pytest.fixture
def jp_server_config(jp_server_config: Any, token: str, authorizer: Any) -> Any:
    """The shared server config, with a long token and the recording authorizer."""
    authorizer.mode = "all"
    authorizer.seen = []
    jp_server_config["ServerApp"]["authorizer_class"] = authorizer
    jp_server_config.IdentityProvider.token = token
    return jp_server_config


class Tally:
    """Requests tried per endpoint, and the ones that were refused with a 4xx."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.tried: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.failures: list[str] = []

    def check(self, endpoint: str, payload: str, response: Any) -> None:
        self.tried[endpoint] = self.tried.get(endpoint, 0) + 1
        text = response.body.decode("utf-8", "replace")
        problems = []
        if not 400 <= response.code < 500:
            problems.append(f"status {response.code}")
        if self.world.canary[:10] in text:
            problems.append("canary in the response")
        if "Traceback" in text:
            problems.append("traceback in the response")
        if problems:
            self.failures.append(f"{endpoint} {payload!r}: {', '.join(problems)}: {text[:300]}")
        else:
            self.refused[endpoint] = self.refused.get(endpoint, 0) + 1


async def test_every_path_endpoint_refuses_every_escape(
    world: World, fetch: Any, server_log: Any
) -> None:
    tally = Tally(world)
    notebooks, outputs = world.notebook_payloads(), world.output_payloads()

    # GET pipelines/parameters?path= : each payload URL-encoded, plus encoded dots sent raw
    endpoint = "GET pipelines/parameters?path="
    for payload in notebooks:
        url = f"{API}/pipelines/parameters?path={quote(payload, safe='/')}"
        tally.check(endpoint, payload, await fetch(url, auth=True))
    for raw in (f"%2e%2e/{LEAF}", f"%252e%252e/{LEAF}", f"%2E%2E%2F{LEAF}", f"..%2F{LEAF}"):
        url = f"{API}/pipelines/parameters?path={raw}"
        tally.check(endpoint, raw, await fetch(url, auth=True))

    # POST pipelines/export: the notebooks, then the output folder
    export = f"{API}/pipelines/export"
    for payload in notebooks:
        body = json.dumps({"notebooks": [payload], "output": "exports/ok"})
        tally.check("POST pipelines/export notebooks", payload, await post(fetch, export, body))
    for payload in outputs:
        body = json.dumps({"notebooks": ["nb/ok.ipynb"], "output": payload})
        tally.check("POST pipelines/export output", payload, await post(fetch, export, body))

    # encoded dots in an output are a literal folder name inside the root, never decoded
    literal = 0
    for payload in ("%2e%2e/mlops-escape", "%252e%252e/mlops-escape"):
        body = json.dumps({"notebooks": ["nb/ok.ipynb"], "output": payload})
        response = await post(fetch, export, body)
        literal += 1
        assert response.code == 201, response.body
        assert json.loads(response.body)["path"] == payload
        assert (world.root / payload / "pipeline.yaml").is_file()

    # POST pipelines/runs: a notebook or a pipeline folder (manifest or params.yaml linked out)
    runs = f"{API}/pipelines/runs"
    linked = ["link", "evil-manifest", "evil-params", "nb-linked-out/ok.ipynb", "pipe-linked-out"]
    for payload in [*notebooks, *linked]:
        body = json.dumps({"path": payload})
        tally.check("POST pipelines/runs path", payload, await post(fetch, runs, body))

    # GET runs/{id}/metrics/{key}: a key that looks like a path
    run_id = "0123456789abcdef0123456789abcdef"
    for payload in (f"../../{LEAF}", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd"):
        url = f"{API}/runs/{run_id}/metrics/{payload}"
        tally.check("GET runs/{id}/metrics/{key}", payload, await fetch(url, auth=True))

    listing = await fetch(f"{API}/pipelines/runs", auth=True)
    launched = json.loads(listing.body)["runs"]
    after = world.snapshot()
    written = sorted(set(after.items()) ^ set(world.before.items()))
    tried, refused = sum(tally.tried.values()), sum(tally.refused.values())
    record(
        "paths",
        "every endpoint that takes a path refuses escapes; nothing outside the root is touched",
        ok=not tally.failures and not written and not launched,
        endpoints=len(tally.tried),
        payloads_tried=tried,
        refused=refused,
        per_endpoint={k: f"{tally.refused.get(k, 0)}/{v}" for k, v in tally.tried.items()},
        canaries_planted=len(world.canaries),
        outside_files_changed=len(written),
        encoded_outputs_kept_literal=literal,
    )
    assert tally.failures == [], "\n".join(tally.failures)
    assert written == []
    assert launched == []
    assert world.canary[:10] not in server_log.text()
    assert not (world.outside / "RAN").exists()
    assert not (world.outside / "mlops-escape").exists()
    assert not (world.outside / "ok.ipynb").exists()
    assert not (Path.home() / "mlops-escape").exists()
    assert (world.outside / "victim.yaml").read_text(encoding="utf-8") == f"{world.canary}: keep\n"


async def post(fetch: Any, url: str, body: str) -> Any:
    return await fetch(url, method="POST", body=body, auth=True)


async def test_listing_skips_links_out_and_hidden_folders(world: World, fetch: Any) -> None:
    """``GET pipelines`` walks the root only: nothing behind a symlink, nothing hidden."""
    write(world.root / "real" / "pipeline.yaml", "name: real\nsteps: [{name: s}]\n")
    response = await fetch(f"{API}/pipelines", auth=True)
    assert response.code == 200
    body = json.loads(response.body)
    # evil-params and pipe-linked-out have real manifests (a file or folder in them is a link)
    assert [p["path"] for p in body["pipelines"]] == ["evil-params", "pipe-linked-out", "real"]
    assert world.canary[:10] not in response.body.decode()
    record(
        "paths",
        "the pipeline listing never follows links out or into hidden folders",
        listed=len(body["pipelines"]),
        canaries_planted=len(world.canaries),
    )


async def test_export_inside_the_root_still_works(world: World, fetch: Any) -> None:
    """The refusals are about escapes, not exports: the good notebook exports to a new folder."""
    body = json.dumps({"notebooks": ["nb/ok.ipynb"], "output": "exports/ok"})
    response = await post(fetch, f"{API}/pipelines/export", body)
    assert response.code == 201, response.body
    assert (world.root / "exports" / "ok" / "pipeline.yaml").is_file()
    assert world.snapshot() == world.before
