"""A conda prefix written by the test: ``conda-meta/*.json``, history, pip extras on top."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from env_fixtures import make_conda_prefix, write_dist_info

from jupyter_mlops.core.environment import (
    content_hash,
    parse_environment_yml,
    render_environment_yml,
    take_snapshot,
)
from jupyter_mlops.core.environment.conda import channel_name, requested_names, spec_name

CANARY_TOKEN = "canary-conda-tok-8c1f2e"

HISTORY = """\
==> 2026-01-02 10:00:00 <==
# cmd: /opt/conda/bin/conda create -p /envs/ml python=3.11 numpy
# conda version: 24.9.2
+conda-forge/linux-64::python-3.11.9-hb806964_0_cpython
+conda-forge/linux-64::numpy-1.26.4-py311h64a7726_0
# update specs: ['python=3.11', 'numpy']
==> 2026-01-03 11:00:00 <==
# cmd: /opt/conda/bin/conda install -c private-chan mypkg openssl
# conda version: 24.9.2
# update specs: ["private-chan::mypkg[version='>=0.1']", 'openssl']
==> 2026-01-04 12:00:00 <==
# cmd: /opt/conda/bin/conda remove openssl
# remove specs: ['openssl']
==> 2026-01-05 12:00:00 <==
# cmd: micromamba install internal-tool
# update specs: ["internal-tool >=2"]
"""

RECORDS = [
    {
        "name": "python",
        "version": "3.11.9",
        "build": "hb806964_0_cpython",
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
    },
    {
        "name": "numpy",
        "version": "1.26.4",
        "build": "py311h64a7726_0",
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
    },
    {
        "name": "libzlib",
        "version": "1.3.1",
        "build": "hb9d3cd8_2",
        "channel": None,
        "url": "https://conda.anaconda.org/conda-forge/linux-64/libzlib-1.3.1-hb9d3cd8_2.conda",
    },
    {
        "name": "openssl",
        "version": "3.0.15",
        "build": "h5eee18b_0",
        "channel": "https://repo.anaconda.com/pkgs/main/linux-64",
    },
    {
        "name": "mypkg",
        "version": "0.1.2",
        "build": "py_0",
        "channel": f"https://conda.anaconda.org/t/{CANARY_TOKEN}/private-chan/noarch",
    },
    {
        "name": "internal-tool",
        "version": "2.4",
        "build": "0",
        "channel": f"https://builder:{CANARY_TOKEN}@conda.example.com/internal/linux-64",
    },
    {"name": "certifi", "version": "2024.8.30", "build": "pyhd8ed1ab_0", "channel": "conda-forge"},
    {
        "name": "tzdata",
        "version": "2024b",
        "build": "h04d1e81_0",
        "channel": "pkgs/main",
        "requested_spec": "tzdata",
    },
]


@pytest.fixture
def conda_prefix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CONDA_TOKEN", CANARY_TOKEN)
    prefix = make_conda_prefix(tmp_path / "envs" / "ml", HISTORY, RECORDS)
    site = prefix / "lib" / "python3.11" / "site-packages"
    # numpy's dist-info as conda installs it: INSTALLER says conda
    write_dist_info(site, "numpy", "1.26.4", installer="conda")
    # certifi: no INSTALLER, but conda owns a package of that name
    write_dist_info(site, "certifi", "2024.8.30", installer=None)
    # pip installs on top
    write_dist_info(site, "requests", "2.32.3", requested=True)
    write_dist_info(site, "idna", "3.10")
    return prefix


def test_conda_packages_and_channels_come_from_conda_meta(conda_prefix: Path) -> None:
    snap = take_snapshot(conda_prefix)
    assert snap.is_conda
    assert snap.name == "ml"
    assert snap.python_version == "3.11.9"
    assert snap.python_build == "hb806964_0_cpython"
    by_name = {p.name: p for p in snap.conda_packages}
    assert "python" not in by_name
    assert {n: (p.version, p.build, p.channel) for n, p in by_name.items()} == {
        "numpy": ("1.26.4", "py311h64a7726_0", "conda-forge"),
        "libzlib": ("1.3.1", "hb9d3cd8_2", "conda-forge"),
        "openssl": ("3.0.15", "h5eee18b_0", "defaults"),
        "mypkg": ("0.1.2", "py_0", "private-chan"),
        "internal-tool": ("2.4", "0", "https://conda.example.com/internal"),
        "certifi": ("2024.8.30", "pyhd8ed1ab_0", "conda-forge"),
        "tzdata": ("2024b", "h04d1e81_0", "defaults"),
    }
    assert snap.channels == (
        "conda-forge",
        "https://conda.example.com/internal",
        "private-chan",
        "defaults",
    )
    assert {n for n, p in by_name.items() if p.requested} == {
        "numpy",
        "mypkg",
        "internal-tool",
        "tzdata",
    }


def test_pip_section_leaves_out_what_conda_installed(conda_prefix: Path) -> None:
    snap = take_snapshot(conda_prefix)
    assert [(p.name, p.version, p.requested) for p in snap.pip_packages] == [
        ("idna", "3.10", False),
        ("requests", "2.32.3", True),
    ]
    assert {p.installer for p in snap.pip_packages} == {"pip"}


def test_environment_yml_of_a_conda_prefix(conda_prefix: Path) -> None:
    text = render_environment_yml(take_snapshot(conda_prefix))
    assert CANARY_TOKEN not in text
    assert "# environment: conda" in text
    document = yaml.safe_load(text)
    assert document["name"] == "ml"
    assert document["channels"][0] == "conda-forge"
    assert document["channels"][-1] == "defaults"
    assert document["dependencies"] == [
        "python=3.11.9=hb806964_0_cpython",
        "certifi=2024.8.30=pyhd8ed1ab_0",
        "internal-tool=2.4=0",
        "libzlib=1.3.1=hb9d3cd8_2",
        "mypkg=0.1.2=py_0",
        "numpy=1.26.4=py311h64a7726_0",
        "openssl=3.0.15=h5eee18b_0",
        "tzdata=2024b=h04d1e81_0",
        "pip",
        {"pip": ["idna==3.10", "requests==2.32.3"]},
    ]


def test_requested_only_is_the_portable_form(conda_prefix: Path) -> None:
    snap = take_snapshot(conda_prefix, requested_only=True)
    text = render_environment_yml(snap)
    document = yaml.safe_load(text)
    assert document["dependencies"] == [
        "python=3.11.9",
        "internal-tool=2.4",
        "mypkg=0.1.2",
        "numpy=1.26.4",
        "tzdata=2024b",
        "pip",
        {"pip": ["requests==2.32.3"]},
    ]
    assert document["channels"] == [
        "conda-forge",
        "https://conda.example.com/internal",
        "private-chan",
        "defaults",
    ]
    parsed = parse_environment_yml(text)
    assert parsed.requested_only
    assert parsed.is_conda
    assert content_hash(parsed) == content_hash(snap)


def test_full_conda_file_parses_back_to_the_same_hash(conda_prefix: Path) -> None:
    snap = take_snapshot(conda_prefix)
    parsed = parse_environment_yml(render_environment_yml(snap))
    assert parsed.python_build == snap.python_build
    assert [(p.name, p.version, p.build) for p in parsed.conda_packages] == [
        (p.name, p.version, p.build) for p in snap.conda_packages
    ]
    assert content_hash(parsed) == content_hash(snap)


def test_conda_managed_pip_package_is_kept_when_pip_replaced_it(conda_prefix: Path) -> None:
    site = conda_prefix / "lib" / "python3.11" / "site-packages"
    for dist in site.glob("certifi-*.dist-info"):
        for child in dist.iterdir():
            child.unlink()
        dist.rmdir()
    write_dist_info(site, "certifi", "2025.1.1", requested=True)  # pip install -U certifi
    snap = take_snapshot(conda_prefix)
    assert ("certifi", "2025.1.1") in {(p.name, p.version) for p in snap.pip_packages}


def test_unreadable_records_are_skipped(conda_prefix: Path) -> None:
    (conda_prefix / "conda-meta" / "garbage-1-0.json").write_text("{not json")
    (conda_prefix / "conda-meta" / "listy-1-0.json").write_text("[]")
    (conda_prefix / "conda-meta" / "bare-2.0-py_1.json").write_text("{}")
    names = {p.name: p for p in take_snapshot(conda_prefix).conda_packages}
    assert "garbage" not in names
    assert "listy" not in names
    assert (names["bare"].version, names["bare"].build) == ("2.0", "py_1")


@pytest.mark.parametrize(
    ("channel", "url", "expected"),
    [
        ("https://conda.anaconda.org/conda-forge/linux-64", "", "conda-forge"),
        ("https://conda.anaconda.org/conda-forge", "", "conda-forge"),
        ("conda-forge", "", "conda-forge"),
        ("conda-forge/noarch", "", "conda-forge"),
        ("pkgs/main", "", "defaults"),
        ("https://repo.anaconda.com/pkgs/r/noarch", "", "defaults"),
        ("https://conda.anaconda.org/t/tk-123456/private/osx-arm64", "", "private"),
        ("https://u:pw123456@conda.example.com/a/b/win-64/", "", "https://conda.example.com/a/b"),
        ("", "https://conda.anaconda.org/bioconda/noarch/x-1-0.tar.bz2", "bioconda"),
        ("file:///opt/local-channel/linux-64", "", "file:///opt/local-channel"),
        ("", "", ""),
    ],
)
def test_channel_names(channel: str, url: str, expected: str) -> None:
    assert channel_name(channel, url) == expected


def test_history_specs() -> None:
    assert requested_names(HISTORY) == ["python", "numpy", "mypkg", "internal-tool"]
    assert requested_names("# update specs: numpy>=1, scipy\n# install specs: ['x']\n") == [
        "numpy",
        "scipy",
        "x",
    ]
    assert requested_names("# update specs: [broken\n") == []
    assert spec_name("conda-forge::NumPy[version='>=1']") == "numpy"
    assert spec_name(">=1") is None
