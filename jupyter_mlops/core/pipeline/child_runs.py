"""The MLflow side of a pipeline run: the parent run, one child run per attempt, their ends.

Used by :mod:`.runner`. Children are created SCHEDULED (run name ``STEP``,
``STEP-tN`` in a sweep, ``STEP (attempt N)`` for a retry; tags
``mlflow.parentRunId``, ``mlops.runType=pipeline-step``, the step, trial and
attempt) with the environment their kernel gets (``JUPYTER_MLOPS_RUN_ID``,
``MLFLOW_RUN_ID``, ``JUPYTER_MLOPS_PROJECT``, ...). The parent and every child
carry ``mlflow.user`` and ``mlops.project`` as a notebook's own run does
(:func:`owner_tags`). A FINISHED execution records its cache key and the
digest of what it wrote (:mod:`.cache`); a cache hit is a child that ends
FINISHED at once with ``mlops.pipeline.cacheHit`` = the run that executed,
that run's parameters and metrics (not its cost), and nothing else.
:func:`resume_sources` checks a ``--resume`` run id and finds what it finished.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_mlops.core import tags
from jupyter_mlops.core.pipeline.cache import CacheIndex, CacheSource, reusable_metrics
from jupyter_mlops.core.pipeline.model import FINISHED, KILLED, Execution, ExecutionResult
from jupyter_mlops.core.pipeline.plan import RunPlan
from jupyter_mlops.exceptions import UsageError

__all__ = ["ENV_PROJECT", "PipelineRuns", "cache_sources", "owner_tags", "resume_sources"]

ENV_PROJECT = "JUPYTER_MLOPS_PROJECT"  # as config.ENV_PROJECT (core does not import config)

_PARAM_MAX = 6000
_KEY_UNSAFE = re.compile(r"[^\w.\-/ ]")
_RUN_ID = re.compile(r"^[\w\-]{1,64}$")
_SEARCH_MAX = 1000


def _sweep_params(plan: RunPlan) -> list[tuple[str, str]]:
    def text(value: object) -> str:
        return json.dumps(value, allow_nan=False, default=str)[:_PARAM_MAX]

    params = [("pipeline.trials", str(len(plan.trials)))]
    for name, value in plan.sweep.get("overrides", {}).items():
        params.append((f"override.{name}", text(value)))
    for name, values in plan.sweep.get("grid", {}).items():
        params.append((f"grid.{name}", text(values)))
    if plan.sweep.get("param_sets"):
        params.append(("param_sets", text(plan.sweep["param_sets"])))
    return [(_KEY_UNSAFE.sub("_", k)[:250], v) for k, v in params]


def owner_tags(root: Path) -> dict[str, str]:
    """``mlflow.user`` and ``mlops.project`` from the sources a notebook's run reads them from.

    The user is the OS account (:func:`~jupyter_mlops.core.tracking.context.current_user`,
    as in a kernel, whether the CLI or the Jupyter server started the run); the
    project is ``$JUPYTER_MLOPS_PROJECT`` (the server exports its resolved one),
    else the git repository or folder name of ``root``.
    """
    from jupyter_mlops.core.tracking.context import current_user, default_project

    project = os.environ.get(ENV_PROJECT) or default_project(root)
    return {"mlflow.user": current_user(), tags.PROJECT: project}


class PipelineRuns:
    """The runs of one pipeline run in the store ``client`` (experiment ``experiment_id``)."""

    def __init__(
        self,
        client: Any,
        plan: RunPlan,
        experiment_id: str,
        tracking_uri: str,
        extra_tags: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.plan = plan
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri
        self.extra_tags = {**owner_tags(plan.root), **(extra_tags or {})}
        self.parent = ""

    def create_parent(self, resumed_from: str | None = None) -> str:
        """The pipeline run (``mlops.runType=pipeline``) with the sweep's definition as params."""
        from mlflow.entities import Param

        plan = self.plan
        run_tags = {
            tags.PIPELINE_NAME: plan.name,
            tags.PIPELINE_PATH: plan.to_dict()["target"],
            tags.RUN_TYPE: tags.RUN_TYPE_PIPELINE,
            **self.extra_tags,
        }
        if resumed_from:
            run_tags[tags.PIPELINE_RESUMED_FROM] = resumed_from
        run = self.client.create_run(self.experiment_id, run_name=plan.name, tags=run_tags)
        self.parent = str(run.info.run_id)
        params = [Param(k, v) for k, v in _sweep_params(plan)]
        for start in range(0, len(params), 100):
            self.client.log_batch(self.parent, params=params[start : start + 100])
        return self.parent

    def create_child(self, execution: Execution, attempt: int = 1) -> Execution:
        """A SCHEDULED child run for ``execution``'s attempt ``attempt``; the execution bound to it."""
        name = (
            execution.step if len(self.plan.trials) == 1 else f"{execution.step}-t{execution.trial}"
        )
        if attempt > 1:
            name = f"{name} (attempt {attempt})"
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={
                "mlflow.parentRunId": self.parent,
                tags.RUN_TYPE: tags.RUN_TYPE_PIPELINE_STEP,
                tags.PIPELINE_NAME: self.plan.name,
                tags.PIPELINE_STEP: execution.step,
                tags.PIPELINE_TRIAL: str(execution.trial),
                tags.PIPELINE_ATTEMPT: str(attempt),
                **self.extra_tags,
            },
        )
        run_id = str(run.info.run_id)
        env = {
            **execution.env,
            "JUPYTER_MLOPS_RUN_ID": run_id,
            # MLflow's own calls in the notebook resume the execution's run
            # (mlflow.start_run, log_*, autolog), as under `mlflow run`
            "MLFLOW_RUN_ID": run_id,
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MLFLOW_EXPERIMENT_ID": self.experiment_id,
            ENV_PROJECT: self.extra_tags[tags.PROJECT],
        }
        self.client.update_run(run_id, status="SCHEDULED")
        return replace(
            execution, run_id=run_id, tracking_uri=self.tracking_uri, env=env, attempt=attempt
        )

    def record(
        self, run_id: str, result: ExecutionResult, cache: tuple[str, str] | None = None
    ) -> None:
        """The child's terminal status from ``result``; ``cache`` = (key, outputs digest) tags."""
        from jupyter_mlops.core.tracking.query import _mlflow_errors, scrub_credentials

        with _mlflow_errors(run_id=run_id):
            run_tags: dict[str, str] = {}
            if result.status != FINISHED:
                run_tags[tags.STATUS_REASON] = result.reason or "error"
                if result.reason == "budget":  # as an idle kernel's run says idle-gpu
                    run_tags[tags.KILLED_REASON] = "budget"
                if result.error:
                    run_tags[tags.ERROR] = scrub_credentials(result.error)[:1000]
            elif cache is not None:
                run_tags[tags.PIPELINE_CACHE_KEY], run_tags[tags.PIPELINE_OUTPUTS] = cache
            for key, value in run_tags.items():
                self.client.set_tag(run_id, key, value)
            end = int(result.ended * 1000) if result.ended else None
            self.client.set_terminated(run_id, status=result.status, end_time=end)
            if not result.metrics and result.status != KILLED:
                metrics = self.client.get_run(run_id).data.metrics
                result.metrics = {k: float(v) for k, v in metrics.items()}

    def record_hit(
        self, execution: Execution, source: CacheSource, key: str, digest: str | None
    ) -> ExecutionResult:
        """End ``execution``'s child FINISHED as a reuse of ``source``; its result."""
        from mlflow.entities import Metric, Param, RunTag

        from jupyter_mlops.core.pipeline.execute_tracking import notebook_tag
        from jupyter_mlops.core.tracking.query import _mlflow_errors

        now = time.time()
        run_id = execution.run_id or ""
        metrics = reusable_metrics(source.metrics)
        run_tags = {
            tags.PIPELINE_CACHE_HIT: source.origin,
            tags.PIPELINE_CACHE_KEY: key,
            tags.NOTEBOOK: notebook_tag(execution),
        }
        if digest is not None:
            run_tags[tags.PIPELINE_OUTPUTS] = digest
        stamp = int(now * 1000)
        params = [Param(k, v) for k, v in source.params.items()]
        with _mlflow_errors(run_id=run_id):
            self.client.log_batch(
                run_id,
                metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
                params=params[:100],
                tags=[RunTag(k, v) for k, v in run_tags.items()],
            )
            for start in range(100, len(params), 100):
                self.client.log_batch(run_id, params=params[start : start + 100])
            self.client.set_terminated(run_id, status=FINISHED, end_time=stamp)
        return ExecutionResult(
            execution.index,
            FINISHED,
            reason="cached",
            output=execution.output,
            started=now,
            ended=now,
            metrics=metrics,
            cache_hit=source.origin,
            attempt=execution.attempt,
        )


