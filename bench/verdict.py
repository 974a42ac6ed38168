"""The verdict row every benchmark's ``main()`` returns (see ``run_all.py``).

``name``, ``ours``, ``baseline``, ``ratio``, ``target`` and ``ok`` first, in
that order, then the benchmark's own extra keys; figures rounded as asked.
"""

from __future__ import annotations

from typing import Any


def verdict(
    name: str,
    ours: float,
    baseline: float,
    *,
    ratio: float,
    target: Any,
    ok: bool,
    digits: int = 6,
    ratio_digits: int = 3,
    **extra: Any,
) -> dict[str, Any]:
    """One benchmark's row: the figures rounded to ``digits``, the ratio to ``ratio_digits``."""
    return {
        "name": name,
        "ours": round(ours, digits),
        "baseline": round(baseline, digits),
        "ratio": round(ratio, ratio_digits),
        "target": target,
        "ok": ok,
        **extra,
    }
