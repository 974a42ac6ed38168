"""The one place where exceptions become HTTP responses.

* :class:`~jupyter_mlops.exceptions.MlopsError` -> the status of its class in
  :data:`HTTP_STATUS` (:func:`http_status`) and ``exc.to_dict()``
  (``{"error", "message", "hint", ...}``).
* ``tornado.web.HTTPError`` (403 from the auth decorators, 405, ...) -> its status,
  ``{"error": "HTTPError", "message": ...}``.
* Anything else -> 500 with a generic message. The traceback goes to the server
  log only, never into the response.
"""

from __future__ import annotations

import logging
from http.client import responses
from types import TracebackType
from typing import Any

from tornado.web import HTTPError

from jupyter_mlops.exceptions import (
    ConfigError,
    MlopsError,
    NotFoundError,
    PathError,
    RunStateError,
    StoreError,
    UsageError,
)

__all__ = [
    "HTTP_STATUS",
    "INTERNAL_ERROR_MESSAGE",
    "error_response",
    "http_status",
    "log_exception",
]

HTTP_STATUS: tuple[tuple[type[MlopsError], int], ...] = (
    (ConfigError, 400),
    (UsageError, 400),  # InvalidValueError, ParameterError
    (NotFoundError, 404),
    (PathError, 403),
    (RunStateError, 409),
    (StoreError, 502),
)
"""Exception class -> HTTP status, most specific first; any other ``MlopsError`` is a 500."""

INTERNAL_ERROR_MESSAGE = (
    "Unexpected error in the jupyter-mlops server extension; the details are in the "
    "Jupyter server log."
)

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


def http_status(exc: MlopsError) -> int:
    """The HTTP status of ``exc``: the first class of :data:`HTTP_STATUS` it is an instance of."""
    return next((status for cls, status in HTTP_STATUS if isinstance(exc, cls)), 500)


def error_response(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for ``exc`` (``status_code`` when there is no exception)."""
    if isinstance(exc, MlopsError):
        return http_status(exc), exc.to_dict()
    if isinstance(exc, HTTPError):
        message = exc.log_message or exc.reason or responses.get(exc.status_code, "Error")
        if exc.log_message and exc.args:
            try:
                message = exc.log_message % exc.args
            except (TypeError, ValueError):
                message = exc.log_message
        return exc.status_code, {"error": "HTTPError", "message": message}
    if exc is not None or status_code >= 500:
        return 500, {"error": "InternalError", "message": INTERNAL_ERROR_MESSAGE}
    return status_code, {
        "error": "HTTPError",
        "message": responses.get(status_code, "Unknown HTTP error"),
    }


def log_exception(
    log: logging.Logger | logging.LoggerAdapter[Any],
    summary: str,
    exc_info: ExcInfo,
) -> bool:
    """Log an expected error briefly; return ``False`` for others (the caller logs those in full)."""
    exc = exc_info[1]
    if isinstance(exc, MlopsError):
        level = logging.ERROR if http_status(exc) >= 500 else logging.INFO
        log.log(level, "%s: %s: %s", summary, type(exc).__name__, exc)
        return True
    return False
