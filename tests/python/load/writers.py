"""Load driver: many writer processes logging into one tracking store at once.

Run as a script (``python writers.py SPEC.json``). The parent imports MLflow and
jupyter_mlops once, then forks one child per writer (64 interpreters importing
MLflow would cost a minute of CPU on a 2-core machine before any write). Every
child is a plain Python process of its own with its own connections; it sends
its stderr to ``<out>/<name>.err``, waits for the barrier file, logs, and exits
0 (everything acknowledged and delivered) or 1. The parent releases the barrier
once every child is ready and prints ``{"exit_codes": {...}}``.

Writer kinds (``SPEC["writers"]``: list of ``{"name", "kind", ...}``):

* ``tracker``: ``Tracker.start_run(experiment=...)`` then ``points`` x
  ``log_metric`` then ``end_run``, as a kernel does (``%mlops start/log/end``);
* ``attach``: a pipeline-style kernel: ``$JUPYTER_MLOPS_RUN_ID`` names a run
  the test created; ``log_metric`` attaches by itself, ``end_run`` detaches;
* ``execute``: a real pipeline worker: :func:`jupyter_mlops.core.pipeline.execute.execute`
  runs ``notebook`` in a real kernel attached to ``run_id``; the notebook
  waits for the barrier itself and logs through ``jupyter_mlops.log_metric``;
* ``mlflow``: the baseline, plain ``mlflow.log_metric`` on ``run_id`` (one
  call per point, no retries): failures are counted, the child exits 0.

Each child writes ``<out>/<name>.json`` with ``run_id``, ``sent`` and ``failures``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from forks import BARRIER_TIMEOUT, run_forked, wait_barrier


def _tracker(spec: dict[str, Any], writer: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mlops.core.tracking.tracker import Tracker

    Tracker.record_cost = False  # the cost meter's system/... series are not part of the count
    tracker = Tracker(spec["uri"], Path(spec["spool_dir"]), flush_interval=0.2)
    info = tracker.start_run(experiment=spec["experiment"], run_name=writer["name"])
    for step in range(spec["points"]):
        tracker.log_metric(spec["key"], float(step) / 7.0, step=step)
    tracker.end_run()
    return {"run_id": info.run_id, "sent": spec["points"], "failures": 0}


def _attach(spec: dict[str, Any], writer: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mlops.core.tracking.tracker import Tracker

    os.environ["JUPYTER_MLOPS_RUN_ID"] = writer["run_id"]
    os.environ["MLFLOW_TRACKING_URI"] = spec["uri"]
    tracker = Tracker(spec["uri"], Path(spec["spool_dir"]), flush_interval=0.2)
    for step in range(spec["points"]):
        tracker.log_metric(spec["key"], float(step) / 7.0, step=step)
    tracker.end_run()
    return {"run_id": writer["run_id"], "sent": spec["points"], "failures": 0}


def _execute(spec: dict[str, Any], writer: dict[str, Any]) -> dict[str, Any]:
    from jupyter_mlops.core.pipeline.execute import execute
    from jupyter_mlops.core.pipeline.model import Execution

    out = Path(spec["out"])
    execution = Execution(
        index=0,
        trial=0,
        step=writer["name"],
        notebook=spec["notebook"],
        output=str(out / f"{writer['name']}.ipynb"),
        cwd=str(out),
        parameters={
            "barrier": spec["barrier"],
            "ready": str(out / f"{writer['name']}.ready"),
            "key": spec["key"],
            "points": spec["points"],
        },
        run_id=writer["run_id"],
        tracking_uri=spec["uri"],
        timeout=BARRIER_TIMEOUT + 60,
        env={"JUPYTER_MLOPS_RUN_ID": writer["run_id"], "MLFLOW_TRACKING_URI": spec["uri"]},
    )
    result = execute(execution)
    if result.status != "FINISHED":
        raise RuntimeError(f"execution {result.status}: {result.reason} {result.error}")
    return {"run_id": writer["run_id"], "sent": spec["points"], "failures": 0}


def _baseline(spec: dict[str, Any], writer: dict[str, Any]) -> dict[str, Any]:
    import mlflow

    mlflow.set_tracking_uri(spec["uri"])
    failures = 0
    errors: list[str] = []
    for step in range(spec["points"]):
        try:
            mlflow.log_metric(spec["key"], float(step) / 7.0, step=step, run_id=writer["run_id"])
        except Exception as exc:
            failures += 1
            errors.append(str(exc).split("\n", 1)[0][:200])
    return {
        "run_id": writer["run_id"],
        "sent": spec["points"],
        "failures": failures,
        "errors": errors[:3],
    }


KINDS = {"tracker": _tracker, "attach": _attach, "execute": _execute, "mlflow": _baseline}


def _child(spec: dict[str, Any], writer: dict[str, Any]) -> int:
    out = Path(spec["out"])
    err = os.open(out / f"{writer['name']}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    try:
        if writer["kind"] != "execute":  # an execute's notebook says when it is ready
            (out / f"{writer['name']}.ready").touch()
            wait_barrier(Path(spec["barrier"]))
        started = time.monotonic()
        result = KINDS[writer["kind"]](spec, writer)
        result["seconds"] = round(time.monotonic() - started, 3)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    (out / f"{writer['name']}.json").write_text(json.dumps(result))
    sys.stderr.flush()
    return 0


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    import mlflow
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: F401

    import jupyter_mlops.core.tracking.tracker

    if any(w["kind"] == "execute" for w in spec["writers"]):
        import papermill  # noqa: F401

        import jupyter_mlops.core.pipeline.execute  # noqa: F401
    if any(w["kind"] == "mlflow" for w in spec["writers"]):
        import mlflow.tracking.fluent  # noqa: F401
    children = {w["name"]: functools.partial(_child, spec, w) for w in spec["writers"]}
    codes = run_forked(children, out, Path(spec["barrier"]), BARRIER_TIMEOUT)
    print(json.dumps({"exit_codes": codes}))


if __name__ == "__main__":
    main()
