"""Path confinement: ``..``, absolute paths, shared prefixes, NUL bytes and symlinks out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jupyter_mlops.core.pipeline import confine
from jupyter_mlops.core.pipeline.paths import declared_path
from jupyter_mlops.exceptions import PathError


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "nb.ipynb").write_text("{}")
    (tmp_path / "root-x").mkdir()
    (tmp_path / "root-x" / "nb.ipynb").write_text("{}")
    (tmp_path / "secret.ipynb").write_text("{}")
    return root


def test_inside_paths_resolve(root: Path) -> None:
    real = root.resolve()
    assert confine("sub/nb.ipynb", root) == real / "sub" / "nb.ipynb"
    assert confine(root / "sub" / "nb.ipynb", root) == real / "sub" / "nb.ipynb"
    assert confine("sub/../sub/nb.ipynb", root) == real / "sub" / "nb.ipynb"
    assert confine("new/file.ipynb", root) == real / "new" / "file.ipynb"
    assert confine(".", root) == real
    (root / "inner").symlink_to(root / "sub")
    assert confine("inner/nb.ipynb", root) == real / "sub" / "nb.ipynb"


@pytest.mark.parametrize(
    "attack",
    [
        "../secret.ipynb",
        "sub/../../secret.ipynb",
        "../root-x/nb.ipynb",  # sibling sharing the prefix
        "/etc/passwd",
        "sub/nb\x00.ipynb",
    ],
)
def test_attacks_are_refused(root: Path, attack: str) -> None:
    with pytest.raises(PathError):
        confine(attack, root)


def test_absolute_sibling_with_shared_prefix(root: Path) -> None:
    with pytest.raises(PathError, match="outside the root"):
        confine(str(root) + "-x/nb.ipynb", root)


def test_symlinks_pointing_out_are_refused(root: Path, tmp_path: Path) -> None:
    (root / "link.ipynb").symlink_to(tmp_path / "secret.ipynb")
    (root / "outdir").symlink_to(tmp_path / "root-x", target_is_directory=True)
    (root / "loop").symlink_to(root / "loop")
    for attack in ("link.ipynb", "outdir/nb.ipynb", "outdir/new.ipynb"):
        with pytest.raises(PathError, match="outside the root"):
            confine(attack, root)
    with pytest.raises(PathError):
        confine("loop/x", root)


def test_root_itself_through_a_symlink(root: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    assert confine("sub/nb.ipynb", alias) == root.resolve() / "sub" / "nb.ipynb"
    with pytest.raises(PathError):
        confine(os.fspath(tmp_path / "missing"), tmp_path / "no-such-root")


@pytest.mark.parametrize(
    "bad", ["", "/abs/x.csv", "../x.csv", "a/../../x", "~/x", "a${x}.csv", "a\nb", "x\x00", 3, "."]
)
def test_declared_paths_are_checked(bad: object) -> None:
    with pytest.raises(PathError):
        declared_path(bad, "inputs entry")


def test_declared_paths_are_normalised() -> None:
    assert declared_path("data/./raw.csv", "x") == "data/raw.csv"
    assert declared_path("a $(touch pwned).csv", "x") == "a $(touch pwned).csv"
