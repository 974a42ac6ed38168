"""Exceptions raised by jupyter-mlops.

Every error a user can see derives from :class:`MlopsError` and says what to
do next. Adapters map them in one place each: HTTP status codes in
``jupyter_mlops.server.errors`` and friendly magic output in
``jupyter_mlops.kernel.magics``.

::

    MlopsError
    ├── ConfigError              bad configuration value (400 / usage error)
    ├── UsageError               bad user input: unknown subcommand, malformed value
    │   ├── InvalidValueError    a value that does not parse (``acc=abc``)
    │   └── ParameterError       a pipeline plan's parameter problems, one per ``errors`` item
    ├── NotFoundError            unknown run, experiment or metric (404)
    ├── PathError                path outside the server root, or unreadable (403/400)
    ├── RunStateError            no active run, run already active (409)
    └── StoreError               the tracking store failed or is unreachable (502)

The HTTP status of each class is in ``jupyter_mlops.server.errors.HTTP_STATUS``,
not here: the core knows nothing of HTTP.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InvalidValueError",
    "MlopsError",
    "NotFoundError",
    "ParameterError",
    "PathError",
    "RunStateError",
    "StoreError",
    "UsageError",
]


class MlopsError(Exception):
    """Base class for every error jupyter-mlops raises on purpose.

    ``hint`` says what the user can do about it; ``run_id``, ``notebook`` and
    ``cell_index`` carry context where known; ``errors`` lists each problem when
    one error reports several (the message joins them).
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        run_id: str | None = None,
        notebook: str | None = None,
        cell_index: int | None = None,
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.run_id = run_id
        self.notebook = notebook
        self.cell_index = cell_index
        self.errors = errors

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form used by the REST API."""
        out: dict[str, object] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        for name in ("run_id", "notebook", "cell_index"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.errors is not None:
            out["errors"] = list(self.errors)
        return out


class ConfigError(MlopsError):
    """A configuration value is invalid."""


class UsageError(MlopsError):
    """The user asked for something that does not exist or is malformed."""


class InvalidValueError(UsageError):
    """A value could not be parsed (for example ``%mlops log acc=abc``)."""


class ParameterError(UsageError):
    """The parameters of a pipeline run do not fit: each problem is an item of ``errors``.

    Raised by the launch planner around the error the plan raised (``cause``, a
    :class:`UsageError` or :class:`InvalidValueError`); its JSON form is the cause's,
    so the REST ``error`` name stays the cause's class.
    """

    def __init__(self, cause: MlopsError) -> None:
        super().__init__(
            cause.message,
            hint=cause.hint,
            notebook=cause.notebook,
            errors=list(cause.errors or [cause.message]),
        )
        self.cause = cause

    def to_dict(self) -> dict[str, object]:
        return {**self.cause.to_dict(), "errors": list(self.errors or [])}


class NotFoundError(MlopsError):
    """A run, experiment or metric does not exist."""


class PathError(MlopsError):
    """A path is outside the server root or cannot be used."""


class RunStateError(MlopsError):
    """The operation does not fit the current run state (no active run, ...)."""


class StoreError(MlopsError):
    """The MLflow tracking store failed or cannot be reached."""
