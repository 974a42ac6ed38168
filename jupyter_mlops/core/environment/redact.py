"""Keep secrets out of snapshots: URL credentials, token query parameters, env values.

Two layers:

* :func:`strip_url_credentials` runs on every URL that enters a snapshot
  (``direct_url.json``, git remotes, conda channel URLs). It drops the
  user-info part (``https://user:tok@host`` -> ``https://host``; an ssh user
  without a password, ``ssh://git@host``, is kept because it names an account
  type, not a secret), anaconda.org ``/t/<token>/`` path segments, and query or
  fragment parameters whose names say they are secrets (``?token=``,
  ``access_token``, ``X-Amz-Signature``, ...).
* :func:`scrub` is the guard the renderers run on everything they produce: any
  value of a current environment variable whose *name* looks secret
  (``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``*CREDENTIAL*``,
  ``*AUTH*``, ``AWS_SECRET_ACCESS_KEY``, ``JUPYTER_TOKEN``, ...), and any
  password embedded in a URL-valued environment variable (``PIP_INDEX_URL``),
  is replaced by ``<redacted>``.

The guard **redacts rather than raises**: a snapshot is taken when a run
starts, and a run must not fail to start because some unrelated variable
happens to equal a substring of a path. Values shorter than
:data:`MIN_SECRET_LENGTH` characters, and ``true``/``false``/numbers, are not
treated as secrets (replacing ``1`` everywhere would wreck the file and
protect nothing). :func:`find_leaks` names the variables whose values occur in
a text, for checks and tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from jupyter_mlops.core.redact import SSH_SCHEMES, strip_url_credentials

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "find_leaks",
    "is_secret_name",
    "scrub",
    "secret_values",
    "strip_url_credentials",
]

REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 6

_SECRET_NAME_RE = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS(_|$)|KEY|CREDENTIAL|AUTH|PRIVATE"
    r"|COOKIE|SIGNATURE|(^|_)DSN($|_)",
    re.IGNORECASE,
)
_NOT_SECRET_VALUES = frozenset({"true", "false", "none", "null", "unset"})


def is_secret_name(name: str) -> bool:
    """True when an environment variable's name says its value is a secret."""
    return bool(_SECRET_NAME_RE.search(name))


def _plausible_secret(value: str) -> bool:
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or value.lower() in _NOT_SECRET_VALUES:
        return False
    return not value.replace(".", "").replace("-", "").isdigit()


def _url_secrets(value: str) -> Iterable[str]:
    """Passwords (or bare user tokens) inside URL-looking text, e.g. ``PIP_INDEX_URL``."""
    if "://" not in value:
        return
    from urllib.parse import urlsplit

    for match in re.finditer(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+", value):
        try:
            parts = urlsplit(match.group(0))
            user, password = parts.username, parts.password
        except ValueError:
            continue
        if password:
            yield password
        elif user and parts.scheme not in SSH_SCHEMES:
            yield user


def secret_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{value: variable name}`` for every secret-looking value in ``environ`` (default: os.environ)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    for name, value in env.items():
        if is_secret_name(name) and _plausible_secret(value):
            found.setdefault(value.strip(), name)
        for secret in _url_secrets(value):
            if _plausible_secret(secret):
                found.setdefault(secret, name)
    return found


def _forms(secret: str) -> set[str]:
    """The ways ``secret`` can appear in rendered text: raw, JSON-escaped, percent-encoded."""
    import json
    from urllib.parse import quote

    return {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}


def scrub(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value of ``environ`` (default: os.environ) replaced by ``<redacted>``.

    Longer secrets are replaced first so that one secret containing another is
    removed whole.
    """
    secrets = secret_values(environ)
    if not secrets:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        for form in sorted(_forms(secret), key=len, reverse=True):
            if form and form in text:
                text = text.replace(form, REDACTED)
    return text


def find_leaks(text: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the variables whose secret values occur in ``text`` (sorted; empty when clean)."""
    secrets = secret_values(environ)
    return sorted(
        {name for secret, name in secrets.items() if any(f in text for f in _forms(secret))}
    )
