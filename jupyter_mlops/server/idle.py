"""The server side of the idle policy: it applies the engine's decisions to the server's kernels.

:class:`IdlePolicyDriver`, built by the extension app once the cost engine runs:

* every second (:meth:`IdlePolicyDriver.tick`, a tornado ``PeriodicCallback``) tells
  the engine which kernels execute a cell now (``execution_state == "busy"`` in the
  kernel manager's model; the policy never touches them);
* receives the engine's decisions to act (on the sampler thread) and applies them on
  the event loop: ``interrupt`` interrupts the kernel; ``shutdown`` tags the kernel's
  RUNNING run (``mlops.kernel_id``) ``mlops.killed_reason=idle-gpu`` (``idle-cpu``),
  shuts the kernel down, then ends the run KILLED (after the kernel, so that what
  the kernel writes as it exits does not overwrite it). MLflow and the ledger are
  reached in the service's thread pool, never on the loop. Each action is logged
  (WARNING) with the kernel, notebook, user and cost so far.

:func:`feed_activity` (also every few seconds, with or without compute cost): while
this server runs tracked background work (a pipeline launch or a scheduled firing,
both in the launch registry, not ended), it sets ``jupyter_mlops_last_activity`` in
the tornado settings: jupyter_server's ``last_activity()`` reads every
``*_last_activity`` setting, so ``/api/status`` (what hub cullers read) counts that
work as activity.

Only kernels of this server's kernel manager are touched: pipeline executions and
scheduled jobs run in kernels papermill starts, which the manager does not own
(they are not even cost targets here). A kernel that turned busy since the decision
is left alone. ``idle_policy_dry_run`` never reaches this module: the engine reports
``would-act`` instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from jupyter_mlops.core.cost.money import format_money
from jupyter_mlops.core.tags import KILLED_REASON

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.engine import CostEngine
    from jupyter_mlops.core.cost.policy import IdleDecision
    from jupyter_mlops.core.pipeline.launches import LaunchRegistry
    from jupyter_mlops.server.service import MlopsService

__all__ = ["ACTIVITY_SETTING", "IdlePolicyDriver", "end_killed", "feed_activity", "tag_kernel_run"]

ACTIVITY_SETTING = "jupyter_mlops_last_activity"
"""The tornado setting jupyter_server's ``last_activity()`` reads (any ``*_last_activity``)."""


def tag_kernel_run(client: Any, kernel_id: str, reason: str) -> str:
    """Tag the RUNNING run of ``kernel_id`` with ``mlops.killed_reason``; its id ("" if none). Blocking."""
    from jupyter_mlops.server.cost import running_runs_by_kernel

    run = running_runs_by_kernel(client).get(kernel_id)
    if run is None:
        return ""
    client.set_tag(run.run_id, KILLED_REASON, reason)
    return run.run_id


def end_killed(client: Any, run_id: str) -> None:
    """End ``run_id`` KILLED (whatever its kernel wrote as it exited). Blocking."""
    client.set_terminated(run_id, "KILLED")


def feed_activity(settings: dict[str, Any], launches: LaunchRegistry) -> bool:
    """Set :data:`ACTIVITY_SETTING` to now while a launch (pipeline run or scheduled firing)
    has not ended; whether one runs."""
    from jupyter_mlops.core.pipeline.model import TERMINAL

    active = any(launch["status"] not in TERMINAL for launch in launches.list())
    if active:
        settings[ACTIVITY_SETTING] = dt.datetime.now(dt.timezone.utc)
    return active


class IdlePolicyDriver:
    """Applies the idle policy's decisions with the kernel manager (module docstring)."""

    def __init__(
        self,
        engine: CostEngine,
        kernel_manager: Any,
        service: MlopsService,
        *,
        log: logging.Logger | None = None,
    ) -> None:
        self.engine = engine
        self.kernel_manager = kernel_manager
        self.service = service
        self.log = log or logging.getLogger("jupyter_mlops.cost")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        """Take the engine's decisions to act (call on the event loop)."""
        self.loop = asyncio.get_running_loop()
        self.engine.policy_actor = self.decided

    def decided(self, decision: IdleDecision) -> None:
        """From the sampler thread: apply ``decision`` on the event loop."""
        if self.loop is None:
            return
        try:
            self.loop.call_soon_threadsafe(self._spawn, decision)
        except RuntimeError:  # the loop closed: the server is stopping
            self.log.debug("jupyter-mlops: idle policy: loop closed, %s dropped", decision.state)

    def _spawn(self, decision: IdleDecision) -> None:
        task = asyncio.ensure_future(self.apply(decision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _busy(self) -> frozenset[str]:
        busy = set()
        for kid in list(self.kernel_manager.list_kernel_ids()):
            try:
                kernel = self.kernel_manager.get_kernel(kid)
            except KeyError:
                continue
            if getattr(kernel, "execution_state", "") == "busy":
                busy.add(kid)
        return frozenset(busy)

    def tick(self) -> None:
        """Tell the engine which kernels execute a cell now."""
        self.engine.set_busy(self._busy())

    async def apply(self, decision: IdleDecision) -> None:
        """Interrupt or shut down the decision's kernel, then report it to the engine."""
        kid = decision.labels.get("kernel_id") or decision.target_id
        if kid not in set(self.kernel_manager.list_kernel_ids()):
            return  # not this server's kernel (or gone already): never touched
        kernel = self.kernel_manager.get_kernel(kid)
        if getattr(kernel, "execution_state", "") == "busy":
            self.log.info("jupyter-mlops: idle policy: kernel %s is busy again, left alone", kid)
            self.engine.left_alone(decision, "busy again")
            return
        try:
            if decision.rule.action == "interrupt":
                await self.kernel_manager.interrupt_kernel(kid)
            else:
                await self._shutdown(kid, f"idle-{decision.rule.resource}")
        except Exception as exc:
            self.log.error(
                "jupyter-mlops: idle policy: %s of kernel %s failed: %s",
                decision.rule.action,
                kid,
                exc,
            )
            return
        self.log.warning(
            "jupyter-mlops: idle policy: %s kernel %s (notebook %r, user %r, project %r): "
            "%s burned while idle, %s/h avoided",
            "interrupted" if decision.rule.action == "interrupt" else "shut down",
            kid,
            decision.labels.get("notebook", ""),
            decision.labels.get("user", ""),
            decision.labels.get("project", ""),
            format_money(decision.burned, decision.currency),
            format_money(decision.per_hour, decision.currency),
        )
        await self.service.run(self.engine.acted, decision)

    async def _shutdown(self, kid: str, reason: str) -> None:
        run_id = ""
        try:
            run_id = await self.service.call(tag_kernel_run, kid, reason)
        except Exception as exc:  # the kernel still goes: it is what costs money
            self.log.warning(
                "jupyter-mlops: idle policy: finding kernel %s's run failed: %s", kid, exc
            )
        await self.kernel_manager.shutdown_kernel(kid)
        if run_id:
            await self.service.call(end_killed, run_id)
