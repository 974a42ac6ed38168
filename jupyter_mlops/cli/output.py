"""Shared by the ``jupyter mlops`` command modules: the tracking store, tables, JSON, int ranges.

Only the standard library is imported here; MLflow loads inside :func:`client`.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jupyter_mlops.exceptions import StoreError

__all__ = [
    "bounded_int",
    "client",
    "existing_database",
    "print_json",
    "print_table",
    "tracking_uri",
]


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer from {low} to {high}: {text!r}")
        return value

    return parse


def tracking_uri(args: argparse.Namespace) -> str:
    """``--tracking-uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<root>/mlflow.db``."""
    from jupyter_mlops.config import MlopsConfig

    config = MlopsConfig(tracking_uri=args.tracking_uri or "")
    if args.root_dir:
        config.root_dir = str(Path(args.root_dir).resolve())
    return config.resolved_tracking_uri()


def existing_database(url: str, what: str, hint: str) -> str:
    """``url``, unless it is a SQLite file that does not exist (reading must not create one)."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        path = Path(url[len("sqlite:///") :].split("?", 1)[0])
        if not path.is_file():
            raise StoreError(f"No {what} at {path}.", hint=hint)
    return url


def client(args: argparse.Namespace) -> Any:
    """A client on the store of ``--tracking-uri``/``--root-dir``; a missing SQLite file is an error."""
    from jupyter_mlops.core.tracking import query

    hint = (
        "Run from the folder that holds mlflow.db, pass --root-dir or --tracking-uri, "
        "or set MLFLOW_TRACKING_URI."
    )
    return query.connect(existing_database(tracking_uri(args), "MLflow store", hint))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _cell(value: object) -> str:
    """Text safe for a terminal table: no control characters (no escape sequences)."""
    return _CONTROL.sub("?", "" if value is None else str(value))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Aligned columns under ``headers``; control characters in cells show as ``?``."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    for row in [list(headers), *cells]:
        print(
            "  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
        )


def print_json(data: object) -> None:
    """``data`` as indented JSON (NaN is an error, not invalid JSON)."""
    print(json.dumps(data, indent=2, allow_nan=False))
