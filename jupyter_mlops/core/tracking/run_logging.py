"""The tracker's hot path: validate a metric, param or tag completely, append it to the spool.

Every ``log_*`` call validates its input completely (nothing partial is spooled),
appends one line per record to the active run's spool in ONE ``os.write`` and
returns; the spool's writer thread delivers in the background. A log before any
start attaches to a pipeline execution's run or adopts MLflow's active run
(:meth:`TrackerBase._auto_attach`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from jupyter_mlops.core.tracking.run_state import TrackerBase
from jupyter_mlops.core.tracking.spool_format import format_metric, format_param, format_tag
from jupyter_mlops.core.tracking.validation import (
    check_key,
    check_step,
    check_timestamp,
    metric_value,
    param_value,
    tag_value,
)
from jupyter_mlops.exceptions import InvalidValueError

__all__ = ["RunLogging"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class RunLogging(TrackerBase):
    """``log_metric(s)``, ``log_param(s)``, ``set_tag(s)`` of a tracker."""

    def _metric_line(self, key: str, value: float, step: int | None, timestamp: int | None) -> str:
        metric_keys = self._run.metric_keys
        if key not in metric_keys:
            check_key(key, "metric")
            metric_keys.add(key)
        if type(value) is not float:
            value = metric_value(key, value)
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        elif type(timestamp) is not int or not 0 <= timestamp <= _INT64_MAX:
            timestamp = check_timestamp(key, timestamp)
        if step is None:
            step = 0
        elif type(step) is not int or not _INT64_MIN <= step <= _INT64_MAX:
            step = check_step(key, step)
        if value - value == 0.0:  # finite: the common case, formatted inline
            return f'["m","{key}",{value!r},{timestamp},{step}]\n'
        return format_metric(key, value, timestamp, step)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Validate and spool one metric point (microseconds; delivered in the background)."""
        spool = self._run.spool
        if spool is None:
            spool = self._auto_attach()
        spool.append(self._metric_line(key, value, step, timestamp))

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Validate every metric, then spool them all in one write (nothing partial)."""
        spool = self._require_spool()
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        lines = [self._metric_line(k, v, step, timestamp) for k, v in metrics.items()]
        if lines:
            spool.append("".join(lines))

    def log_param(self, key: str, value: object) -> None:
        """Spool a param; the same key with another value is an :class:`InvalidValueError`."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Validate every param (immutability included), then spool the new ones together."""
        with self._lock:
            spool = self._require_spool()
            known = self._run.params
            new: dict[str, str] = {}
            for key, value in params.items():
                check_key(key, "param")
                text = param_value(key, value)
                old = known.get(key)
                if old is not None and old != text:
                    raise InvalidValueError(
                        f"Param {key!r} was already logged as {old!r:.100} in this run; "
                        f"MLflow params cannot change (new value {text!r:.100}).",
                        hint="log it under another key, or start a new run",
                        run_id=spool.run_id,
                    )
                if old is None:
                    new[key] = text
            if new:
                spool.append("".join(format_param(k, v) for k, v in new.items()))
                known.update(new)

    def set_tag(self, key: str, value: object) -> None:
        """Spool a tag (tags can be overwritten)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Validate every tag, then spool them together."""
        spool = self._require_spool()
        lines = [format_tag(check_key(k, "tag"), tag_value(k, v)) for k, v in tags.items()]
        if lines:
            spool.append("".join(lines))
