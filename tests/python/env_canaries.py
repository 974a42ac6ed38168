"""Secret canaries for the environment-snapshot integration tests (CLI, magic, REST, runs).

:func:`plant_canaries` sets secret-named environment variables to unique
``canary-...`` values and installs, in a site folder of the test's own, two
distributions whose install records carry canaries the way real ones can: a
VCS install from ``https://user:<canary>@...`` and an editable install of a
git checkout whose ``origin`` is ``https://oauth2:<canary>@...``. Every output
is then searched with :func:`leaks`.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

__all__ = ["SECRET_NAMES", "Canaries", "leaks", "plant_canaries", "write_dist"]


class Canaries:
    """The planted values, and the site folder holding the planted distributions."""

    def __init__(self, values: dict[str, str], site: Path) -> None:
        self.values = values
        self.site = site

    def strings(self) -> list[str]:
        """Every secret string that must never appear in an output."""
        return sorted(set(self.values.values()))


def write_dist(site: Path, name: str, version: str, **direct_url: object) -> Path:
    """A ``*.dist-info`` folder as pip leaves it, with ``direct_url.json`` when given."""
    dist = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    (dist / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (dist / "REQUESTED").write_text("", encoding="utf-8")
    if direct_url:
        (dist / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return dist


def _git_checkout(path: Path, remote: str) -> None:
    path.mkdir(parents=True)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("remote", "add", "origin", remote)
    (path / "pyproject.toml").write_text("[project]\nname = 'canary-edit-pkg'\n")
    git("add", "pyproject.toml")
    git("-c", "user.email=t@example.com", "-c", "user.name=T", "commit", "-q", "-m", "first")


SECRET_NAMES = ("MY_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "JUPYTER_TOKEN", "GIT_PASSWORD")
"""The secret-named variables planted by default (``GIT_PASSWORD`` is always planted)."""


def plant_canaries(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    site: Path | None = None,
    names: tuple[str, ...] = SECRET_NAMES,
) -> Canaries:
    """Canaries in the environment and in two distributions installed in ``site``.

    ``site`` defaults to a new folder that is put on ``sys.path``, so snapshots
    of this interpreter see the planted distributions. ``names`` are the
    environment variables set to canaries (``GIT_PASSWORD``, the editable
    checkout's remote password, is added when missing).
    """
    values = {
        name: f"canary-{uuid.uuid4().hex}" for name in dict.fromkeys((*names, "GIT_PASSWORD"))
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    values["url only"] = f"canary-{uuid.uuid4().hex}"  # in no variable: only stripping hides it
    if site is None:
        site = tmp_path / "canary-site"
        site.mkdir()
        monkeypatch.syspath_prepend(str(site))
    write_dist(
        site,
        "canary-vcs-pkg",
        "1.0",
        url=f"https://user:{values['url only']}@git.example.com/team/canary-vcs-pkg.git",
        vcs_info={"vcs": "git", "commit_id": "a" * 40},
    )
    project = tmp_path / "canary-project"
    _git_checkout(
        project, f"https://oauth2:{values['GIT_PASSWORD']}@gitlab.example.com/team/proj.git"
    )
    write_dist(site, "canary-edit-pkg", "0.1", url=project.as_uri(), dir_info={"editable": True})
    return Canaries(values, site)


def leaks(canaries: Canaries, **outputs: str) -> list[str]:
    """``label: canary`` for every canary found in one of ``outputs`` (empty when clean)."""
    return [
        f"{label}: {secret}"
        for label, text in outputs.items()
        for secret in canaries.strings()
        if secret in text
    ]
