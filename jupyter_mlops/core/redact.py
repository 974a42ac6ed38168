"""The one credential and secret scrubber: URLs, error text, environment values.

Everything shown, logged, tagged or stored goes through here; no other module
keeps a credential regular expression of its own.

* :func:`strip_url_credentials` (alias :func:`redact_uri`) runs on every URL that
  is recorded (tracking URIs, git remotes, ``direct_url.json``, conda channels):
  it drops the user-info part (``https://user:tok@host`` -> ``https://host``;
  ``git+ssh://user:tok@host/r.git`` -> ``git+ssh://host/r.git``; an ssh user
  without a password, ``ssh://git@host``, is kept because it names an account
  type, not a secret), the password of an scp-style remote
  (``user:tok@host:repo.git`` -> ``host:repo.git``; ``git@host:repo.git`` stays),
  anaconda.org ``/t/<token>/`` path segments, and query or fragment parameters
  whose names say they are secrets (``?token=``, ``access_token``,
  ``X-Amz-Signature``, ...).
* :func:`scrub_credentials` removes the same user-info parts from URLs inside free
  text (an error message); :func:`scrub_error` also keeps the first line only and
  caps its length, for warnings and stored error tags.
* :func:`scrub` is the guard renderers run on everything they produce: any value
  of a current environment variable whose *name* looks secret (``*TOKEN*``,
  ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ``*CREDENTIAL*``, ``*AUTH*``,
  ``AWS_SECRET_ACCESS_KEY``, ``JUPYTER_TOKEN``, ...), and any password embedded in
  a URL-valued environment variable (``PIP_INDEX_URL``), is replaced by
  ``<redacted>``.

The guard **redacts rather than raises**: a snapshot is taken when a run starts,
and a run must not fail to start because some unrelated variable happens to
equal a substring of a path. Values shorter than :data:`MIN_SECRET_LENGTH`
characters, and ``true``/``false``/numbers, are not treated as secrets
(replacing ``1`` everywhere would wreck the file and protect nothing).
:func:`find_leaks` names the variables whose values occur in a text, for checks
and tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SSH_SCHEMES",
    "find_leaks",
    "is_secret_name",
    "redact_uri",
    "scrub",
    "scrub_credentials",
    "scrub_error",
    "secret_values",
    "strip_url_credentials",
]

SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
"""Schemes whose password-less user (``git@``) names an account type, not a secret."""
REDACTED = "<redacted>"
MIN_SECRET_LENGTH = 6

_SENSITIVE_PARAM = (
    r"(?i)^(x-amz-(signature|credential|security-token)|.*(token|secret|password|passwd|pwd"
    r"|api[-_]?key|apikey|access[-_]?key|auth|credential|signature)|key|sig|code)$"
)
_ANACONDA_ORG_AUTH_SEGMENT = r"/t/[^/]+(?=/|$)"
# user-info of a URL (``scheme://user:tok@``, ``scheme://tok@``): the scheme is kept
_URL_USERINFO_RE = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
# user:password of an scp-style git remote (``user:tok@host:repo.git``); ``git@host:`` has none
_SCP_PASSWORD_RE = re.compile(r"(?<![\w.+:/@-])[\w.+-]+:[^\s@/:]+@(?=[\w.-]+:)")
_SECRET_NAME_RE = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS(_|$)|KEY|CREDENTIAL|AUTH|PRIVATE"
    r"|COOKIE|SIGNATURE|(^|_)DSN($|_)",
    re.IGNORECASE,
)
_NOT_SECRET_VALUES = frozenset({"true", "false", "none", "null", "unset"})


# -- URLs ---------------------------------------------------------------------------------


def strip_url_credentials(url: str) -> str:
    """``url`` with no user-info secret, no ``/t/<token>`` segment and no secret parameters.

    An scp-style remote (``user:tok@host:repo.git``) loses its user and password;
    other strings without ``://`` (``git@host:org/repo.git``, plain paths) come back
    unchanged: they carry no password.
    """
    if "://" not in url:
        return _SCP_PASSWORD_RE.sub("", url, count=1) if "@" in url else url
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    path = re.sub(_ANACONDA_ORG_AUTH_SEGMENT, "", parts.path)
    query, fragment = _strip_params(parts.query), _strip_params(parts.fragment)
    secret_user = parts.username is not None and not (
        parts.scheme in SSH_SCHEMES and parts.password is None
    )
    unchanged = (path, query, fragment) == (parts.path, parts.query, parts.fragment)
    if not secret_user and parts.password is None and unchanged:
        return url  # nothing to remove: unchanged (urlunsplit would rewrite sqlite:////abs)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    if parts.scheme in SSH_SCHEMES and parts.username and parts.password is None:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, path, query, fragment))


redact_uri = strip_url_credentials
"""A tracking URI as it may be shown, logged or stored (:func:`strip_url_credentials`)."""


def _strip_params(text: str) -> str:
    """``a=1&token=x`` -> ``a=1``; text that is not ``key=value`` pairs is kept as is."""
    if not text or "=" not in text:
        return text
    from urllib.parse import parse_qsl, quote

    pairs = parse_qsl(text, keep_blank_values=True)
    if not pairs:
        return text
    kept = [(k, v) for k, v in pairs if not re.match(_SENSITIVE_PARAM, k)]
    if len(kept) == len(pairs):
        return text
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='/:@.,-_~')}" for k, v in kept)


# -- error text ---------------------------------------------------------------------------


def scrub_credentials(message: str) -> str:
    """``message`` without the credentials of any URL or scp-style remote in it."""
    return _SCP_PASSWORD_RE.sub("", _URL_USERINFO_RE.sub(r"\1", message))


def scrub_error(message: str, limit: int = 300) -> str:
    """First line of an error message, without URL credentials, at most ``limit`` characters."""
    message = scrub_credentials(message.strip().split("\n", 1)[0])
    return message if len(message) <= limit else message[:limit] + "..."


# -- environment values -------------------------------------------------------------------


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
    if "@" not in value:
        return
    for match in _SCP_PASSWORD_RE.finditer(value):
        yield match.group(0).split(":", 1)[1][:-1]
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
