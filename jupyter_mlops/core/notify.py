"""Notifications: what an event says, and sending it out (Slack, Teams, email, webhooks) once.

Events are the JSON dicts of the server's event feed (``GET /jupyter-mlops/api/events``;
contract in ``docs/notifications.md``): ``kind`` (``idle-policy``, ``budget``,
``pipeline``, ``idle-gpu``), ``state``, ``message`` and fields of their kind.

* :func:`describe` turns an event into a :class:`Message` (title, body, level), or
  ``None`` for events that are not notified: the ``idle-gpu`` alerts (the Cost
  view's Waste list shows them; the idle policy's events are their
  notifications) and ``cleared`` states.
* :func:`pipeline_event` is the ``pipeline`` event of an ended launch
  (``Launch.to_dict()``, as ``LaunchRegistry.listeners`` receive it).
* :func:`event_key` names an event for de-duplication (kind, state, the kernel,
  launch or budget it is about, and the moment it refers to), so the same event
  published twice, or fired again by its producer, is sent once;
  :class:`OnceSet` remembers the last keys.
* :class:`Notifier` sends through apprise (``c.MlopsConfig.notify_urls``): each
  event once, from a worker thread of its own (a slow or failing endpoint never
  blocks the caller; a failure is logged once per URL until it works again). A
  URL apprise cannot parse is logged once, as an error, and skipped; the others
  still work. URLs are only ever shown as :func:`url_label` (``notify_urls[0]
  (slack://...)``): their tokens, passwords and paths never reach a log line.
  apprise and urllib3 print URLs in their own log lines (partly masked; wholly at
  debug level): the records they make on the notifier's thread are dropped
  (:class:`_MuteThread`), theirs on other threads are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jupyter_mlops.core.redact import scrub, scrub_error

__all__ = [
    "LEVELS",
    "Message",
    "Notifier",
    "OnceSet",
    "describe",
    "event_key",
    "pipeline_event",
    "url_label",
]

LEVELS = ("info", "success", "warning", "error")
"""Message levels, as JupyterLab's notification centre names them."""

_KEY_FIELDS: Mapping[str, tuple[str, ...]] = {
    "idle-policy": ("state", "kernel_id", "resource", "action", "act_at"),
    "budget": ("state", "project", "period_start", "threshold"),
    "pipeline": ("state", "launch_id"),
    "idle-gpu": ("state", "target_id", "gpu", "since"),
}
_ACTED = {"shutdown": "shut down", "interrupt": "interrupted", "notify": "warned about"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,19})://")
_log = logging.getLogger(__name__)
_THREAD = "jupyter-mlops-notify"
_CHATTY = ("apprise", "urllib3", "requests")  # loggers (and children) that print URLs


@dataclass(frozen=True)
class Message:
    """One notification: a short title, a plain-text body and a level (:data:`LEVELS`)."""

    title: str
    body: str
    level: str


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def event_key(event: Mapping[str, Any]) -> str:
    """The identity of an event: the same for a repeat of it, different for a new one."""
    kind = _text(event.get("kind"))
    fields = _KEY_FIELDS.get(kind)
    if fields is None:
        return "|".join((kind, _text(event.get("state")), _text(event.get("message"))))
    values = [_text(event.get(name)) for name in fields]
    if kind == "idle-policy" and event.get("act_at") is None:
        values.append(_text(event.get("time")))  # an event without act_at: its own moment
    return "|".join((kind, *values))


def _execution_error(executions: Any) -> str:
    """The first failed execution's error, with its step when there is one."""
    for execution in executions if isinstance(executions, list) else []:
        if isinstance(execution, Mapping) and execution.get("error"):
            step = _text(execution.get("step"))
            return f"{step}: {execution['error']}" if step else _text(execution["error"])
    return ""


def pipeline_event(launch: Mapping[str, Any]) -> dict[str, Any]:
    """The ``pipeline`` event of an ended launch (``Launch.to_dict()``)."""
    status = _text(launch.get("status"))
    name = _text(launch.get("name") or launch.get("path"))
    error = _text(launch.get("error")) or _execution_error(launch.get("executions"))
    error = scrub_error(error) if error else ""
    message = f"Pipeline {name} ended {status}" + (f": {error}" if error else ".")
    return {
        "kind": "pipeline",
        "state": status,
        "launch_id": _text(launch.get("id")),
        "path": _text(launch.get("path")),
        "name": name,
        "run_id": _text(launch.get("run_id")),
        "error": error,
        "message": message,
    }


def _idle_policy(event: Mapping[str, Any]) -> Message | None:
    state = event.get("state")
    what = _text(event.get("notebook")) or f"kernel {_text(event.get('kernel_id'))[:8]}"
    action = _text(event.get("action"))
    body = _text(event.get("message"))
    if state == "warning":
        resource = _text(event.get("resource")).upper() or "resource"
        return Message(f"Idle {resource}: {what}", body, "warning")
    if state == "acted":
        return Message(f"Idle kernel {_ACTED.get(action, action)}: {what}", body, "warning")
    if state == "would-act":
        return Message(f"Idle policy (dry run): {what}", body, "info")
    return None


def _budget(event: Mapping[str, Any]) -> Message | None:
    if event.get("state") != "fired":
        return None
    threshold = event.get("threshold")
    reached = isinstance(threshold, (int, float)) and threshold >= 1
    label = f"{threshold * 100:.0f}%" if isinstance(threshold, (int, float)) else "threshold"
    hard = " (hard)" if event.get("hard") else ""
    title = f"Budget{hard} of {_text(event.get('project'))}: {label} reached"
    return Message(title, _text(event.get("message")), "error" if reached else "warning")


