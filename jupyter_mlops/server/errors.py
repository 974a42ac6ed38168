"""The one place where exceptions become HTTP responses.

* :class:`~jupyter_mlops.exceptions.MlopsError` -> ``exc.http_status`` and
  ``exc.to_dict()`` (``{"error", "message", "hint", ...}``).
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

from jupyter_mlops.exceptions import MlopsError

__all__ = ["INTERNAL_ERROR_MESSAGE", "error_response", "log_exception"]

INTERNAL_ERROR_MESSAGE = (
    "Unexpected error in the jupyter-mlops server extension; the details are in the "
    "Jupyter server log."
)

ExcInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]


def error_response(status_code: int, exc: BaseException | None) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for ``exc`` (``status_code`` when there is no exception)."""
    if isinstance(exc, MlopsError):
        return exc.http_status, exc.to_dict()
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
        level = logging.ERROR if exc.http_status >= 500 else logging.INFO
        log.log(level, "%s: %s: %s", summary, type(exc).__name__, exc)
        return True
    return False
