"""The idle policy: rules, the state machine, and its wiring in the cost engine.

The state machine is fed snapshots built from the sampler's own records (a
kernel holding 2 GiB of an H100 at 0%, or using 1% of a core), one per minute
of a scripted clock; the engine scenarios use a real idle child process, the
scripted NVML stand-in and a real SQLite ledger.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cost_helpers import FakeClock
from fake_pynvml import GIB, FakeNvml

from jupyter_mlops.core.cost import Ledger, NvmlSource, ProcessTreeSource
from jupyter_mlops.core.cost.engine import CostEngine, CostSettings
from jupyter_mlops.core.cost.policy import (
    BUSY,
    KEPT_ALIVE,
    IdleDecision,
    IdlePolicy,
    IdleRule,
    load_rules,
    parse_rule,
)
from jupyter_mlops.core.cost.pricing import PricingModel
from jupyter_mlops.core.cost.records import Snapshot, Target, TargetGpu, TargetSample
from jupyter_mlops.exceptions import ConfigError

H100 = "NVIDIA H100 80GB HBM3"
GPU_RULE = IdleRule("gpu", threshold_pct=5, after_minutes=20, grace_minutes=10, action="shutdown")
CPU_RULE = IdleRule("cpu", threshold_pct=5, after_minutes=30, grace_minutes=0, action="interrupt")


def _sample(
    tid: str,
    now: float,
    *,
    util: float | None = 0.0,
    mem: int = 2 * GIB,
    cpu_pct: float = 1.0,
    gpu: bool = True,
    alive: bool = True,
) -> TargetSample:
    gpus = (
        (TargetGpu("0", 0, H100, mem, util, util, 70.0, 0.0, memory_total=80 * GIB),) if gpu else ()
    )
    target = Target(1000, kernel_id=tid, notebook=f"{tid}.ipynb", user="ana", project="p")
    return TargetSample(tid, target, now, 60.0, alive, 10.0, 0.6, cpu_pct, GIB, 1, gpus)


def _minutes(
    policy: IdlePolicy, start: float, n: int, exempt: dict[str, str] | None = None, **sample: Any
) -> list[tuple[float, IdleDecision]]:
    """Feed ``n`` one-minute snapshots of kernel ``k``; the decisions with their minute."""
    out = []
    for i in range(1, n + 1):
        now = start + 60.0 * i
        snap = Snapshot(now, {"k": _sample("k", now, **sample)}, gpu_available=True)
        out.extend((now, d) for d in policy.update(snap, exempt))
    return out


@pytest.fixture
def policy() -> IdlePolicy:
    return IdlePolicy([GPU_RULE], PricingModel.per_resource())


def test_a_kernel_holding_a_gpu_idle_is_warned_after_20_min_then_acted_on_10_min_later(
    policy: IdlePolicy,
) -> None:
    start = 1_800_000_000.0
    decisions = _minutes(policy, start, 40)
    assert [(round((t - start) / 60), d.state) for t, d in decisions] == [
        (20, "warning"),
        (30, "act"),
    ]
    (_, warning), (_, act) = decisions
    assert warning.act_at == start + 30 * 60
    assert warning.gpu == "0"
    assert warning.labels["notebook"] == "k.ipynb"
    rate = PricingModel.per_resource().gpu_rate(H100, 80 * GIB)
    assert act.per_hour > rate  # the kernel's whole allocated rate: the GPU and a little more
    assert act.burned == pytest.approx(act.per_hour * 30 / 60)
    event = warning.to_event(start + 20 * 60)
    assert event["message"].startswith("Kernel of k.ipynb has held GPU 0 idle for 20 min ($")
    assert event["message"].endswith("so far): shutting down in 10 min")
    assert {k: event[k] for k in ("kind", "state", "action", "resource", "kernel_id", "user")} == {
        "kind": "idle-policy",
        "state": "warning",
        "action": "shutdown",
        "resource": "gpu",
        "kernel_id": "k",
        "user": "ana",
    }
    assert act.to_event(start + 30 * 60, "acted")["message"].endswith(
        f"shut down, avoiding ${act.per_hour:.2f}/h"
    )


def test_a_busy_kernel_is_never_warned_and_busy_resets_the_stretch(policy: IdlePolicy) -> None:
    start = 1_800_000_000.0
    assert _minutes(policy, start, 60, exempt={"k": BUSY}) == []
    assert _minutes(policy, start + 3600, 15) == []
    assert _minutes(policy, start + 4500, 1, exempt={"k": BUSY}) == []  # a cell ran
    assert [d.state for _, d in _minutes(policy, start + 4560, 20)] == ["warning"]


def test_gpu_memory_below_the_floor_or_utilisation_above_the_threshold_is_not_idle(
    policy: IdlePolicy,
) -> None:
    start = 1_800_000_000.0
    assert _minutes(policy, start, 60, mem=100 << 20) == []
    assert _minutes(policy, start, 60, util=30.0) == []
    assert _minutes(policy, start, 60, util=None) == []  # a MIG slice: no utilisation figure
    assert _minutes(policy, start, 60, gpu=False) == []


def test_activity_after_a_warning_clears_it(policy: IdlePolicy) -> None:
    start = 1_800_000_000.0
    assert [d.state for _, d in _minutes(policy, start, 25)] == ["warning"]
    ((_, cleared),) = _minutes(policy, start + 25 * 60, 1, util=80.0)
    assert cleared.state == "cleared"
    assert cleared.reason == "in use again"
    assert "nothing will be done" in cleared.message(start + 26 * 60)


def test_keep_alive_clears_a_warning_and_holds_off_until_it_ends(policy: IdlePolicy) -> None:
    start = 1_800_000_000.0
    assert [d.state for _, d in _minutes(policy, start, 25)] == ["warning"]
    kept = _minutes(policy, start + 25 * 60, 120, exempt={"k": KEPT_ALIVE})
    assert [(d.state, d.reason) for _, d in kept] == [("cleared", "kept alive")]
    # the stretch went on counting: once the keep-alive is over, a warning at once
    after = _minutes(policy, start + 145 * 60, 15)
    assert [(round((t - start) / 60), d.state) for t, d in after] == [
        (146, "warning"),
        (156, "act"),
    ]


def test_dry_run_reports_would_act_once_per_stretch() -> None:
    policy = IdlePolicy([CPU_RULE], PricingModel.per_resource(), dry_run=True)
    decisions = _minutes(policy, 1_800_000_000.0, 90, gpu=False)
    assert [d.state for _, d in decisions] == ["warning", "would-act"]
    assert "dry run, it would have been interrupted now" in decisions[1][1].message(0)


def test_notify_rules_only_warn_and_dead_or_gone_targets_clear_nothing() -> None:
    rule = IdleRule("cpu", threshold_pct=5, after_minutes=5, grace_minutes=0, action="notify")
    policy = IdlePolicy([rule], PricingModel.per_resource())
    start = 1_800_000_000.0
    decisions = _minutes(policy, start, 30, gpu=False)
    assert [d.state for _, d in decisions] == ["warning"]
    assert "mark it with %mlops keep-alive" in decisions[0][1].message(start)
    since = decisions[0][1].since
    assert " for under a minute (" in decisions[0][1].message(since + 20)  # not "0 min"
    assert " for 5 min (" in decisions[0][1].message(since + 300)
    assert _minutes(policy, start + 1800, 1, gpu=False, alive=False) == []
    assert policy.update(Snapshot(start + 2000, {})) == []


def test_parse_rule_accepts_good_rules_and_says_what_is_wrong_with_bad_ones() -> None:
    assert parse_rule({"resource": "cpu", "after_minutes": 1, "action": "interrupt"}) == IdleRule(
        "cpu", 5.0, 1.0, 10.0, "interrupt"
    )
    bad = [
        ({"action": "explode"}, "action must be notify, interrupt or shutdown, got 'explode'"),
        ({"threshold_pct": -5}, "threshold_pct must be a number, 0 or more, got -5"),
        ({"after_minutes": 0}, "after_minutes must be a number above 0"),
        ({"resource": "tpu"}, "resource must be gpu or cpu"),
        ({"treshold_pct": 5}, "unknown key(s) treshold_pct"),
        ({"grace_minutes": True}, "grace_minutes must be a number"),
        ("shutdown", "must be a dict, got str"),
    ]
    for raw, expected in bad:
        with pytest.raises(ConfigError) as info:
            parse_rule(raw)
        assert expected in str(info.value), raw
        assert info.value.hint
        assert '"action": "shutdown"' in info.value.hint


def test_load_rules_turns_a_bad_rule_into_notify_with_defaults_for_bad_numbers() -> None:
    rules, errors = load_rules(
        [
            {"resource": "cpu", "threshold_pct": -5, "after_minutes": 3, "action": "explode"},
            GPU_RULE.to_dict(),
        ]
    )
    assert rules == [IdleRule("cpu", 5.0, 3.0, 10.0, "notify"), GPU_RULE]
    (error,) = errors
    assert "threshold_pct" in error.message
    assert "explode" in error.message


# -- the engine -----------------------------------------------------------------------------


@pytest.fixture
def gpu_engine(
    tmp_path: Path, clock: FakeClock, sleeper: Callable[[], subprocess.Popen[bytes]]
) -> Any:
    """A cost engine on a real ledger whose one kernel, a real idle process, holds 2 GiB of an
    H100 at 0%; ``tick(minutes)`` advances the scripted clock a minute at a time."""
    proc = sleeper()
    nvml = FakeNvml()
    nvml.add_gpu(H100, memory_gb=80, util=0).held_by(proc.pid, 2 * GIB, 0)
    settings = CostSettings(
        ledger_url=f"sqlite:///{tmp_path / 'cost.db'}",
        idle_policy=[GPU_RULE.to_dict()],
    )
    engine = CostEngine(settings, sources=[ProcessTreeSource(), NvmlSource(nvml)], clock=clock)
    engine.track("k", Target(proc.pid, kernel_id="k", notebook="train.ipynb", user="ana"))

    def tick(minutes: int) -> None:
        for _ in range(minutes):
            clock.now += 60
            engine.sampler.tick()

    engine.tick = tick
    yield engine
    engine.stop()


def _policy_events(engine: CostEngine) -> list[dict[str, Any]]:
    return [e for e in engine.events_since(0)[1] if e["kind"] == "idle-policy"]


def test_the_engine_emits_the_contract_events_and_without_an_actor_reports_would_act(
    gpu_engine: Any,
) -> None:
    gpu_engine.tick(31)
    warning, would = _policy_events(gpu_engine)
    assert (warning["state"], would["state"]) == ("warning", "would-act")
    assert warning["seq"] < would["seq"]
    assert warning["notebook"] == "train.ipynb"
    (action,) = gpu_engine.status()["actions"]
    assert action["state"] == "would-act"
    assert action["resource"] == "gpu"
    assert gpu_engine.ledger.idle_actions() == [action]


def test_the_engine_hands_act_decisions_to_its_actor_and_records_what_it_did(
    gpu_engine: Any,
) -> None:
    handed: list[IdleDecision] = []
    gpu_engine.policy_actor = handed.append
    gpu_engine.tick(31)
    (decision,) = handed
    assert decision.state == "act"
    assert decision.rule.action == "shutdown"
    event = gpu_engine.acted(decision)
    assert event["state"] == "acted"
    assert event["avoided_per_hour"] == decision.per_hour
    assert [a["state"] for a in gpu_engine.ledger.idle_actions()] == ["acted"]


def test_a_keep_alive_written_by_another_process_is_read_from_the_ledger(
    gpu_engine: Any, clock: FakeClock
) -> None:
    other = Ledger(gpu_engine.ledger.url, clock=clock)  # what %mlops keep-alive does in a kernel
    try:
        other.keep_alive("k", clock.now + 3600, set_by="ana")
    finally:
        other.close()
    gpu_engine.tick(59)
    assert _policy_events(gpu_engine) == []
    assert set(gpu_engine.status()["keep_alive"]) == {"k"}
    gpu_engine.tick(2)  # the hour is over: warned at once
    assert [e["state"] for e in _policy_events(gpu_engine)] == ["warning"]
    gpu_engine.keep_alive("k", 30)  # the REST endpoint's way: cleared at the next tick
    gpu_engine.tick(1)
    assert [e["state"] for e in _policy_events(gpu_engine)] == ["warning", "cleared"]
    assert gpu_engine.keep_alive("k", 0) == 0.0
    assert gpu_engine.ledger.keep_alives() == {}


def test_purge_drops_old_idle_actions_and_ended_keep_alives(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with Ledger(f"sqlite:///{tmp_path / 'cost.db'}", retention_days=30, clock=lambda: now) as led:
        led.record_idle_action({"time": now - 40 * 86400, "kernel_id": "old", "state": "acted"})
        led.record_idle_action({"time": now - 3600, "kernel_id": "new", "state": "acted"})
        led.keep_alive("ended", now + 60)
        led.keep_alive("kept", now + 7200)
        led.purge(now + 120)
        assert [a["kernel_id"] for a in led.idle_actions()] == ["new"]
        assert set(led.keep_alives(now)) == {"kept"}


def test_a_decision_the_server_did_not_carry_out_withdraws_its_warning(gpu_engine: Any) -> None:
    handed: list[IdleDecision] = []
    gpu_engine.policy_actor = handed.append
    gpu_engine.tick(31)
    (decision,) = handed
    event = gpu_engine.left_alone(decision, "busy again")
    assert event["state"] == "cleared"
    assert event["message"].endswith("and is busy again: nothing will be done")
    assert gpu_engine.status()["actions"] == []
