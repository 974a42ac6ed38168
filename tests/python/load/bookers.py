"""Load driver: processes booking cost into one ledger at once (``python bookers.py SPEC.json``).

The parent imports SQLAlchemy and the ledger once, then forks ``processes``
children. Each opens its own :class:`~jupyter_mlops.core.cost.ledger.Ledger`
on ``url`` after the barrier (so they also race to create the tables), then
books ``writes`` times, in one transaction each, one sample on a row every
process shares (same minute, same labels: the hottest upsert) and one on its
own kernel's row. Exit 0 when every write was acknowledged; stderr goes to
``<out>/booker<N>.err``. Prints ``{"exit_codes": {...}}``.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from forks import run_forked

SHARED = ("k-shared", "run-shared", "load.ipynb", "load", "tester")


def labels(child: int) -> tuple[str, str, str, str, str]:
    return (f"k{child:02d}", "", "load.ipynb", "load", "tester")


def _child(spec: dict[str, Any], child: int) -> int:
    from jupyter_mlops.core.cost.ledger import Ledger
    from jupyter_mlops.core.cost.totals import Totals

    out = Path(spec["out"])
    err = os.open(out / f"booker{child}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err, 2)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    try:
        (out / f"booker{child}.ready").touch()
        barrier = Path(spec["barrier"])
        while not barrier.exists():
            time.sleep(0.005)
        minute = spec["minute"]
        with Ledger(spec["url"], retention_days=None) as ledger:
            for i in range(spec["writes"]):
                ledger.write(
                    {
                        (minute, SHARED): Totals(
                            wall_seconds=1.0,
                            cost_allocated=0.25,
                            peak_rss_bytes=child * 1000 + i,
                        ),
                        (minute, labels(child)): Totals(wall_seconds=1.0, cost_allocated=0.5),
                    }
                )
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        return 1
    return 0


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    import sqlalchemy  # noqa: F401  - once, before forking

    import jupyter_mlops.core.cost.ledger  # noqa: F401

    children = {f"booker{c}": functools.partial(_child, spec, c) for c in range(spec["processes"])}
    codes = run_forked(children, out, Path(spec["barrier"]), 120)
    print(json.dumps({"exit_codes": codes}))


if __name__ == "__main__":
    main()
