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

rng = np.random.default_rng(x)
a = rng.standard_normal((200, 200))
total = 0.0
for _ in range(40):
    total += float(np.linalg.norm(a @ a.T))
checksum = sum(i * i % 7 for i in range(4_000_000 + x))
print(x, round(total, 3), checksum)
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


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
