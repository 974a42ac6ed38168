"""The runs search box: MLflow's filter syntax or a shorthand, translated to an MLflow filter.

Two syntaxes, told apart by how the text starts:

* **MLflow's filter language** when the text starts with an entity prefix
  (``params.``, ``metrics.``, ``tags.``, ``attributes.`` and their aliases), e.g.
  ``params.lr = '0.3' and metrics.accuracy > 0.9``. It is checked by MLflow's own
  parser and passed on unchanged.
* **Shorthand** otherwise: words separated by spaces (``and`` between them is
  allowed), e.g. ``lr=0.3 accuracy>0.9 epic=MLOPS-12 resnet``.

  - a bare word (or ``"quoted words"``) matches the run name, case-insensitively;
  - ``key<op>value`` with ``op`` one of ``= == != > >= < <= ~`` (``~``: contains);
    the key names a param, a metric or a tag, decided with the keys the experiment
    is known to have (:class:`KnownKeys`): a metric when the value is a number and
    the key is a metric (or only a metric fits: ``<``, ``>``), else a param, else a
    tag. ``params.x``/``metrics.x``/``tags.x`` name the kind explicitly;
  - ``status=failed`` and ``name=...`` (``run_name``) are run attributes.

:func:`translate_search` is pure: no MLflow store, only MLflow's parser to check
the result. A text that cannot be translated is a :class:`UsageError` whose
``hint`` shows both syntaxes.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from jupyter_mlops.core.models import RUN_STATUSES
from jupyter_mlops.core.tracking.search_input import FILTER_MAX_LENGTH, like_literal, mlflow_errors
from jupyter_mlops.exceptions import UsageError

__all__ = [
    "SEARCH_HINT",
    "KnownKeys",
    "is_mlflow_syntax",
    "needs_known_keys",
    "translate_search",
]

SEARCH_HINT = (
    "Type MLflow's filter syntax, e.g. params.lr = '0.3' and metrics.accuracy > 0.9, "
    "or the shorthand, e.g. lr=0.3 accuracy>0.9 resnet (a bare word matches the run name)."
)

_ENTITY_RE = re.compile(
    r"\s*(?:params?|metrics?|tags?|attributes?|attr|run|datasets?)\.", re.IGNORECASE
)
_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<key>`[^`]+`|[A-Za-z_][\w.\-/:]*)
        \s*(?P<op>>=|<=|!=|==|=|>|<|~)\s*
        (?P<value>"[^"]*"|'[^']*'|[^\s"']+)
      | (?P<word>"[^"]*"|'[^']*'|[^\s"']+)
    )""",
    re.VERBOSE,
)
_NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_KINDS = {"param": "params", "params": "params", "metric": "metrics", "metrics": "metrics"}
_KINDS.update({"tag": "tags", "tags": "tags"})
_NAME_KEYS = frozenset({"name", "run_name", "run"})
_STRING_OPS = {"=": "=", "==": "=", "!=": "!="}
_NUMBER_OPS = {"=": "=", "==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


@dataclass(frozen=True)
class KnownKeys:
    """The param, metric and tag keys the searched experiments are known to have."""

    params: frozenset[str] = field(default_factory=frozenset)
    metrics: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, params: Iterable[str] = (), metrics: Iterable[str] = (), tags: Iterable[str] = ()
    ) -> KnownKeys:
        return cls(frozenset(params), frozenset(metrics), frozenset(tags))

    def all(self) -> set[str]:
        return set(self.params) | set(self.metrics) | set(self.tags)


def is_mlflow_syntax(text: str) -> bool:
    """Whether ``text`` is MLflow's filter language (starts with ``params.``, ``metrics.``, ...)."""
    return _ENTITY_RE.match(text) is not None