def _search(client: Any, experiment_id: str, where: str) -> list[Any]:
    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'FINISHED' and {where}",
            max_results=_SEARCH_MAX,
            order_by=["attributes.start_time DESC"],
        )
    )


def cache_sources(client: Any, experiment_id: str) -> CacheIndex:
    """The executed FINISHED runs of the experiment that carry a cache key (one search)."""
    where = f"tags.`{tags.PIPELINE_CACHE_KEY}` LIKE '%'"
    return CacheIndex.of(_search(client, experiment_id, where), executed_only=True)


def resume_sources(client: Any, run_id: str, plan: RunPlan) -> CacheIndex:
    """What pipeline run ``run_id`` finished; :class:`UsageError` when it is no pipeline run of
    ``plan``'s pipeline (nothing is stored)."""
    from mlflow.exceptions import MlflowException

    hint = "give the id of a pipeline run (the parent of the step runs) of this pipeline"
    run = None
    if _RUN_ID.match(run_id):
        try:
            run = client.get_run(run_id)
        except MlflowException:
            run = None
    if run is None:
        raise UsageError(f"--resume: no run {run_id[:64]!r} in the store", hint=hint)
    run_tags = run.data.tags
    if run_tags.get(tags.RUN_TYPE) != tags.RUN_TYPE_PIPELINE:
        raise UsageError(f"--resume: run {run_id} is not a pipeline run", hint=hint)
    if run_tags.get(tags.PIPELINE_NAME) != plan.name:
        raise UsageError(
            f"--resume: run {run_id} is a run of pipeline "
            f"{run_tags.get(tags.PIPELINE_NAME)!r}, not of {plan.name!r}",
            hint=hint,
        )
    where = f"tags.`mlflow.parentRunId` = '{run_id}'"
    return CacheIndex.of(_search(client, run.info.experiment_id, where), executed_only=False)
