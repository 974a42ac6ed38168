"""Groupings of ledger rows: a label, a run tag (``tag:epic``), a UTC day or week, a minute.

``parse_groups("project,tag:epic")`` -> ``("project", "tag:epic")``; ``kernel`` and
``run`` stand for the ``kernel_id`` and ``run_id`` labels. :func:`group_columns`
turns groupings into SQL columns over one cost table, joining ``cost_run_tags``
once per tag (a row whose run has no such tag, or that has no run, gets ``''``,
shown as :data:`NONE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jupyter_mlops.core.cost.records import LABELS
from jupyter_mlops.exceptions import UsageError

__all__ = ["ALIASES", "NAMES", "NONE", "TAG_PREFIX", "TIME_GROUPS", "group_columns", "parse_groups"]

NONE = "(none)"
TAG_PREFIX = "tag:"
TIME_GROUPS = ("day", "week", "minute")
ALIASES = {"kernel": "kernel_id", "run": "run_id"}
_DAY = 86400
_WEEK = 7 * _DAY
_MONDAY = 4 * _DAY  # 1970-01-05 was a Monday
#: a label column's name in groupings (``kernel_id`` -> ``kernel``)
NAMES = {column: name for name, column in ALIASES.items()}
_HINT = "group by project, notebook, user, kernel, run, day, week or tag:KEY (e.g. tag:epic)"


def parse_groups(
    by: str | Sequence[str], *, allowed: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The groupings in ``by`` (a comma list or a sequence), validated and normalised."""
    items = by.split(",") if isinstance(by, str) else list(by)
    out: list[str] = []
    for item in items:
        name = ALIASES.get(item.strip(), item.strip())
        if name.startswith(TAG_PREFIX):
            key = name[len(TAG_PREFIX) :].strip()
            if not key:
                raise UsageError(f"{item!r} names no tag", hint="write tag:KEY, e.g. tag:epic")
            name = TAG_PREFIX + key
        elif name not in (*LABELS, *TIME_GROUPS) or (allowed is not None and name not in allowed):
            names = [NAMES.get(a, a) for a in allowed] if allowed is not None else None
            hint = (
                f"use {', '.join(names)} or tag:KEY, several joined by commas" if names else _HINT
            )
            raise UsageError(f"cannot group by {item.strip()!r}", hint=hint)
        if name in out:
            raise UsageError(f"{item.strip()!r} is named twice in {by!r}", hint=_HINT)
        out.append(name)
    if not out:
        raise UsageError("no grouping given", hint=_HINT)
    return tuple(out)


def group_columns(
    sa: Any, table: Any, time_column: str, tags: Any, groups: Sequence[str]
) -> tuple[list[Any], Any]:
    """SQL expressions for ``groups`` over ``table``, and the FROM clause they need."""
    source = table
    time = table.c[time_column]
    columns: list[Any] = []
    for n, name in enumerate(groups):
        if name.startswith(TAG_PREFIX):
            alias = tags.alias(f"tag{n}")
            key = name[len(TAG_PREFIX) :]
            source = source.outerjoin(
                alias, (alias.c.run_id == table.c.run_id) & (alias.c.key == key)
            )
            column: Any = sa.func.coalesce(alias.c.value, "")
        elif name == "day":
            column = time - time % _DAY
        elif name == "week":
            column = time - (time - _MONDAY) % _WEEK
        elif name == "minute":
            column = time
        else:
            column = table.c[name]
        columns.append(column.label(f"g{n}"))
    return columns, source


def group_value(name: str, value: Any) -> str | int:
    """A grouping's value as answered: an int for time buckets, else text (``''`` -> ``(none)``)."""
    if name in TIME_GROUPS:
        return int(value)
    return str(value) if value else NONE
