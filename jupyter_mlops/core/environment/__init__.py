"""Environment snapshots: ``environment.yml`` for every run, diffs and drift checks.

::

    from jupyter_mlops.core.environment import (
        check_drift, content_hash, render_diff_table, render_environment_yml, take_snapshot,
    )

    snap = take_snapshot()                      # this interpreter; or take_snapshot(prefix)
    text = render_environment_yml(snap)         # conda/mamba/micromamba accept it
    tag = content_hash(snap)                    # same for identical environments
    drift = check_drift("environment.yml")      # truthy when something drifted
    print(render_diff_table(drift, old_label="snapshot", new_label="current"))

Modules, one subject each:

========================  ===========================================================
``model``                 the records (:class:`EnvironmentSnapshot`, packages, URLs)
``pip_meta``              installed distributions, read from ``*.dist-info`` folders
``vcs``                   ``direct_url.json`` and git checkouts of editable installs
``conda``                 ``conda-meta/*.json`` records, channels, history
``platform``              OS, CPU, Python build, GPU / driver / CUDA via NVML
``snapshot``              :func:`take_snapshot`
``specs``                 dependency lines and :func:`content_hash`
``render``                ``environment.yml``, ``platform.yml``, JSON writers
``parse``                 ``environment.yml`` back into snapshots
``diff``                  :func:`diff_snapshots`, :func:`check_drift`, the text table
========================  ===========================================================

``scrub`` and ``strip_url_credentials`` come from :mod:`jupyter_mlops.core.redact`, the one scrubber.

Importing this package is cheap: names resolve to their module on first use,
so ``take_snapshot`` does not pay for the parser or PyYAML. Nothing here
imports tornado, jupyter_server, IPython, ipywidgets or MLflow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.lazy import lazy_attribute, lazy_dir

if TYPE_CHECKING:
    from jupyter_mlops.core.environment.diff import (
        EnvironmentDiff,
        PackageChange,
        check_drift,
        diff_snapshots,
        render_diff_table,
    )
    from jupyter_mlops.core.environment.model import (
        CondaPackage,
        DirectUrl,
        EnvironmentSnapshot,
        PipPackage,
        normalize_name,
    )
    from jupyter_mlops.core.environment.parse import (
        parse_environment_yml,
        snapshot_from_file,
        snapshot_from_text,
    )
    from jupyter_mlops.core.environment.render import (
        ARTIFACT_DIR,
        ENVIRONMENT_FILE,
        HASH_TAG,
        PLATFORM_FILE,
        render_environment_yml,
        render_platform_yml,
        render_snapshot_json,
        run_artifacts,
        run_tags,
        write_snapshot,
    )
    from jupyter_mlops.core.environment.snapshot import take_snapshot
    from jupyter_mlops.core.environment.specs import content_hash
    from jupyter_mlops.core.redact import scrub, strip_url_credentials

__all__ = [
    "ARTIFACT_DIR",
    "ENVIRONMENT_FILE",
    "HASH_TAG",
    "PLATFORM_FILE",
    "CondaPackage",
    "DirectUrl",
    "EnvironmentDiff",
    "EnvironmentSnapshot",
    "PackageChange",
    "PipPackage",
    "check_drift",
    "content_hash",
    "diff_snapshots",
    "normalize_name",
    "parse_environment_yml",
    "render_diff_table",
    "render_environment_yml",
    "render_platform_yml",
    "render_snapshot_json",
    "run_artifacts",
    "run_tags",
    "scrub",
    "snapshot_from_file",
    "snapshot_from_text",
    "strip_url_credentials",
    "take_snapshot",
    "write_snapshot",
]

_HOME = {
    "ARTIFACT_DIR": "render",
    "ENVIRONMENT_FILE": "render",
    "HASH_TAG": "render",
    "PLATFORM_FILE": "render",
    "CondaPackage": "model",
    "DirectUrl": "model",
    "EnvironmentDiff": "diff",
    "EnvironmentSnapshot": "model",
    "PackageChange": "diff",
    "PipPackage": "model",
    "check_drift": "diff",
    "content_hash": "specs",
    "diff_snapshots": "diff",
    "normalize_name": "model",
    "parse_environment_yml": "parse",
    "render_diff_table": "diff",
    "render_environment_yml": "render",
    "render_platform_yml": "render",
    "render_snapshot_json": "render",
    "run_artifacts": "render",
    "run_tags": "render",
    "scrub": "jupyter_mlops.core.redact",
    "snapshot_from_file": "parse",
    "snapshot_from_text": "parse",
    "strip_url_credentials": "jupyter_mlops.core.redact",
    "take_snapshot": "snapshot",
    "write_snapshot": "render",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _HOME, name)


def __dir__() -> list[str]:
    return lazy_dir(__name__, __all__)
