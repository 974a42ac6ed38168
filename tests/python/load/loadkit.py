"""Load-test helpers: the writer driver, a private PostgreSQL cluster, free ports.

* ``run_writers(folder, uri, writers, ...)``: runs :mod:`writers` (one forked
  process per writer, all released at once by a barrier file) and returns each
  writer's exit code, stderr and result.
* ``postgres``: a throwaway PostgreSQL cluster (Debian's ``postgresql``
  package, ``initdb`` + ``pg_ctl`` in a temporary folder, as the ``postgres``
  user when the tests run as root) and a ``create_database(name)`` that
  returns a SQLAlchemy URL (``postgresql+psycopg://``). Without the binaries
  the tests that need it are skipped, except in CI (``$CI`` set), where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live_server import free_port

HERE = Path(__file__).resolve().parent
WRITERS = HERE / "writers.py"


@dataclass
class WriterOutcome:
    name: str
    exit_code: int | None
    stderr: str
    result: dict[str, Any] | None


def run_writers(
    folder: Path,
    uri: str,
    writers: list[dict[str, Any]],
    *,
    experiment: str = "load",
    key: str = "loss",
    points: int = 60,
    notebook: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 400,
) -> dict[str, WriterOutcome]:
    """Run every writer at once (see :mod:`writers`); their outcomes by name."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "out"
    spec = {
        "uri": uri,
        "spool_dir": str(folder / "spool"),
        "out": str(out),
        "barrier": str(folder / "barrier"),
        "experiment": experiment,
        "key": key,
        "points": points,
        "notebook": str(notebook) if notebook else None,
        "writers": writers,
    }
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(spec))
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env["JUPYTER_MLOPS_SPOOL_DIR"] = str(folder / "spool")
    child_env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.run(
        [sys.executable, str(WRITERS), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env,
        cwd=folder,
    )
    assert proc.returncode == 0, f"driver failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    codes = json.loads(proc.stdout.strip().splitlines()[-1])["exit_codes"]
    outcomes = {}
    for writer in writers:
        name = writer["name"]
        err = out / f"{name}.err"
        res = out / f"{name}.json"
        outcomes[name] = WriterOutcome(
            name=name,
            exit_code=codes.get(name),
            stderr=err.read_text(errors="replace") if err.exists() else "",
            result=json.loads(res.read_text()) if res.exists() else None,
        )
    return outcomes


# -- PostgreSQL --------------------------------------------------------------------------


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    port: int
    bin: Path
    prefix: list[str]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        subprocess.run(
            [
                *self.prefix,
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url(name)


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Postgres | None]:
    """A private PostgreSQL cluster on a free port, removed afterwards (None: not installed)."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        yield None
        return
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
    if os.geteuid() == 0:  # postgres refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(base, user.pw_uid, user.pw_gid)
        # /usr/sbin is not on every root PATH (a minimal CI environment)
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), "runuser"
        )
        prefix = [runuser, "-u", "postgres", "--"]
    data, sock = base / "data", base
    port = free_port()
    cluster = Postgres(port=port, bin=pg_bin, prefix=prefix)

    def pg(*args: str, timeout: float = 120) -> None:
        proc = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, cwd=base
        )
        assert proc.returncode == 0, f"{args[0]} failed: {proc.stdout}\n{proc.stderr}"

    try:
        pg(str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        pg(
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "server.log"),
            "-w",
            "-o",
            f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            "start",
        )
        yield cluster
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(base, ignore_errors=True)
