"""The notebook, store and helpers that both parts of ``bench_pipeline.py`` use."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

WORK = """\
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, random_state=x)
scores = cross_val_score(LogisticRegression(C=1.0 / x, max_iter=1000), X, y, cv=5)
forest = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=x).fit(X, y)
accuracy = float(np.mean(scores))
print(x, round(accuracy, 4), round(forest.score(X, y), 4))
"""


def write_notebook(path: Path) -> Path:
    """The benchmark notebook: ``x = 1`` in a ``parameters`` cell, then :data:`WORK`."""

    def cell(source: str, tags: list[str] | None = None) -> dict[str, Any]:
        return {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{len(source)}",
            "metadata": {"tags": tags} if tags else {},
            "outputs": [],
            "source": source,
        }

    nb = {
        "cells": [cell("x = 1\n", ["parameters"]), cell(WORK)],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def fresh_store(folder: Path) -> tuple[str, float]:
    """A migrated SQLite store in ``folder`` and the seconds its creation took."""
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    start = time.perf_counter()
    MlflowClient(uri).search_experiments()
    return uri, time.perf_counter() - start


def quiet() -> None:
    for name in ("mlflow", "alembic", "papermill", "traitlets", "jupyter_mlops"):
        logging.getLogger(name).setLevel(logging.WARNING)


def adopt_orphans() -> bool:
    """Make this process a child subreaper (Linux): descendants orphaned on the way are
    adopted here, so :func:`reap_adopted` can reap them and their CPU time is counted."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    pr_set_child_subreaper = 36
    return int(ctypes.CDLL(None).prctl(pr_set_child_subreaper, 1, 0, 0, 0)) == 0


def reap_adopted(timeout: float = 30.0) -> int:
    """Reap every child of this process (the command just run left none of its own); wait up
    to ``timeout`` for those still running, then kill them. How many had outlived it."""
    import os

    import psutil

    outlived = sum(
        1 for child in psutil.Process().children() if child.status() != psutil.STATUS_ZOMBIE
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return outlived
        if pid:
            continue
        if time.monotonic() > deadline:
            for child in psutil.Process().children():
                child.kill()
        time.sleep(0.05)


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
