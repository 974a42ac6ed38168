"""The server's event feed: what the notification toasts and outgoing notifications show.

One :class:`EventFeed` per server (built by the extension app): a bounded ring of
events with sequence numbers of its own. It receives

* the cost engine's events (``CostEngine.listeners``, called on the sampler
  thread): ``idle-policy`` warnings and actions, ``budget`` thresholds, the
  ``idle-gpu`` alerts of the Waste list;
* ended launches (``LaunchRegistry.listeners``, on the launch's thread): a
  ``pipeline`` event (:func:`~jupyter_mlops.core.notify.pipeline_event`) for
  FAILED and KILLED, and for FINISHED with ``c.MlopsConfig.notify_finished``.

:meth:`EventFeed.publish` is thread-safe (a lock; no event-loop work). Each event
is kept once (the same event again, or fired again by its producer, is dropped:
:func:`~jupyter_mlops.core.notify.event_key`) and handed to the
:class:`~jupyter_mlops.core.notify.Notifier`, which sends it from its own thread.

``GET /jupyter-mlops/api/events?after=<seq>`` (:class:`EventsHandler`, resource
``mlops:events``, read): ``{"seq": newest, "events": [after seq, oldest first]}``.
Without ``after``: no events, only the newest ``seq`` (where a page that just
loaded starts, so old events are not shown again). An ``after`` beyond the newest
(the server restarted): every event kept.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import tornado.web
from jupyter_server.auth.decorator import authorized

from jupyter_mlops.core.notify import OnceSet, event_key, pipeline_event
from jupyter_mlops.server.base import MlopsHandler

if TYPE_CHECKING:
    from jupyter_mlops.core.notify import Notifier

__all__ = ["EVENTS_SETTING", "EventFeed", "EventsHandler"]

EVENTS_SETTING = "jupyter_mlops_events"
"""The tornado setting that holds the server's :class:`EventFeed`."""

NOTIFIED_END = frozenset({"FAILED", "KILLED"})


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (the reply is strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class EventFeed:
    """A bounded, numbered ring of events, each kept once and passed to the notifier."""

    def __init__(
        self,
        notifier: Notifier | None = None,
        *,
        notify_finished: bool = False,
        size: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.notifier = notifier
        self.notify_finished = notify_finished
        self.clock = clock
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        self._once = OnceSet(size * 8)
        self._seq = 0
        self._lock = threading.Lock()

    def publish(self, event: Mapping[str, Any]) -> dict[str, Any] | None:
        """Keep ``event`` (numbered, timed) and notify it; ``None`` when it was seen already."""
        if not self._once.first(event_key(event)):
            return None
        with self._lock:
            self._seq += 1
            kept = {
                **_json_safe(event),
                "seq": self._seq,
                "time": event.get("time") or self.clock(),
            }
            self._events.append(kept)
        if self.notifier is not None:
            self.notifier.notify(kept)
        return kept

    def on_launch_ended(self, launch: Mapping[str, Any]) -> None:
        """``LaunchRegistry.listeners`` entry: a ``pipeline`` event for runs that ended badly."""
        status = launch.get("status")
        if status in NOTIFIED_END or (status == "FINISHED" and self.notify_finished):
            self.publish(pipeline_event(launch))

    def since(self, after: int | None) -> tuple[int, list[dict[str, Any]]]:
        """The newest seq and the events after ``after`` (``None``: none; beyond: all)."""
        with self._lock:
            if after is None:
                return self._seq, []
            if after > self._seq:
                after = 0
            return self._seq, [e for e in self._events if e["seq"] > after]

    def start(self) -> None:
        """Start the notifier's worker (it parses the URLs there: apprise loads slowly)."""
        if self.notifier is not None:
            self.notifier.start()

    def close(self) -> None:
        """Send what is queued and stop the notifier's worker (blocking)."""
        if self.notifier is not None:
            self.notifier.close()


class EventsHandler(MlopsHandler):
    """``GET /events?after=<seq>``: the events after ``seq`` and the newest seq."""

    auth_resource = "mlops:events"

    @tornado.web.authenticated
    @authorized
    def get(self) -> None:
        feed = cast("EventFeed", self.settings[EVENTS_SETTING])
        after = self.optional_arg("after")
        seq, events = feed.since(None if after is None else self.int_arg("after", 0, 0, 2**53))
        self.reply({"seq": seq, "events": events})
