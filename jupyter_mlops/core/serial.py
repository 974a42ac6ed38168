"""JSON-ready dictionaries of value objects, in a stated key order.

The ``to_dict`` of a record names the attributes it shows, in the order the
REST bodies and the CLI print them, once::

    def to_dict(self) -> dict[str, Any]:
        return fields_dict(self, "kind name hourly current_hourly saving_per_hour detail")

Properties count as attributes (``saving_per_hour`` above), so derived values
sit in the same list; values that need converting (a tuple to a list, a nested
record to its own dict) are added around it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["fields_dict"]


def fields_dict(obj: object, names: str) -> dict[str, Any]:
    """``{name: getattr(obj, name)}`` for each of the space-separated ``names``, in that order."""
    return {name: getattr(obj, name) for name in names.split()}