def _pipeline(event: Mapping[str, Any]) -> Message | None:
    state = _text(event.get("state"))
    level = {"FAILED": "error", "KILLED": "warning", "FINISHED": "success"}.get(state)
    if level is None:
        return None
    body = _text(event.get("message"))
    if event.get("run_id"):
        body += f"\nMLflow run: {event['run_id']}"
    return Message(f"Pipeline {state}: {_text(event.get('name'))}", body, level)


_DESCRIBE = {"idle-policy": _idle_policy, "budget": _budget, "pipeline": _pipeline}


def describe(event: Mapping[str, Any]) -> Message | None:
    """What to tell about ``event``; ``None`` when it is not notified. Text is plain and scrubbed."""
    describer = _DESCRIBE.get(_text(event.get("kind")))
    message = describer(event) if describer is not None else None
    if message is None:
        return None
    return Message(scrub(message.title), scrub(message.body), message.level)


def url_label(index: int, url: str) -> str:
    """How a notification URL is named in logs: its position and scheme, nothing else."""
    match = _SCHEME.match(url.strip())
    return f"notify_urls[{index}] ({match.group(1).lower() if match else '?'}://...)"


class _MuteThread(logging.Filter):
    """Drops the records made on the notifier's thread (they may carry a URL's secrets)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != _THREAD


_MUTE = _MuteThread()


def _mute_chatty_loggers() -> None:
    """Put :data:`_MUTE` on the loggers of apprise, urllib3 and requests (existing ones)."""
    names = [n for n in logging.Logger.manager.loggerDict if n.split(".")[0] in _CHATTY]
    for name in {*_CHATTY, *names}:
        logger = logging.getLogger(name)
        if _MUTE not in logger.filters:
            logger.addFilter(_MUTE)


class OnceSet:
    """The last ``size`` keys seen; :meth:`first` is true once per key (thread-safe)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys[key] = None
            if len(self._keys) > self.size:
                self._keys.popitem(last=False)
            return True


class Notifier:
    """Sends events to apprise URLs, each event once, from a worker thread of its own.

    ``start()`` runs the worker: it imports apprise and parses the URLs (a bad one
    is logged and skipped), then sends what :meth:`notify` queued. ``close()``
    sends what is queued (up to ``timeout`` seconds) and stops it. Without URLs
    nothing is started and apprise is never imported.
    """

    def __init__(
        self,
        urls: Iterable[str],
        *,
        log: logging.Logger | None = None,
        queue_size: int = 256,
        once: OnceSet | None = None,
    ) -> None:
        self.urls = [u for u in urls if u.strip()]
        self.log = log or _log
        self.once = once or OnceSet()
        self.ready = threading.Event()  # set once the URLs are parsed
        self.targets: list[tuple[str, Any]] = []  # (label, apprise plugin)
        self._queue: queue.Queue[Message | None] = queue.Queue(maxsize=queue_size)
        self._failing: set[str] = set()
        self._dropping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.urls or self._thread is not None:
            self.ready.set()
            return
        self._thread = threading.Thread(target=self._serve, name=_THREAD, daemon=True)
        self._thread.start()

    def notify(self, event: Mapping[str, Any]) -> bool:
        """Queue ``event`` for sending; false when it is not notified or was already sent."""
        message = describe(event)
        if message is None or not self.urls or not self.once.first(event_key(event)):
            return False
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            if not self._dropping:
                self.log.warning(
                    "jupyter-mlops: notifications are not being sent fast enough; some are "
                    "dropped (check that the notify_urls services are reachable)"
                )
            self._dropping = True
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        with contextlib.suppress(queue.Full):
            self._queue.put(None, timeout=timeout)
        self._thread.join(timeout)
        self._thread = None

    # -- the worker ---------------------------------------------------------------

    def _serve(self) -> None:
        try:
            self.targets = self._parse()
        finally:
            self.ready.set()
        while True:
            message = self._queue.get()
            if message is None:
                return
            self._dropping = False
            for label, plugin in self.targets:
                self._send(label, plugin, message)

    def _parse(self) -> list[tuple[str, Any]]:
        import apprise

        _mute_chatty_loggers()
        targets = []
        for index, url in enumerate(self.urls):
            label = url_label(index, url)
            try:
                plugin = apprise.Apprise.instantiate(url.strip())
            except Exception:
                plugin = None
            if plugin is None:
                self.log.error(
                    "jupyter-mlops: c.MlopsConfig.notify_urls: %s is not a URL apprise can send "
                    "to; it is skipped (the others still work). Fix it as in "
                    "docs/notifications.md (e.g. json://host/path for a webhook) and restart.",
                    label,
                )
                continue
            targets.append((label, plugin))
        return targets

    def _send(self, label: str, plugin: Any, message: Message) -> None:
        from apprise import NotifyType

        kind = {
            "info": NotifyType.INFO,
            "success": NotifyType.SUCCESS,
            "warning": NotifyType.WARNING,
            "error": NotifyType.FAILURE,
        }[message.level]
        try:
            sent = bool(plugin.notify(body=message.body, title=message.title, notify_type=kind))
        except Exception:
            sent = False
        if sent and label in self._failing:
            self._failing.discard(label)
            self.log.info("jupyter-mlops: notifications to %s are delivered again", label)
        elif not sent and label not in self._failing:
            self._failing.add(label)
            self.log.warning(
                "jupyter-mlops: a notification to %s was not delivered (the service refused it "
                "or did not answer); check the URL and that the service is reachable. Further "
                "failures of it are not logged until it works again.",
                label,
            )
