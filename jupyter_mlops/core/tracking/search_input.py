"""What a caller may ask the read side, checked: ids, filters, order, page size.

User text never reaches MLflow's filter language raw: ``status`` is checked
against the run statuses, ``search`` becomes a quoted ``ILIKE`` pattern (see
:func:`build_filter`), ``order_by`` must match an allow-list pattern and is
rebuilt from its parts, and a raw ``filter`` is parsed on its own first.
:func:`mlflow_errors` turns what MLflow raises into the ``MlopsError`` tree
(messages without URL credentials).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from jupyter_mlops.core.models import RUN_STATUSES
from jupyter_mlops.core.redact import scrub_credentials
from jupyter_mlops.exceptions import MlopsError, NotFoundError, StoreError, UsageError

__all__ = [
    "DEFAULT_ORDER_BY",
    "FILTER_MAX_LENGTH",
    "MAX_RESULTS_LIMIT",
    "RUN_STATUSES",
    "SEARCH_MAX_LENGTH",
    "STORE_HINT",
    "build_filter",
    "check_max_results",
    "like_literal",
    "mlflow_errors",
    "parse_order_by",
    "validate_experiment_ids",
    "validate_run_id",
]

DEFAULT_ORDER_BY = "start_time DESC"
MAX_RESULTS_LIMIT = 1000
SEARCH_MAX_LENGTH = 200
FILTER_MAX_LENGTH = 1000

_ID_RE = re.compile(r"[0-9a-zA-Z_-]{1,64}")
_ORDER_BY_RE = re.compile(
    r"""\s*(?:
        (?P<attr>start_time|end_time|run_name|status)
      | (?P<kind>metrics|params|tags)\.(?:`(?P<quoted>[\w.:/ -]+)`|(?P<plain>[\w.:/-]+))
    )(?:\s+(?P<direction>asc|desc))?\s*""",
    re.IGNORECASE | re.VERBOSE,
)
# Characters that cannot appear inside a quoted MLflow filter literal (it has no
# escape syntax) or that are LIKE wildcards / escapes on some databases.
_UNSAFE_LITERAL_RE = re.compile(r"""['"\\%\x00-\x1f\x7f]""")
STORE_HINT = (
    "Check that the tracking store is reachable and that MLFLOW_TRACKING_URI "
    "(or c.MlopsConfig.tracking_uri) points at it."
)


@contextmanager
def mlflow_errors(*, run_id: str | None = None) -> Iterator[None]:
    """Translate what an MLflow call raises into the ``MlopsError`` tree."""
    try:
        yield
    except MlopsError:
        raise
    except Exception as exc:
        from mlflow.exceptions import MlflowException

        if not isinstance(exc, MlflowException):
            # sqlalchemy, requests, OSError ... from inside the store
            raise StoreError(
                f"The tracking store failed: {scrub_credentials(str(exc)) or type(exc).__name__}",
                hint=STORE_HINT,
                run_id=run_id,
            ) from exc
        message = scrub_credentials(exc.message)
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFoundError(message, run_id=run_id) from exc
        if exc.error_code in {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"}:
            raise UsageError(message, run_id=run_id) from exc
        raise StoreError(message, hint=STORE_HINT, run_id=run_id) from exc


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it looks like a run id (``^[0-9a-zA-Z_-]{1,64}$``), else ``UsageError``."""
    if not isinstance(run_id, str) or not _ID_RE.fullmatch(run_id):
        raise UsageError(
            f"Invalid run id {str(run_id)[:80]!r}.",
            hint="A run id is 1 to 64 letters, digits, '-' or '_'.",
        )
    return run_id


def validate_experiment_ids(experiment_ids: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in experiment_ids:
        value = str(raw).strip()
        if not _ID_RE.fullmatch(value):
            raise UsageError(
                f"Invalid experiment id {value[:80]!r}.",
                hint="An experiment id is 1 to 64 letters, digits, '-' or '_'.",
            )
        if value not in out:
            out.append(value)
    return out


def like_literal(text: str) -> str:
    """``text`` as the inside of a single-quoted ILIKE pattern.

    MLflow's filter language has no escape for quotes inside a literal, and
    ``%``/``\\`` are wildcards or escapes in LIKE on some databases, so each of
    these (and control characters) becomes ``_``, LIKE's one-character wildcard:
    the pattern still matches the name the user typed and can never end the literal.
    """
    return _UNSAFE_LITERAL_RE.sub("_", text)


def build_filter(
    *, status: str | None = None, search: str | None = None, filter: str | None = None
) -> str:
    """The MLflow filter string for a status, a run-name substring and a raw MLflow filter."""
    clauses: list[str] = []
    if status:
        normalized = status.strip().upper()
        if normalized not in RUN_STATUSES:
            raise UsageError(
                f"Invalid status {status[:40]!r}.",
                hint=f"Use one of {', '.join(RUN_STATUSES)}.",
            )
        clauses.append(f"attributes.status = '{normalized}'")
    search = (search or "").strip()
    if search:
        if len(search) > SEARCH_MAX_LENGTH:
            raise UsageError(f"search is longer than {SEARCH_MAX_LENGTH} characters.")
        clauses.append(f"attributes.run_name ILIKE '%{like_literal(search)}%'")
    if filter and filter.strip():
        if len(filter) > FILTER_MAX_LENGTH:
            raise UsageError(f"filter is longer than {FILTER_MAX_LENGTH} characters.")
        from mlflow.utils.search_utils import SearchUtils

        # Parse the user's filter on its own, so a quote in it cannot reach into
        # our clauses (MLflow's grammar only joins comparisons with AND).
        with mlflow_errors():
            SearchUtils.parse_search_filter(filter)  # type: ignore[no-untyped-call]
        clauses.append(filter.strip())
    return " and ".join(clauses)


def parse_order_by(order_by: str | None) -> str:
    """``order_by`` checked against the allow-list and rewritten in MLflow syntax.

    Accepted: ``start_time``, ``end_time``, ``run_name``, ``status``,
    ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` (a key with spaces in
    backticks), then optionally ``ASC`` or ``DESC`` (default ``ASC``).
    """
    text = (order_by or DEFAULT_ORDER_BY).strip()
    match = _ORDER_BY_RE.fullmatch(text)
    if match is None:
        raise UsageError(
            f"Invalid order_by {text[:80]!r}.",
            hint="Use start_time, end_time, run_name, status, metrics.<key>, params.<key> "
            "or tags.<key>, then ASC or DESC, e.g. 'metrics.accuracy DESC'.",
        )
    direction = (match["direction"] or "ASC").upper()
    if match["attr"]:
        return f"attributes.{match['attr'].lower()} {direction}"
    key = match["quoted"] or match["plain"]
    return f"{match['kind'].lower()}.`{key}` {direction}"


def check_max_results(max_results: int) -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise UsageError(f"max_results must be an integer, got {max_results!r}.")
    if not 1 <= max_results <= MAX_RESULTS_LIMIT:
        raise UsageError(
            f"max_results must be between 1 and {MAX_RESULTS_LIMIT}, got {max_results}."
        )
    return max_results
