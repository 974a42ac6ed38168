"""``%mlops env``: this kernel's environment, its drift, diffs and checks.

Listed in :data:`SUBCOMMANDS`, which :mod:`jupyter_mlops.kernel.magics` dispatches
to. The snapshot library and MLflow
load when the subcommand runs, never at ``%load_ext``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.tags import ENV_HASH
from jupyter_mlops.exceptions import MlopsError, UsageError
from jupyter_mlops.kernel.parsing import Invocation, Subcommand

if TYPE_CHECKING:
    from jupyter_mlops.core.environment import EnvironmentDiff, EnvironmentSnapshot
    from jupyter_mlops.core.environment.run_record import SnapshotSource

__all__ = ["SUBCOMMANDS"]

_ACTIONS = ("snapshot", "diff", "check")


def _env_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=_ACTIONS,
        help="snapshot: print (or -o write) environment.yml; diff A [B]: compare two runs or "
        "files (B defaults to this kernel); check [FILE]: drift of this kernel from FILE or a "
        "run (default: the last run of this notebook), the cell fails on drift. "
        "Without an action: summary and drift from the last run of this notebook.",
    )
    parser.add_argument(
        "targets", nargs="*", metavar="RUN_OR_FILE", help="run ids or environment.yml files"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="snapshot: write environment.yml to PATH (file or folder), platform.yml beside it",
    )
    parser.add_argument(
        "--requested-only",
        action="store_true",
        help="snapshot: only what was asked for (pip REQUESTED, editable, conda history)",
    )


def _print(text: str) -> None:
    from jupyter_mlops.core.environment import scrub

    sys.stdout.write(scrub(text if text.endswith("\n") else text + "\n"))


def _client() -> Any:
    from jupyter_mlops.core.tracking.query import connect
    from jupyter_mlops.kernel import api

    return connect(api.get_tracker().tracking_uri)


def _summary(snapshot: EnvironmentSnapshot) -> str:
    from jupyter_mlops.core.environment import content_hash

    conda, pip = len(snapshot.conda_packages), len(snapshot.pip_packages)
    parts = f"{conda} conda, {pip} pip" if conda else f"{pip} pip"
    return (
        f"Environment of this kernel: {sys.prefix}\n"
        f"Python {snapshot.python_version}, {conda + pip} packages ({parts}), "
        f"content hash {content_hash(snapshot)}"
    )


def _last_run_drift(current: EnvironmentSnapshot) -> tuple[str, EnvironmentDiff | None, str]:
    """``(message, drift or None, label)`` against the newest run of this notebook."""
    from jupyter_mlops.core.environment import check_drift
    from jupyter_mlops.core.environment.run_record import latest_notebook_environment
    from jupyter_mlops.core.tracking import context

    notebook = context.notebook_path()
    if notebook is None:
        return "Not running in a notebook: no earlier run of it to compare with.", None, ""
    found = latest_notebook_environment(_client(), notebook)
    if found is None:
        return f"No earlier run of {notebook} has an environment snapshot yet.", None, ""
    label = f"run {found.run_id[:8]}"
    message = f"Drift from the last run of {notebook} (run {found.run_id}):"
    return message, check_drift(found.snapshot, current), label


def _table(diff: EnvironmentDiff, old: str, new: str) -> str:
    from jupyter_mlops.core.environment import render_diff_table

    return render_diff_table(diff, old_label=old, new_label=new)


def _show(inv: Invocation) -> None:
    from jupyter_mlops.core.environment import take_snapshot

    current = take_snapshot()
    message, drift, label = _last_run_drift(current)
    lines = [_summary(current), "", message]
    if drift is not None:
        lines.append(_table(drift, label, "current"))
    _print("\n".join(lines))


def _snapshot(inv: Invocation) -> None:
    from jupyter_mlops.core.environment import (
        content_hash,
        render_environment_yml,
        take_snapshot,
        write_snapshot,
    )

    if inv.args.targets:
        raise UsageError("%mlops env snapshot takes no run or file.", hint="write it with -o PATH")
    snapshot = take_snapshot(requested_only=inv.args.requested_only)
    if not inv.args.output:
        _print(render_environment_yml(snapshot))
        return
    output = inv.args.output
    if output.endswith(("/", os.sep)):  # "-o envs/": a folder, even a new one
        os.makedirs(output, exist_ok=True)
    written = write_snapshot(snapshot, output)
    _print(
        f"Wrote {' and '.join(str(p) for p in written)} (content hash {content_hash(snapshot)})."
    )


def _current_source() -> SnapshotSource:
    from jupyter_mlops.core.environment import take_snapshot
    from jupyter_mlops.core.environment.run_record import SnapshotSource

    return SnapshotSource("current", take_snapshot(include_platform=False))


def _diff(inv: Invocation) -> None:
    from jupyter_mlops.core.environment import diff_snapshots
    from jupyter_mlops.core.environment.run_record import resolve_snapshot

    targets = inv.args.targets
    if not 1 <= len(targets) <= 2:
        raise UsageError(
            "%mlops env diff takes one or two runs or files.",
            hint="%mlops env diff RUN_A RUN_B, or %mlops env diff RUN (against this kernel)",
        )
    old = resolve_snapshot(targets[0], _client)
    new = resolve_snapshot(targets[1], _client) if len(targets) == 2 else _current_source()
    _print(_table(diff_snapshots(old.snapshot, new.snapshot), old.label, new.label))


def _check(inv: Invocation) -> None:
    from jupyter_mlops.core.environment import check_drift
    from jupyter_mlops.core.environment.run_record import resolve_snapshot

    targets = inv.args.targets
    if len(targets) > 1:
        raise UsageError("%mlops env check takes one file or run.", hint="%mlops env check FILE")
    current = _current_source().snapshot
    if targets:
        expected = resolve_snapshot(targets[0], _client)
        message = f"Drift from {expected.label}:"
        drift: EnvironmentDiff | None = check_drift(expected.snapshot, current)
        label = expected.label
    else:
        message, drift, label = _last_run_drift(current)
    _print(message if drift is None else f"{message}\n{_table(drift, label, 'current')}")
    if drift:
        counts = (
            f"{len(drift.added)} added, {len(drift.removed)} removed, {len(drift.changed)} changed"
        )
        raise MlopsError(
            f"The environment drifted from {label}: {counts}"
            + (", python changed." if drift.python else "."),
            hint="install the recorded versions, or record a new snapshot",
        )


def _env(inv: Invocation) -> None:
    action = inv.args.action
    if action is None:
        if inv.args.targets:
            raise UsageError(
                f"Unknown action {inv.args.targets[0]!r}.",
                hint=f"use one of {', '.join(_ACTIONS)} (see %mlops env --help)",
            )
        _show(inv)
    elif action == "snapshot":
        _snapshot(inv)
    elif action == "diff":
        _diff(inv)
    else:
        _check(inv)


ENV = Subcommand(
    "env",
    "this kernel's environment: summary, drift, snapshot, diff, check",
    _env,
    arguments=_env_arguments,
    details="Every run records its environment (artifact environment/environment.yml, tag "
    f"{ENV_HASH}).\n"
    "examples:\n"
    "  %mlops env                           summary + drift from the last run of this notebook\n"
    "  %mlops env snapshot -o environment.yml\n"
    "  %mlops env diff RUN_A RUN_B          (run ids or environment.yml files)\n"
    "  %mlops env check environment.yml     the cell fails on drift",
)

SUBCOMMANDS = (ENV,)
