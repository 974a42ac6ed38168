"""``jupyter mlops runs|experiments|ui|run-edit``: the tracking store on the command line.

``run-edit`` is the panel's run actions (:mod:`jupyter_mlops.core.tracking.run_edit`):
rename, tag, note, delete, restore, and the list of deleted runs.

Only the standard library is imported here; MLflow loads inside the commands,
so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time

from jupyter_mlops.cli.command import FORMAT, arg, command, group
from jupyter_mlops.cli.output import bounded_int, client, print_json, print_table, tracking_uri

__all__ = ["EXPERIMENTS", "RUNS", "RUN_EDIT", "UI", "cmd_experiments", "cmd_runs", "cmd_ui"]


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else ""


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def cmd_runs(args: argparse.Namespace) -> int:
    """List the runs of the tracking store, filtered and sorted by the store. With more runs than
    --max, the next page's token is printed on stderr (table) or returned as next_page_token
    (json).
    """
    from jupyter_mlops.core.tracking import query

    store = client(args)
    experiment_ids = None
    if args.experiment:
        experiment_ids = [query.find_experiment(store, args.experiment)["experiment_id"]]
    page = query.search_runs(
        store,
        experiment_ids=experiment_ids,
        status=args.status,
        search=args.search,
        filter=args.filter,
        order_by=args.order_by,
        max_results=args.max,
        page_token=args.page_token,
    )
    if args.format == "json":
        print_json(page)
        return 0
    rows = [
        (
            r["run_id"],
            r["run_name"],
            r["status"],
            _when(r["start_time"]),
            _duration(r["duration_ms"]),
        )
        for r in page["runs"]
    ]
    print_table(["RUN ID", "NAME", "STATUS", "STARTED", "DURATION"], rows)
    if page["next_page_token"]:
        print(f"more: --page-token {page['next_page_token']}", file=sys.stderr)
    return 0


RUNS = command(
    "runs",
    "List runs, newest first.",
    cmd_runs,
    arg("--experiment", metavar="NAME", help="Only runs of this experiment (default: all)."),
    arg(
        "--status",
        type=str.upper,
        choices=["RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"],
        help="Only runs in this state.",
    ),
    arg("--search", metavar="TEXT", help="Only runs whose name contains TEXT (any case)."),
    arg("--filter", metavar="EXPR", help='MLflow filter, e.g. "metrics.acc > 0.9".'),
    arg(
        "--order-by",
        metavar="COLUMN",
        default="start_time DESC",
        help="start_time, end_time, run_name, status, metrics.<key>, params.<key> or "
        "tags.<key>, then ASC or DESC (default: %(default)s).",
    ),
    arg(
        "--max",
        metavar="N",
        type=bounded_int(1, 1000),
        default=50,
        help="At most N runs, 1 to 1000 (default: %(default)s).",
    ),
    arg("--page-token", metavar="TOKEN", help="Continue where a previous listing stopped."),
    FORMAT,
)


def cmd_experiments(args: argparse.Namespace) -> int:
    """List active experiments, newest first."""
    from jupyter_mlops.core.tracking import query

    result = query.list_experiments(client(args))
    if args.format == "json":
        print_json(result)
        return 0
    rows = [
        (e["experiment_id"], e["name"], _when(e["creation_time"])) for e in result["experiments"]
    ]
    print_table(["ID", "NAME", "CREATED"], rows)
    return 0


EXPERIMENTS = command(
    "experiments", "List active experiments, newest first.", cmd_experiments, FORMAT
)


def cmd_ui(args: argparse.Namespace) -> int:
    """Run `mlflow ui --backend-store-uri <store>` on the store jupyter-mlops uses. For a remote
    tracking server (http/https) there is nothing to start: its address is printed.
    """
    from jupyter_mlops.core.tracking.store import redact_uri

    uri = tracking_uri(args)
    shown = redact_uri(uri)
    if uri.startswith(("http://", "https://", "databricks")):
        print(f"The tracking store is a server; open {shown} in a browser.")
        return 0
    options = ["--host", args.host, "--port", str(args.port)]
    print(shlex.join(["mlflow", "ui", "--backend-store-uri", shown, *options]))
    if args.print_only:
        return 0
    argv = [sys.executable, "-m", "mlflow", "ui", *options]
    env = dict(os.environ)
    if shown == uri:
        argv += ["--backend-store-uri", uri]
    else:  # credentials never go into a process's argv; `mlflow ui` reads this variable too
        env["MLFLOW_BACKEND_STORE_URI"] = uri
    return subprocess.run(argv, env=env, check=False).returncode


UI = command(
    "ui",
    "Start MLflow's own UI on the tracking store.",
    cmd_ui,
    arg("--host", default="127.0.0.1", help="Address to listen on (default: %(default)s)."),
    arg("--port", type=bounded_int(1, 65535), default=5000, help="Port (default: %(default)s)."),
    arg("--print", action="store_true", dest="print_only", help="Only print the command."),
)


# -- run-edit: the panel's run actions ----------------------------------------------------------


def _edited(args: argparse.Namespace, summary: dict[str, object], done: str) -> int:
    if args.format == "json":
        print_json(summary)
    else:
        print(f"{done} run {summary['run_id']} ({summary['run_name']}).")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    """Give a run a new name (1 to 250 characters, one line)."""
    from jupyter_mlops.core.tracking import run_edit

    return _edited(args, run_edit.rename_run(client(args), args.run_id, args.name), "Renamed")


def cmd_tag(args: argparse.Namespace) -> int:
    """Set (NAME=VALUE) and remove (--delete NAME) tags of a run in one edit. Tags under
    mlops. and mlflow. are the system's and cannot be changed here.
    """
    from jupyter_mlops.core.tracking import run_edit
    from jupyter_mlops.exceptions import UsageError

    updates: dict[str, object] = {}
    for item in args.tags:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"Expected NAME=VALUE, got {item!r}.", hint="For example team=ds.")
        updates[name] = value
    summary = run_edit.edit_tags(client(args), args.run_id, updates, args.delete or [])
    return _edited(args, summary, "Tagged")


def cmd_note(args: argparse.Namespace) -> int:
    """Set a run's Markdown note (MLflow's run description, mlflow.note.content) from TEXT,
    --file PATH or --file - (stdin); an empty note removes it.
    """
    from jupyter_mlops.core.tracking import run_edit
    from jupyter_mlops.exceptions import UsageError

    if (args.text is None) == (args.file is None):
        raise UsageError("Give the note as TEXT or --file PATH (one of the two).")
    if args.file == "-":
        text = sys.stdin.read()
    elif args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read the note from {args.file}: {exc}") from exc
    else:
        text = args.text
    return _edited(args, run_edit.set_note(client(args), args.run_id, text), "Noted")


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a run (MLflow's lifecycle: hidden, restorable until `mlflow gc`)."""
    from jupyter_mlops.core.tracking import run_edit

    return _edited(args, run_edit.delete_run(client(args), args.run_id), "Deleted")


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a deleted run."""
    from jupyter_mlops.core.tracking import run_edit

    return _edited(args, run_edit.restore_run(client(args), args.run_id), "Restored")


def cmd_deleted(args: argparse.Namespace) -> int:
    """List deleted runs (restorable), newest first."""
    from jupyter_mlops.core.tracking import query, run_edit

    store = client(args)
    ids = (
        [query.find_experiment(store, args.experiment)["experiment_id"]]
        if args.experiment
        else None
    )
    result = run_edit.deleted_runs(store, ids, args.max)
    if args.format == "json":
        print_json(result)
        return 0
    rows = [
        (r["run_id"], r["run_name"], r["status"], _when(r["start_time"])) for r in result["runs"]
    ]
    print_table(["RUN ID", "NAME", "STATUS", "STARTED"], rows)
    return 0


_RUN_ID = arg("run_id", metavar="RUN_ID", help="The run's id.")
RUN_EDIT = group(
    "run-edit",
    "Rename, tag, annotate, delete or restore a run.",
    command("rename", "Rename a run.", cmd_rename, _RUN_ID, arg("name", metavar="NAME"), FORMAT),
    command(
        "tag",
        "Set or remove tags of a run.",
        cmd_tag,
        _RUN_ID,
        arg("tags", nargs="*", metavar="NAME=VALUE", help="Tags to set."),
        arg("--delete", action="append", metavar="NAME", help="A tag to remove (repeatable)."),
        FORMAT,
    ),
    command(
        "note",
        "Set or clear the Markdown note of a run.",
        cmd_note,
        _RUN_ID,
        arg("text", nargs="?", metavar="TEXT", help="The note ('' removes it)."),
        arg("--file", metavar="PATH", help="Read the note from PATH (- for stdin)."),
        FORMAT,
    ),
    command("delete", "Delete a run (restorable).", cmd_delete, _RUN_ID, FORMAT),
    command("restore", "Restore a deleted run.", cmd_restore, _RUN_ID, FORMAT),
    command(
        "deleted",
        "List deleted runs.",
        cmd_deleted,
        arg("--experiment", metavar="NAME", help="Only runs of this experiment (default: all)."),
        arg("--max", metavar="N", type=bounded_int(1, 1000), default=100, help="At most N runs."),
        FORMAT,
    ),
)
