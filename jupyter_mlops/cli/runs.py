"""``jupyter mlops runs|experiments|ui``: the tracking store on the command line.

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

from jupyter_mlops.cli.command import FORMAT, arg, command
from jupyter_mlops.cli.output import bounded_int, client, print_json, print_table, tracking_uri

__all__ = ["EXPERIMENTS", "RUNS", "UI", "cmd_experiments", "cmd_runs", "cmd_ui"]


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
