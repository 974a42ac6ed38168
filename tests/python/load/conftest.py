"""Load-test fixtures: ``postgres``, a private PostgreSQL cluster (see :mod:`loadkit`).

Without Debian's ``postgresql`` binaries (or the ``psycopg`` driver) the tests
that need it are skipped, except in CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from loadkit import Postgres, postgres_cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL cluster for the session (``create_database(name)`` -> URL)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("psycopg is missing: install the test extra (psycopg[binary])")
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")
    with postgres_cluster() as cluster:
        if cluster is None:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL is not installed; .ci/run installs Debian's postgresql")
            pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
        yield cluster
