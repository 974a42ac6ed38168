"""The pipeline cache: when an execution need not run again, and what its rerun reuses.

::

    env = environment_hash()                            # once per pipeline run
    key = execution_key(execution, env, upstream_keys)  # when its dependencies have finished
    sources = CacheIndex.of(runs)                       # FINISHED runs that carry a key
    source = sources.reusable(key, execution)           # None: run it

An execution's **key** is a sha256 over the notebook's bytes, its typed
parameters (canonical JSON), its declared inputs (relative path and content;
folders walked, a missing path noted), its declared outputs and the output notebook's
name (the step's contract), the **environment hash** (Python
version, the installed distributions ``name-version`` as their ``*.dist-info``
folders name them), the kernel name and the keys of the executions it depends
on, in order (a step that changed re-runs what depends on it). It is computed
once the execution's dependencies have finished, so it hashes the inputs they
wrote. A FINISHED executed run records it (``mlops.pipeline.cacheKey``) and the
digest of what it wrote (``mlops.pipeline.outputs``: ``{"cwd": ..., "files":
{relative path: sha256}}``, the declared outputs and metrics and the output
notebook).

A run is **reusable** for an execution when its key matches and every file of
its digest still hashes the same. Files are restored from there (copied to the
execution's own place when it runs elsewhere, as a sweep's trial workspace
does); nothing is downloaded from the artifact store. A digest too long for a
tag leaves the run uncached.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline.model import Execution

__all__ = [
    "CacheIndex",
    "CacheSource",
    "environment_hash",
    "execution_key",
    "outputs_digest",
    "reusable_metrics",
]

_VERSION = "1"
_TAG_MAX = 5000  # MLflow's tag value limit (older stores)
_CHUNK = 1 << 20
_COST_METRICS = ("cpu_core_hours", "gpu_hours", "gpu_mem_gb_hours", "energy_kwh", "co2e_g")
_NOTEBOOK = ":notebook"  # the output notebook's entry in a digest (not a relative path)
_memo: dict[tuple[str, int, int, int], str] = {}


def environment_hash() -> str:
    """Python version and installed distributions (``*.dist-info`` names on ``sys.path``)."""
    names: set[str] = set()
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                names.update(e.name for e in found if e.name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    text = "\n".join([sys.version, *sorted(names)])
    return hashlib.sha256(text.encode()).hexdigest()


def _file_hash(path: Path) -> str:
    """sha256 of a file's bytes, remembered by (real path, size, mtime, inode) for this process."""
    stat = path.stat()
    memo_key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    known = _memo.get(memo_key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    _memo[memo_key] = digest.hexdigest()
    return digest.hexdigest()


def path_hash(path: Path) -> str | None:
    """sha256 of a file, or of a folder's files (relative paths and contents); None if missing."""
    if path.is_file():
        return _file_hash(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path, followlinks=True):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if file.is_file():
                rel = file.relative_to(path).as_posix()
                digest.update(f"{rel}\0{_file_hash(file)}\n".encode())
    return digest.hexdigest()


def execution_key(execution: Execution, env_hash: str, upstream: Sequence[str]) -> str:
    """The cache key of ``execution`` (see the module doc); reads its notebook and inputs."""
    cwd = Path(execution.cwd)
    inputs = {rel: path_hash(cwd / rel) for rel in sorted(execution.inputs)}
    document = {
        "v": _VERSION,
        "notebook": _file_hash(Path(execution.notebook)),
        "parameters": execution.parameters,
        "inputs": inputs,
        "writes": sorted(execution.writes),
        "output": Path(execution.output).name,
        "kernel": execution.kernel_name,
        "env": env_hash,
        "upstream": list(upstream),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _written(execution: Execution) -> dict[str, Path]:
    """What ``execution`` writes: its declared outputs (by relative path) and its notebook."""
    cwd = Path(execution.cwd)
    return {**{rel: cwd / rel for rel in execution.writes}, _NOTEBOOK: Path(execution.output)}


def outputs_digest(execution: Execution) -> str | None:
    """The ``mlops.pipeline.outputs`` tag of a finished execution; None when a file is missing
    or the digest is too long for a tag (then the run is not reused)."""
    files: dict[str, str] = {}
    for rel, path in _written(execution).items():
        digest = path_hash(path)
        if digest is None:
            return None
        files[rel] = digest
    document = {"cwd": execution.cwd, "output": execution.output, "files": files}
    text = json.dumps(document, sort_keys=True)
    return text if len(text) <= _TAG_MAX else None


def reusable_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics a cache hit copies: the notebook's, not its source's cost (a hit costs nothing)."""
    return {
        k: v
        for k, v in metrics.items()
        if not k.startswith(("cost_", "idle_cost_", "system/")) and k not in _COST_METRICS
    }


@dataclass
class CacheSource:
    """A FINISHED run an execution may reuse: its key, the files it wrote, its results."""

    run_id: str
    origin: str
    """The run that really executed (``run_id`` itself unless that was a hit too)."""
    key: str
    cwd: str
    output: str
    files: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, run: Any) -> CacheSource | None:
        """The source an MLflow run offers (None without a key or a readable digest)."""
        run_tags = run.data.tags
        key = run_tags.get(tags.PIPELINE_CACHE_KEY)
        try:
            digest = json.loads(run_tags.get(tags.PIPELINE_OUTPUTS) or "")
            cwd, output = str(digest["cwd"]), str(digest["output"])
            files = dict(digest["files"])
        except (ValueError, KeyError, TypeError):
            return None
        if not key:
            return None
        run_id = str(run.info.run_id)
        return cls(
            run_id=run_id,
            origin=run_tags.get(tags.PIPELINE_CACHE_HIT) or run_id,
            key=key,
            cwd=cwd,
            output=output,
            files={str(k): str(v) for k, v in files.items()},
            metrics={str(k): float(v) for k, v in run.data.metrics.items()},
            params={str(k): str(v) for k, v in run.data.params.items()},
        )

    def restore(self, execution: Execution) -> bool:
        """Whether every file it wrote is intact; copied to ``execution``'s place when elsewhere."""
        written = _written(execution)
        if sorted(written) != sorted(self.files):
            return False
        pairs = []
        for rel, target in written.items():
            source = Path(self.output) if rel == _NOTEBOOK else Path(self.cwd) / rel
            if path_hash(source) != self.files[rel]:
                return False
            pairs.append((source, target))
        for source, target in pairs:
            if os.path.realpath(source) == os.path.realpath(target):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():
                shutil.rmtree(target)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=False)
            else:
                shutil.copy2(source, target)
        return True


class CacheIndex:
    """Sources by key, newest first (built from one ``search_runs`` answer)."""

    def __init__(self, sources: Iterable[CacheSource] = ()) -> None:
        self._by_key: dict[str, list[CacheSource]] = {}
        for source in sources:
            self._by_key.setdefault(source.key, []).append(source)

    @classmethod
    def of(cls, runs: Iterable[Any], *, executed_only: bool) -> CacheIndex:
        """The sources among ``runs`` (newest first); ``executed_only`` skips cache hits."""
        found = (CacheSource.of(run) for run in runs)
        return cls(
            s for s in found if s is not None and not (executed_only and s.origin != s.run_id)
        )

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def reusable(self, key: str, execution: Execution) -> CacheSource | None:
        """The newest source with ``key`` whose files are intact (restored for ``execution``)."""
        for source in self._by_key.get(key, [])[:3]:
            if source.restore(execution):
                return source
        return None
