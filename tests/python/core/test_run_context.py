"""Run context: git on real repositories, notebooks on real ``.ipynb`` files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mlops.core.tracking import context

SECRET_URL = "https://user:secret@example.com/r.git"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "my-project"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.email", "t@example.com")
    _git(path, "config", "user.name", "T")
    _git(path, "remote", "add", "origin", SECRET_URL)
    (path / "train.py").write_text("print(1)\n")
    _git(path, "add", "train.py")
    _git(path, "commit", "-q", "-m", "first")
    return path


def test_git_info_strips_credentials_from_remote(repo: Path) -> None:
    info = context.git_info(repo)
    assert info["remote_url"] == "https://example.com/r.git"
    assert info["branch"] == "main"
    assert isinstance(info["commit"], str)
    assert len(info["commit"]) == 40
    assert info["dirty"] is False
    assert "secret" not in json.dumps(info)

    (repo / "train.py").write_text("print(2)\n")
    assert context.git_info(repo / "train.py")["dirty"] is True


def test_run_context_tags_carry_git_but_no_secret(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(repo))
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "nb" / "train.ipynb"))
    monkeypatch.setenv("MY_TOKEN", "tok-123456")
    tags = context.run_context_tags(project="proj", source_dir=repo, kernel="abc-123")
    assert tags["mlflow.source.name"] == "nb/train.ipynb"
    assert tags["mlops.notebook"] == "nb/train.ipynb"
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/r.git"
    assert tags["mlflow.source.git.branch"] == "main"
    assert len(tags["mlflow.source.git.commit"]) == 40
    assert tags["mlops.git.dirty"] == "false"
    assert tags["mlops.project"] == "proj"
    assert tags["mlops.kernel_id"] == "abc-123"
    assert tags["mlops.pid"].isdigit()
    assert tags["mlflow.user"]
    assert tags["mlops.host"]
    text = json.dumps(tags)
    assert "secret" not in text
    assert "tok-123456" not in text


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [("/opt/jobs/train.py", "train.py"), ("/venv/lib/ipykernel_launcher.py", None), ("-c", None)],
)
def test_source_name_outside_a_notebook_is_the_script_never_the_kernel_launcher(
    argv0: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """papermill kernels know no notebook: the panel must not show ipykernel_launcher.py."""
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("JUPYTER_MLOPS_NOTEBOOK", raising=False)
    monkeypatch.setattr(sys, "argv", [argv0])
    tags = context.run_context_tags(project="p", source_dir=".")
    assert tags.get("mlflow.source.name") == expected
    assert "mlops.notebook" not in tags
    assert tags["mlflow.source.type"] == "LOCAL"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:tok@host/x.git", "https://host/x.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        # one stripper for every URL (core/urls.py): secret parameters go, others stay
        ("http://u:p@host:8080/x.git?access_token=abc#frag", "http://host:8080/x.git#frag"),
        ("https://host/x.git?token=abc&ref=main", "https://host/x.git?ref=main"),
        ("git@host:x.git", "git@host:x.git"),
        ("ssh://git@host/x.git", "ssh://git@host/x.git"),
        ("ssh://git:pw@host/x.git", "ssh://host/x.git"),
        ("/srv/git/x.git", "/srv/git/x.git"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert context.strip_url_credentials(url) == expected


def test_not_a_repo_gives_empty_info_and_folder_project(tmp_path: Path) -> None:
    plain = tmp_path / "plain-folder"
    plain.mkdir()
    assert context.git_info(plain) == {}
    assert context.git_info(tmp_path / "missing") == {}
    assert context.default_project(plain) == "plain-folder"


def test_default_project_is_the_repo_top_folder(repo: Path) -> None:
    sub = repo / "notebooks" / "deep"
    sub.mkdir(parents=True)
    assert context.default_project(sub) == "my-project"


def test_notebook_path_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_NOTEBOOK", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert context.notebook_path() is None

    monkeypatch.setenv("JUPYTER_MLOPS_ROOT_DIR", str(tmp_path))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "sub" / "a.ipynb"))
    assert context.notebook_path() == "sub/a.ipynb"
    assert context.notebook_file() == tmp_path / "sub" / "a.ipynb"

    monkeypatch.setenv("JPY_SESSION_NAME", "sub/b.ipynb")  # API path (no session name sent)
    assert context.notebook_path() == "sub/b.ipynb"
    assert context.notebook_file() == tmp_path / "sub" / "b.ipynb"

    monkeypatch.setenv("JPY_SESSION_NAME", "/elsewhere/c.ipynb")  # outside the root
    assert context.notebook_path() == "/elsewhere/c.ipynb"

    monkeypatch.setenv("JUPYTER_MLOPS_NOTEBOOK", str(tmp_path / "pipeline.ipynb"))
    assert context.notebook_path() == "pipeline.ipynb"


def _cell(source: str, tags: list[str] | None = None, cell_type: str = "code") -> dict[str, object]:
    return {
        "cell_type": cell_type,
        "metadata": {"tags": tags} if tags is not None else {},
        "source": source.splitlines(keepends=True),
        **({"outputs": [], "execution_count": None} if cell_type == "code" else {}),
    }


def test_parameter_names_from_a_real_notebook(tmp_path: Path) -> None:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            _cell("import numpy as np\nnot_a_param = 1\n"),
            _cell("# parameters\n%matplotlib inline\nalpha = 0.5\n", ["parameters"]),
            _cell(
                "epochs: int = 10\nlr, (beta, gamma) = 0.1, (1, 2)\na = b = 'x'\n", ["parameters"]
            ),
            _cell("alpha = 1\n", ["parameters"]),
            _cell("alpha = 3", ["parameters"], cell_type="markdown"),
            _cell("def f():\n    hidden = 1\nfor i in range(3):\n    pass\n", ["parameters"]),
        ],
    }
    path = tmp_path / "train.ipynb"
    path.write_text(json.dumps(nb))
    assert context.parameter_names_from_notebook(path) == [
        "alpha",
        "epochs",
        "lr",
        "beta",
        "gamma",
        "a",
        "b",
    ]
    assert context.parameter_names_from_notebook(tmp_path / "missing.ipynb") == []
    (tmp_path / "broken.ipynb").write_text("{not json")
    assert context.parameter_names_from_notebook(tmp_path / "broken.ipynb") == []


def test_parameter_names_from_papermill_history() -> None:
    history = [
        "",
        "alpha = 0.5\nepochs = 10\n",
        "# Parameters\nalpha = 0.9\n",
        "print(alpha)",
        "# Parameters\nalpha = 0.1\nepochs = 3\n",
        "x = 1",
    ]
    assert context.parameter_names_from_history(history) == ["alpha", "epochs"]
    assert context.parameter_names_from_history(["x = 1"]) == []


def test_papermill_history_keeps_the_parameters_cell_names_not_injected() -> None:
    """papermill injects right after the tagged cell: its other names are parameters too."""
    history = [
        "",
        "n_estimators: int = 150\nlearning_rate = 0.1\nmax_depth = 3\n",
        "# Parameters\nn_estimators = 25\n",
        "%load_ext jupyter_mlops",
    ]
    assert context.parameter_names_from_history(history) == [
        "n_estimators",
        "learning_rate",
        "max_depth",
    ]
    # no parameters cell: papermill injects first, after IPython's empty In[0]
    assert context.parameter_names_from_history(["", "# Parameters\nseed = 1\n"]) == ["seed"]


def test_kernel_id_from_connection_file_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTER_MLOPS_KERNEL_ID", raising=False)
    argv = ["ipykernel_launcher", "-f", "/run/jupyter/kernel-6f1c2d3e-aaaa-bbbb.json"]
    assert context.kernel_id(argv) == "6f1c2d3e-aaaa-bbbb"
    assert context.kernel_id(["python", "script.py"]) is None
    monkeypatch.setenv("JUPYTER_MLOPS_KERNEL_ID", "from-env")
    assert context.kernel_id(argv) == "from-env"