def _tokens(text: str) -> list[re.Match[str]]:
    out: list[re.Match[str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise UsageError(
                f"Cannot read the search from {text[pos:][:40]!r} on (unclosed quote?).",
                hint=SEARCH_HINT,
            )
        pos = match.end()
        if match["word"] is None or match["word"].lower() != "and":
            out.append(match)
    return out


def needs_known_keys(text: str) -> bool:
    """Whether translating ``text`` needs :class:`KnownKeys` (a shorthand ``key=value`` without a kind)."""
    if not text.strip() or is_mlflow_syntax(text):
        return False
    try:
        tokens = _tokens(text)
    except UsageError:
        return False
    return any(
        t["key"] is not None and _split_kind(t["key"])[0] is None and not _is_attribute(t["key"])
        for t in tokens
    )


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        return text[1:-1]
    return text


def _split_kind(key: str) -> tuple[str | None, str]:
    """``("params", "lr")`` for ``params.lr``; ``(None, key)`` without a kind prefix."""
    head, dot, rest = key.partition(".")
    kind = _KINDS.get(head.lower()) if dot else None
    return (kind, _unquote(rest)) if kind and rest else (None, _unquote(key))


def _is_attribute(key: str) -> bool:
    return key.lower() in _NAME_KEYS or key.lower() == "status"


def _number(value: str) -> float | None:
    if not _NUMBER_RE.fullmatch(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _string_literal(value: str, key: str) -> str:
    """``value`` quoted for MLflow's filter language (which has no escapes)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise UsageError(
        f"The value for {key!r} holds both kinds of quote; MLflow's filter cannot express it.",
        hint="Search for part of the value with ~ (contains), e.g. key~part.",
    )


def _column(kind: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][\w.]*", key):
        return f"{kind}.{key}"
    if "`" in key:
        raise UsageError(f"A key cannot contain a backtick: {key[:80]!r}.", hint=SEARCH_HINT)
    return f"{kind}.`{key}`"


def _resolve(key: str, op: str, number: float | None, known: KnownKeys) -> str:
    """The kind (``params``/``metrics``/``tags``) of a shorthand key without a prefix."""
    if key in known.metrics and number is not None:
        return "metrics"
    if key in known.params:
        return "params"
    if key in known.tags:
        return "tags"
    if key in known.metrics or (op in {">", ">=", "<", "<="} and number is not None):
        return "metrics"  # a metric with a non-number value fails later, with its own message
    close = difflib.get_close_matches(key, sorted(known.all()), n=3)
    raise UsageError(
        f"No param, metric or tag called {key[:80]!r} in these runs.",
        hint=(f"Did you mean {', '.join(close)}? " if close else "")
        + f"Name the kind to search anyway: params.{key}=..., metrics.{key}>..., tags.{key}=...",
    )


def _attribute_clause(key: str, op: str, value: str) -> str:
    if key.lower() == "status":
        status = value.strip().upper()
        if status not in RUN_STATUSES or op not in _STRING_OPS:
            raise UsageError(
                f"Invalid status search {key}{op}{value[:40]}.",
                hint=f"Use status=<one of {', '.join(s.lower() for s in RUN_STATUSES)}>.",
            )
        return f"attributes.status {_STRING_OPS[op]} '{status}'"
    return _text_clause("attributes.run_name", op, value, key, "A run name")


def _text_clause(column: str, op: str, value: str, key: str, what: str) -> str:
    """``column`` compared with a text ``value``: ``= !=``, or ``~`` (contains)."""
    if op == "~":
        return f"{column} ILIKE '%{like_literal(value)}%'"
    if op not in _STRING_OPS:
        raise UsageError(
            f"{what} holds text: it compares with = != or ~ (contains), not {op}.",
            hint=f"e.g. {key}={value[:40]} or {key}~{value[:40]}",
        )
    return f"{column} {_STRING_OPS[op]} {_string_literal(value, key)}"


def _pair_clause(raw_key: str, op: str, raw_value: str, known: KnownKeys) -> str:
    value = _unquote(raw_value)
    kind, key = _split_kind(raw_key)
    if kind is None and _is_attribute(key):
        return _attribute_clause(key, op, value)
    number = None if raw_value[:1] in "\"'" else _number(value)
    if kind is None:
        kind = _resolve(key, op, number, known)
    column = _column(kind, key)
    if kind == "metrics":
        if number is None or op not in _NUMBER_OPS:
            raise UsageError(
                f"Metric {key!r} compares with a number (= != > >= < <=), got {op}{value[:40]!r}.",
                hint=f"e.g. {key}>0.9",
            )
        return f"{column} {_NUMBER_OPS[op]} {number!r}"
    noun = "Param" if kind == "params" else "Tag"
    return _text_clause(column, op, value, key, f"{noun} {key!r}")


def _check(filter_string: str, what: str) -> str:
    from mlflow.utils.search_utils import SearchUtils

    try:
        with mlflow_errors():
            SearchUtils.parse_search_filter(filter_string)  # type: ignore[no-untyped-call]
    except UsageError as exc:
        raise UsageError(f"{what} does not parse: {exc.message}", hint=SEARCH_HINT) from exc
    return filter_string


def translate_search(text: str | None, known: KnownKeys | None = None) -> str:
    """The MLflow filter string for what the user typed in the search box ("" for nothing).

    ``known`` decides the kind of shorthand keys without a prefix; a
    :class:`UsageError` (with :data:`SEARCH_HINT`) says why a text cannot be used.
    """
    text = (text or "").strip()
    if not text:
        return ""
    if len(text) > FILTER_MAX_LENGTH:
        raise UsageError(
            f"The search is longer than {FILTER_MAX_LENGTH} characters.",
            hint="Shorten it: a few key=value pairs usually find the runs.",
        )
    if is_mlflow_syntax(text):
        return _check(text, "The filter")
    clauses: list[str] = []
    for token in _tokens(text):
        if token["key"] is not None:
            clauses.append(
                _pair_clause(token["key"], token["op"], token["value"], known or KnownKeys())
            )
        else:
            word = _unquote(token["word"])
            if word:
                clauses.append(f"attributes.run_name ILIKE '%{like_literal(word)}%'")
    return _check(" and ".join(clauses), "The search")
