"""Validation of metric, param and tag input, with MLflow's rules and our error messages.

The rules mirror ``mlflow.utils.validation`` (which is not imported: this runs
on the ``log_metric`` hot path and ``import mlflow`` takes over a second):

* keys: at most 250 characters of letters, digits, ``_ - . / :`` and space,
  forming a normalized relative path (no ``//``, no ``.``/``..`` parts, no
  leading or trailing ``/``). The whole key must match: a newline is refused.
* metric values: real numbers (``int``, ``float``, numpy scalars, ...), NaN and
  +/-inf included as MLflow allows; ``bool`` is refused, as MLflow does,
  because ``True`` is almost always a mistake for a metric.
* steps: integers (not bool) within 64 bits; timestamps: non-negative
  integers in milliseconds.
* params: ``str(value)``, at most 6000 characters; tags: at most 8000.
"""

from __future__ import annotations

import numbers
import posixpath
import re

from jupyter_mlops.exceptions import InvalidValueError

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_LENGTH",
    "MAX_TAG_LENGTH",
    "check_key",
    "check_step",
    "check_timestamp",
    "metric_value",
    "param_value",
    "tag_value",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_KEY_RE = re.compile(r"[/\w.\- :]*")


def check_key(key: object, kind: str = "metric") -> str:
    """``key`` if it is a valid MLflow ``kind`` key, else :class:`InvalidValueError`."""
    if not isinstance(key, str):
        raise InvalidValueError(
            f"{kind.capitalize()} key must be a string, got {type(key).__name__} {key!r}."
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidValueError(
            f"{kind.capitalize()} key {key[:40]!r}... is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}."
        )
    if not _KEY_RE.fullmatch(key):
        raise InvalidValueError(
            f"Invalid {kind} key {key!r}: keys may only contain letters, digits, "
            "underscores (_), dashes (-), periods (.), spaces, colons (:) and slashes (/)."
        )
    norm = posixpath.normpath(key)
    if norm != key or norm == "." or norm.startswith(("..", "/")):
        raise InvalidValueError(
            f"Invalid {kind} key {key!r}: it must be a plain relative path "
            "(not empty, no leading, trailing or double slashes, no '.' or '..' parts)."
        )
    return key


def metric_value(key: str, value: object) -> float:
    """``value`` as a float if it is a real number (bool refused), else :class:`InvalidValueError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = " (use .item() for a tensor or array element)" if hasattr(value, "item") else ""
        raise InvalidValueError(
            f"Metric {key!r} must be a real number, got {type(value).__name__} {value!r:.80}{hint}."
        )
    try:
        return float(value)
    except (OverflowError, TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"Metric {key!r} value {value!r:.80} is not a 64-bit float: {exc}."
        ) from exc


def check_step(key: str, step: object) -> int:
    """``step`` as an int if it is an integer within 64 bits, else :class:`InvalidValueError`."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidValueError(
            f"Step of metric {key!r} must be an integer, got {type(step).__name__} {step!r:.80}."
        )
    value = int(step)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidValueError(f"Step {value} of metric {key!r} does not fit in 64 bits.")
    return value


def check_timestamp(key: str, timestamp: object) -> int:
    """``timestamp`` (milliseconds since the epoch) as an int, else :class:`InvalidValueError`."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral):
        raise InvalidValueError(
            f"Timestamp of metric {key!r} must be an integer number of milliseconds, "
            f"got {type(timestamp).__name__} {timestamp!r:.80}."
        )
    value = int(timestamp)
    if not 0 <= value <= _INT64_MAX:
        raise InvalidValueError(f"Timestamp {value} of metric {key!r} must be >= 0 (ms).")
    return value


def _limited_text(what: str, key: str, value: object, limit: int, advice: str = "") -> str:
    text = str(value)
    if len(text) > limit:
        raise InvalidValueError(
            f"{what} {key!r} is {len(text)} characters long as text; MLflow's limit is "
            f"{limit}.{advice}"
        )
    return text


def param_value(key: str, value: object) -> str:
    """``str(value)`` if at most 6000 characters, else :class:`InvalidValueError`."""
    advice = " Log a shorter summary, or save the value as an artifact."
    return _limited_text("Param", key, value, MAX_PARAM_LENGTH, advice)


def tag_value(key: str, value: object) -> str:
    """``str(value)`` if at most 8000 characters, else :class:`InvalidValueError`."""
    return _limited_text("Tag", key, value, MAX_TAG_LENGTH)
