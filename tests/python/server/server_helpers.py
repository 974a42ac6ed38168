"""Helpers shared by the REST tests (importable: pytest puts this folder on ``sys.path``)."""

from __future__ import annotations

from typing import Any, ClassVar

import tornado.web
from jupyter_server.auth import Authorizer

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


class RecordingAuthorizer(Authorizer):
    """Allows everything except ``denied`` resources, and records what it was asked."""

    seen: ClassVar[list[tuple[str, str]]] = []
    denied: ClassVar[set[str]] = set()

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.seen.append((action, resource))
        return resource not in self.denied

    @classmethod
    def install(cls, jp_server_config: Any) -> Any:
        """``jp_server_config`` with this authorizer, its records cleared."""
        cls.seen = []
        cls.denied = set()
        jp_server_config["ServerApp"]["authorizer_class"] = cls
        return jp_server_config


def served_methods(handler: type) -> set[str]:
    """The HTTP methods ``handler`` implements (not tornado's default 405s)."""
    return {
        m for m in HTTP_METHODS if getattr(handler, m) is not getattr(tornado.web.RequestHandler, m)
    }


def stretches_then(states: list[str], tail: list[str]) -> bool:
    """``states`` is ``tail`` after any number of warned stretches that cleared.

    A kernel that starts on a loaded machine may look idle (under half a core) before its
    start-up gets the CPU, then busy, then idle: each stretch is warned once and clears
    (a "cleared" event) when the kernel works. Never two warnings within one stretch."""
    head = states[: len(states) - len(tail)]
    return states[len(head) :] == tail and head == ["warning", "cleared"] * (len(head) // 2)
