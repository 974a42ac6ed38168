"""``jupyter mlops env snapshot|diff|check``: environment snapshots on the command line.

:data:`ENV` is the group, listed in :data:`jupyter_mlops.cli.main.COMMANDS`. Only the
standard library is imported here; the snapshot library, and MLflow for run ids,
load inside the commands, so ``--help`` stays fast.

Exit codes: 0 success (``check``: no drift), 1 ``check`` found drift or a
command failed (store unreachable, run without an environment), 2 usage error
(bad arguments, a file that is missing or not an ``environment.yml``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.cli.command import FORMAT, arg, command, group
from jupyter_mlops.cli.output import client, print_json
from jupyter_mlops.core.tags import ENV_HASH
from jupyter_mlops.exceptions import NotFoundError, PathError, UsageError

if TYPE_CHECKING:
    from jupyter_mlops.core.environment import EnvironmentDiff

__all__ = ["ENV", "cmd_env_check", "cmd_env_diff", "cmd_env_snapshot"]

_PREFIX_HELP = (
    "Snapshot the environment at PREFIX (a virtualenv or conda folder, its sys.prefix) "
    "instead of the one running this command."
)


def _diff_json(diff: EnvironmentDiff) -> dict[str, Any]:
    import json

    from jupyter_mlops.core.environment import scrub

    data: dict[str, Any] = json.loads(scrub(json.dumps(diff.to_dict())))
    return data


def cmd_env_snapshot(args: argparse.Namespace) -> int:
    """Write the environment as a conda-style environment.yml that conda, mamba and micromamba
    accept: Python version, conda packages with channels, pip packages with pins (editable and
    VCS installs with their origin, credentials stripped). With -o the platform block (OS, CPU,
    GPU, driver) goes to platform.yml beside it. No environment variable values, tokens or URL
    credentials are ever written.
    """
    from jupyter_mlops.core.environment import (
        content_hash,
        render_environment_yml,
        take_snapshot,
        write_snapshot,
    )

    snapshot = take_snapshot(args.prefix, requested_only=args.requested_only)
    if args.output in (None, "-"):
        sys.stdout.write(render_environment_yml(snapshot))
        return 0
    if args.output.endswith(("/", os.sep)):  # "-o envs/": a folder, even a new one
        Path(args.output).mkdir(parents=True, exist_ok=True)
    written = write_snapshot(snapshot, args.output)
    count = len(snapshot.conda_packages) + len(snapshot.pip_packages)
    print(
        f"Wrote {' and '.join(str(path) for path in written)}: Python "
        f"{snapshot.python_version}, {count} packages, content hash {content_hash(snapshot)}."
    )
    return 0


SNAPSHOT = command(
    "snapshot",
    "Write this environment as a conda-style environment.yml.",
    cmd_env_snapshot,
    arg(
        "-o",
        "--output",
        metavar="PATH",
        help="Write environment.yml to PATH (a file name or a folder) and platform.yml beside "
        "it (default: print environment.yml on stdout).",
    ),
    arg(
        "--requested-only",
        action="store_true",
        help="Only what was asked for (pip's REQUESTED marker, editable installs, conda's "
        "history), pinned: the portable form.",
    ),
    arg("--prefix", metavar="PREFIX", help=_PREFIX_HELP),
    uses_store=False,
)


def cmd_env_diff(args: argparse.Namespace) -> int:
    """Compare two environments: each of A and B is a run id (its recorded
    environment/environment.yml is read from the tracking store) or an environment.yml file.
    Lists what was added, removed or changed from A to B, and a Python version change.
    """
    from jupyter_mlops.core.environment import diff_snapshots, render_diff_table
    from jupyter_mlops.core.environment.run_record import resolve_snapshot

    def connect() -> Any:
        return client(args)

    old = resolve_snapshot(args.old, connect)
    new = resolve_snapshot(args.new, connect)
    diff = diff_snapshots(old.snapshot, new.snapshot)
    if args.format == "json":
        print_json(_diff_json(diff))
    else:
        sys.stdout.write(render_diff_table(diff, old_label=old.label, new_label=new.label))
    return 0


DIFF = command(
    "diff",
    "List the packages added, removed and changed between two runs or files.",
    cmd_env_diff,
    arg("old", metavar="A", help="A run id, or an environment.yml (or a folder holding one)."),
    arg("new", metavar="B", help="A run id, or an environment.yml (or a folder holding one)."),
    FORMAT,
)


def cmd_env_check(args: argparse.Namespace) -> int:
    """Compare the current environment with a snapshot. A full snapshot (what `env snapshot`
    writes) must match exactly, packages installed since included; a requested-only or
    hand-written environment.yml checks only the packages it lists. Exit status: 0 no drift, 1
    drift (listed), 2 usage error (missing or invalid FILE).
    """
    from jupyter_mlops.core.environment import (
        check_drift,
        render_diff_table,
        snapshot_from_file,
        take_snapshot,
    )

    try:  # exit 1 means drift: a file or prefix that cannot be read is a usage error (2)
        expected = snapshot_from_file(args.file)
        current = take_snapshot(args.prefix, include_platform=False)
    except (NotFoundError, PathError) as exc:
        raise UsageError(exc.message, hint=exc.hint) from exc
    drift = check_drift(expected, current)
    if args.format == "json":
        print_json(_diff_json(drift))
    elif not drift:
        listed = " (only the packages it lists were checked)" if drift.listed_only else ""
        print(f"no drift: this environment matches {args.file}{listed}")
    else:
        print(f"drift from {args.file}:")
        sys.stdout.write(render_diff_table(drift, old_label="expected", new_label="current"))
    return 1 if drift else 0


CHECK = command(
    "check",
    "Check this environment against an environment.yml; exit 1 on drift.",
    cmd_env_check,
    arg("file", metavar="FILE", help="The environment.yml to check against."),
    arg("--prefix", metavar="PREFIX", help=_PREFIX_HELP),
    FORMAT,
    uses_store=False,
)

ENV = group(
    "env",
    "Environment snapshots: write environment.yml, diff two runs or files, check drift.",
    SNAPSHOT,
    DIFF,
    CHECK,
    description="Environment snapshots. Every tracked run records one (artifact "
    f"environment/environment.yml, tag {ENV_HASH}); these commands write, compare and "
    "check them. See `jupyter mlops env COMMAND --help`.",
)
