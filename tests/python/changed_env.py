"""A run whose recorded environment differs from this one by one package, for diff and drift tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jupyter_mlops.core.environment import take_snapshot
from jupyter_mlops.core.environment.run_record import log_environment


def log_changed_environment(
    client: Any, experiment: str, tags: Mapping[str, str] | None = None
) -> tuple[str, str, str]:
    """A new run in ``experiment`` whose environment has one pip package (not an editable or
    VCS install) at 0.0.1, the rest as installed here: (run id, package name, installed version)."""
    snap = take_snapshot()
    packages = list(snap.pip_packages)
    index = next(i for i, p in enumerate(packages) if p.direct_url is None)
    name, version = packages[index].name, str(packages[index].version)
    packages[index] = packages[index]._replace(version="0.0.1")
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    run_id: str = client.create_run(experiment_id, tags=dict(tags or {})).info.run_id
    log_environment(client, run_id, snap._replace(pip_packages=tuple(packages)))
    return run_id, name, version
