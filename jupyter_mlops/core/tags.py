"""Every ``mlops.*`` tag name we write on MLflow runs, one constant each.

The one vocabulary: code that writes or reads one of these tags imports the
constant, never spells the string. The panel's copy
(``labextension/src/api/tags.ts``) is checked against this module by
``tests/python/test_tags_vocabulary.py``.

MLflow's own tag names (``mlflow.runName``, ``mlflow.parentRunId``,
``mlflow.source.name``) are MLflow's and are not listed here.
"""

from __future__ import annotations

from typing import Final

# -- where a run comes from (core/tracking/context.py) ----------------------
NOTEBOOK: Final = "mlops.notebook"
PROJECT: Final = "mlops.project"
HOST: Final = "mlops.host"
PID: Final = "mlops.pid"
KERNEL_ID: Final = "mlops.kernel_id"
GIT_DIRTY: Final = "mlops.git.dirty"
RUN_TYPE: Final = "mlops.runType"

# -- who owns a RUNNING run, and why it was ended (core/tracking/mlflow_context.py)
OWNER: Final = "mlops.owner"
KILLED_REASON: Final = "mlops.killed_reason"

# -- pipelines (core/pipeline/) ------------------------------------------------
PIPELINE_NAME: Final = "mlops.pipeline.name"
PIPELINE_PATH: Final = "mlops.pipeline.path"
PIPELINE_STEP: Final = "mlops.pipeline.step"
PIPELINE_TRIAL: Final = "mlops.pipeline.trial"
PIPELINE_EXECUTION: Final = "mlops.pipeline.execution"
PIPELINE_CACHE_KEY: Final = "mlops.pipeline.cacheKey"
"""A FINISHED execution's cache key: notebook, parameters, inputs, environment, upstream keys."""
PIPELINE_OUTPUTS: Final = "mlops.pipeline.outputs"
"""With the cache key: JSON digest of what the execution wrote (checked before reuse)."""
PIPELINE_CACHE_HIT: Final = "mlops.pipeline.cacheHit"
"""On a child run that did not execute: the run id whose results it reuses."""
PIPELINE_ATTEMPT: Final = "mlops.pipeline.attempt"
"""1 for the first attempt of an execution, 2 for its first retry, ..."""
PIPELINE_RESUMED_FROM: Final = "mlops.pipeline.resumedFrom"
"""On a pipeline run started with --resume: the pipeline run it resumes."""
SCHEDULE_ID: Final = "mlops.schedule.id"
"""On every run of a scheduled firing (parent and children): the schedule's id."""
SCHEDULE_FIRE_TIME: Final = "mlops.schedule.fireTime"
"""The firing time (ISO 8601, UTC) this scheduled run is for."""
STATUS_REASON: Final = "mlops.status.reason"
ERROR: Final = "mlops.error"

# -- environment (core/environment/) ---------------------------------------------
ENV_HASH: Final = "mlops.env.hash"
ENV_PYTHON: Final = "mlops.env.python"
ENV_KIND: Final = "mlops.env.kind"
ENV_PACKAGES: Final = "mlops.env.packages"

# -- cost (core/cost/) -----------------------------------------------------------
COST_PRICING: Final = "mlops.cost.pricing"
COST_CURRENCY: Final = "mlops.cost.currency"
COST_MODE: Final = "mlops.cost.mode"
COST_CATALOGUE_AS_OF: Final = "mlops.cost.catalogue_as_of"
COST_INSTANCE: Final = "mlops.cost.instance"
COST_CARBON_INTENSITY: Final = "mlops.cost.carbon_intensity"
COST_CARBON_SOURCE: Final = "mlops.cost.carbon_source"
ADVICE_INSTANCE: Final = "mlops.advice.instance"
ADVICE_SAVING_PER_HOUR: Final = "mlops.advice.saving_per_hour"

# -- values of RUN_TYPE ------------------------------------------------------------
RUN_TYPE_PIPELINE: Final = "pipeline"
RUN_TYPE_PIPELINE_STEP: Final = "pipeline-step"


def all_tags() -> dict[str, str]:
    """Constant name -> tag, for every ``mlops.*`` tag above (the vocabulary test reads it)."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and isinstance(value, str) and value.startswith("mlops.")
    }
