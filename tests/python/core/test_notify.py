"""Notifications: event texts, one webhook per event to a real loopback receiver, secrets kept out.

The receiver (``webhook_receiver.py``) is a real HTTP server on 127.0.0.1 that
apprise's ``json://`` plugin posts to; ``Notifier.close()`` sends everything
queued before it returns, so counts are exact without waiting on time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from webhook_receiver import WebhookReceiver

from jupyter_mlops.core.notify import (
    Notifier,
    OnceSet,
    describe,
    event_key,
    pipeline_event,
    url_label,
)

WARNING = {
    "seq": 3,
    "time": 1000.0,
    "kind": "idle-policy",
    "state": "warning",
    "message": "Kernel of train.ipynb has held GPU 0 idle for 20 min ($1.20 so far): "
    "shutting down in 10 min",
    "action": "shutdown",
    "resource": "gpu",
    "kernel_id": "k-123456789",
    "notebook": "train.ipynb",
    "user": "alice",
    "project": "p",
    "run_id": "r1",
    "burned": 1.2,
    "currency": "USD",
    "act_at": 1600.0,
}
LAUNCH = {
    "id": "L1",
    "path": "pipe/train.ipynb",
    "name": "train",
    "status": "FAILED",
    "run_id": "run-9",
    "error": "ZeroDivisionError: division by zero\nTraceback ...",
}


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def started(*urls: str, log: logging.Logger | None = None) -> Notifier:
    notifier = Notifier(urls, log=log)
    notifier.start()
    assert notifier.ready.wait(30)
    return notifier


# -- what events say ---------------------------------------------------------------------------


def test_describe_idle_policy_states() -> None:
    warning = describe(WARNING)
    assert warning is not None
    assert (warning.title, warning.level) == ("Idle GPU: train.ipynb", "warning")
    assert warning.body == WARNING["message"]
    acted = describe({**WARNING, "state": "acted", "message": "Kernel shut down"})
    assert acted is not None
    assert acted.title == "Idle kernel shut down: train.ipynb"
    dry = describe({**WARNING, "state": "would-act"})
    assert dry is not None
    assert dry.level == "info"
    assert "dry run" in dry.title
    assert describe({**WARNING, "state": "cleared"}) is None


def test_describe_budget_pipeline_and_silent_kinds() -> None:
    budget = {"kind": "budget", "state": "fired", "project": "vision", "threshold": 1.0}
    message = describe({**budget, "message": "vision spent $100 of $100 this week"})
    assert message is not None
    assert (message.title, message.level) == ("Budget of vision: 100% reached", "error")
    soft = describe({**budget, "threshold": 0.8, "hard": True, "message": "m"})
    assert soft is not None
    assert soft.title == "Budget (hard) of vision: 80% reached"
    assert soft.level == "warning"
    failed = describe(pipeline_event(LAUNCH))
    assert failed is not None
    assert failed.level == "error"
    assert failed.title == "Pipeline FAILED: train"
    assert "ZeroDivisionError" in failed.body
    assert "run-9" in failed.body
    assert "Traceback" not in failed.body  # the error's first line only
    finished = describe(pipeline_event({**LAUNCH, "status": "FINISHED", "error": None}))
    assert finished is not None
    assert finished.level == "success"
    assert describe({"kind": "idle-gpu", "state": "fired", "message": "idle GPU"}) is None


def test_pipeline_event_follows_the_contract_and_scrubs_the_error() -> None:
    event = pipeline_event(
        {**LAUNCH, "error": "could not reach https://bob:hunter22@mlflow.example/api"}
    )
    assert event == {
        "kind": "pipeline",
        "state": "FAILED",
        "launch_id": "L1",
        "path": "pipe/train.ipynb",
        "name": "train",
        "run_id": "run-9",
        "error": "could not reach https://mlflow.example/api",
        "message": "Pipeline train ended FAILED: could not reach https://mlflow.example/api",
    }


def test_pipeline_event_error_of_the_failed_execution() -> None:
    executions = [
        {"step": "prep", "status": "FINISHED", "error": None},
        {"step": "train", "status": "FAILED", "error": "ValueError: boom\n  File ..."},
    ]
    event = pipeline_event({**LAUNCH, "error": None, "executions": executions})
    assert event["error"] == "train: ValueError: boom"


def test_event_key_same_event_again_and_new_stretch() -> None:
    again = {**WARNING, "seq": 9, "time": 1005.0}  # re-published or re-fired by the engine
    assert event_key(again) == event_key(WARNING)
    assert event_key({**WARNING, "act_at": 5000.0}) != event_key(WARNING)  # a new idle stretch
    assert event_key({**WARNING, "state": "acted"}) != event_key(WARNING)
    assert event_key(pipeline_event(LAUNCH)) != event_key(pipeline_event({**LAUNCH, "id": "L2"}))


def test_once_set_is_bounded() -> None:
    once = OnceSet(size=2)
    assert [once.first(k) for k in ("a", "a", "b", "c")] == [True, False, True, True]
    assert once.first("a")  # forgotten: the oldest went when "c" came


def test_url_label_shows_the_scheme_only() -> None:
    url = "slack://T0SECRET/B0SECRET/XXsecretXX"
    assert url_label(2, url) == "notify_urls[2] (slack://...)"
    assert url_label(0, "not a url at all") == "notify_urls[0] (?://...)"


# -- sending -----------------------------------------------------------------------------------


def test_one_webhook_per_event(hook: WebhookReceiver) -> None:
    notifier = started(hook.url())
    assert notifier.notify(WARNING)
    assert not notifier.notify(dict(WARNING))  # published twice
    assert not notifier.notify({**WARNING, "seq": 7, "time": 1010.0})  # re-fired
    assert not notifier.notify({**WARNING, "state": "cleared"})  # not notified
    assert notifier.notify(pipeline_event(LAUNCH))
    notifier.close()
    bodies = [r["body"] for r in hook.received]
    assert [(b["title"], b["type"]) for b in bodies] == [
        ("Idle GPU: train.ipynb", "warning"),
        ("Pipeline FAILED: train", "failure"),
    ]
    assert bodies[0]["message"] == WARNING["message"]
    assert {r["path"] for r in hook.received} == {"/hook"}


def test_slow_endpoint_does_not_block_the_caller(hook: WebhookReceiver) -> None:
    hook.hold.clear()  # the receiver answers nothing until released
    notifier = started(hook.url())
    assert notifier.notify(WARNING)
    assert hook.wait_for(1)  # it is stuck in the request ...
    assert notifier.notify(pipeline_event(LAUNCH))  # ... and the caller goes on
    hook.hold.set()
    notifier.close()
    assert len(hook.received) == 2


def test_bad_url_logged_once_others_still_work(
    hook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "bogus://admin:Pa55word77@example.org/t0kenpath"
    notifier = started(bad, hook.url(), log=logging.getLogger("test.notify"))
    notifier.notify(WARNING)
    notifier.close()
    assert len(hook.received) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    assert "notify_urls[0] (bogus://...)" in errors[0].getMessage()
    assert "docs/notifications.md" in errors[0].getMessage()
    assert "Pa55word77" not in caplog.text
    assert "t0kenpath" not in caplog.text


def test_secrets_in_urls_never_logged(
    hook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # apprise logs URLs at debug level: it must not reach us
    secret_url = hook.url(path="hooks/Sup3rSecretT0ken", auth="bot:Pa55word77")
    refused = "json://bot:Pa55word77@127.0.0.1:9/hooks/Sup3rSecretT0ken"  # nothing listens
    notifier = started(secret_url, refused, log=logging.getLogger("test.notify"))
    notifier.notify(WARNING)
    notifier.notify(pipeline_event(LAUNCH))
    notifier.close()
    received: list[dict[str, Any]] = hook.received
    assert [r["path"] for r in received] == ["/hooks/Sup3rSecretT0ken"] * 2
    assert received[0]["headers"]["Authorization"].startswith("Basic ")
    failures = [r for r in caplog.records if "not delivered" in r.getMessage()]
    assert len(failures) == 1  # the refused endpoint: logged once for two events
    assert "notify_urls[1] (json://...)" in failures[0].getMessage()
    assert caplog.text, "nothing was logged at all"
    for secret in ("Pa55word77", "Sup3rSecretT0ken"):
        assert secret not in caplog.text


def test_without_urls_nothing_runs() -> None:
    notifier = Notifier([])
    notifier.start()
    assert notifier.ready.is_set()
    assert not notifier.notify(WARNING)
    notifier.close()
