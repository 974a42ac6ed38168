"""Moved: the scrubber is :mod:`jupyter_mlops.core.redact` (kept importable from here)."""

from __future__ import annotations

from jupyter_mlops.core.redact import (
    MIN_SECRET_LENGTH,
    REDACTED,
    find_leaks,
    is_secret_name,
    scrub,
    secret_values,
    strip_url_credentials,
)

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "find_leaks",
    "is_secret_name",
    "scrub",
    "secret_values",
    "strip_url_credentials",
]
