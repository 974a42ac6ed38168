"""The JSON bodies of the pipeline routes, checked for shape before any file is touched.

* :func:`check_export_body`: ``POST pipelines/export``.
* :class:`LaunchRequest`: ``POST pipelines/runs`` (values are checked by the plan).
* :class:`ParameterError`: a plan's parameter problems as the REST ``errors: [str]`` list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jupyter_mlops.exceptions import MlopsError, UsageError

__all__ = ["MAX_WORKERS", "LaunchRequest", "ParameterError", "check_export_body", "with_errors"]

MAX_WORKERS = 64
"""Most parallel executions one launch may ask for."""


def check_export_body(body: dict[str, Any]) -> tuple[list[Any], Any, str | None, int | None]:
    """``(notebooks, output, name, tag_cell)`` of an export body (paths are checked later)."""
    notebooks, name, tag_cell = body.get("notebooks"), body.get("name"), body.get("tag_cell")
    if not isinstance(notebooks, list) or not notebooks or len(notebooks) > 100:
        raise UsageError("notebooks must be a list of 1 to 100 notebook paths.")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise UsageError("name must be a string of at most 200 characters.")
    if tag_cell is not None:
        if isinstance(tag_cell, bool) or not isinstance(tag_cell, int):
            raise UsageError("tag_cell must be the index of a code cell (an integer).")
        if len(notebooks) != 1:
            raise UsageError(
                "tag_cell goes with exactly one notebook.",
                hint="tag the parameters cell of each notebook first, then export them together",
            )
    unknown = sorted(set(body) - {"notebooks", "output", "name", "tag_cell"})
    if unknown:
        raise UsageError(f"unknown fields: {', '.join(unknown)}")
    return notebooks, body.get("output"), name or None, tag_cell


class ParameterError(UsageError):
    """A plan error about parameters, with each problem in ``errors`` (REST ``errors: [str]``)."""

    def __init__(self, cause: MlopsError, errors: list[str]) -> None:
        super().__init__(cause.message, hint=cause.hint, notebook=cause.notebook)
        self.cause = cause
        self.errors = errors
        self.http_status = cause.http_status

    def to_dict(self) -> dict[str, object]:
        out = self.cause.to_dict()
        out["errors"] = list(self.errors)
        return out


def with_errors(exc: MlopsError) -> MlopsError:
    """``exc`` with its list of problems, when it is about parameters."""
    errors = getattr(exc, "errors", None)
    prefix = "invalid parameters: "
    if not (isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
        if not exc.message.startswith(prefix):
            return exc
        errors = exc.message[len(prefix) :].split("; ")
    return ParameterError(exc, errors)


@dataclass(frozen=True)
class LaunchRequest:
    """The body of ``POST pipelines/runs``, checked for shape (values are checked by the plan)."""

    path: str
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    workers: int = 1
    executor: str = "local"
    timeout: float | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LaunchRequest:
        """The request, or :class:`UsageError` saying which field is wrong."""
        unknown = sorted(
            set(body) - {"path", "parameters", "grid", "workers", "executor", "timeout"}
        )
        if unknown:
            raise UsageError(f"unknown fields: {', '.join(unknown)}")
        path, parameters, grid = body.get("path"), body.get("parameters"), body.get("grid")
        workers, executor, timeout = (
            body.get("workers", 1),
            body.get("executor"),
            body.get("timeout"),
        )
        if not isinstance(path, str) or not path:
            raise UsageError(
                "path (a pipeline folder or a .ipynb, relative to the root) is required."
            )
        if not isinstance(parameters, dict | None):
            raise UsageError('parameters must be an object: {"step.param": value}.')
        if not isinstance(grid, dict | None) or any(
            not isinstance(v, list) or not v for v in (grid or {}).values()
        ):
            raise UsageError('grid must be an object of non-empty lists: {"step.param": [1, 2]}.')
        if (
            isinstance(workers, bool)
            or not isinstance(workers, int)
            or not 1 <= workers <= MAX_WORKERS
        ):
            raise UsageError(f"workers must be an integer from 1 to {MAX_WORKERS}.")
        if executor not in (None, "local", "dask"):
            raise UsageError("executor must be 'local' or 'dask'.")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
        ):
            raise UsageError("timeout must be a positive number of seconds, or null.")
        return cls(
            path=path,
            parameters=dict(parameters or {}),
            grid=dict(grid or {}),
            workers=workers,
            executor=executor or "local",
            timeout=float(timeout) if timeout is not None else None,
        )
