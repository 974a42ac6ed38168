"""Credentials out of URLs: the one place that strips them, for git remotes, tracking
URIs, package origins and anything shown, logged or stored."""

from __future__ import annotations

import re

__all__ = ["SSH_SCHEMES", "strip_url_credentials"]

SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})
"""Schemes whose password-less user (``git@``) names an account type, not a secret."""

_SENSITIVE_PARAM = (
    r"(?i)^(x-amz-(signature|credential|security-token)|.*(token|secret|password|passwd|pwd"
    r"|api[-_]?key|apikey|access[-_]?key|auth|credential|signature)|key|sig|code)$"
)
_ANACONDA_ORG_AUTH_SEGMENT = r"/t/[^/]+(?=/|$)"


def strip_url_credentials(url: str) -> str:
    """``url`` with no user-info secret, no ``/t/<token>`` segment and no secret parameters.

    Strings without ``://`` (scp-like ``git@host:org/repo.git``, plain paths)
    come back unchanged: they cannot carry a password.
    """
    if "://" not in url:
        return url
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
    if (
        not secret_user
        and parts.password is None
        and (path, query, fragment)
        == (
            parts.path,
            parts.query,
            parts.fragment,
        )
    ):
        return url  # nothing to remove: unchanged (urlunsplit would rewrite sqlite:////abs)
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    if parts.scheme in SSH_SCHEMES and parts.username and parts.password is None:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, path, query, fragment))


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
