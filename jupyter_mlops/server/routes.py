"""THE route table of the REST API: every ``(pattern, handler)`` the extension serves.

The contract is ``api/openapi.yaml``; a test checks this table against it both
ways (every route documented with its methods, every documented operation
served) and that every handler method is authenticated, then authorized on an
``mlops:`` resource. A new route is a line here and a path there.
Patterns are relative to the server's ``base_url``.
"""

from __future__ import annotations

from jupyter_mlops.server.artifact_handlers import (
    ArtifactPreviewHandler,
    ArtifactRawHandler,
    ArtifactsHandler,
    MlflowUiHandler,
)
from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.cost_handlers import (
    CostAdviceHandler,
    CostBudgetsHandler,
    CostHistoryHandler,
    CostKeepAliveHandler,
    CostReportHandler,
    CostStatusHandler,
)
from jupyter_mlops.server.env_handlers import (
    CurrentEnvironmentHandler,
    EnvironmentDiffHandler,
    RunEnvironmentHandler,
)
from jupyter_mlops.server.events import EventsHandler
from jupyter_mlops.server.metrics_handler import METRICS_PATH, MetricsHandler
from jupyter_mlops.server.pipeline_handlers import (
    LaunchCancelHandler,
    LaunchesHandler,
    LaunchHandler,
    PipelineExportHandler,
    PipelineParametersHandler,
    PipelinesHandler,
)
from jupyter_mlops.server.run_edit_handlers import (
    DeletedRunsHandler,
    RunDeleteHandler,
    RunNoteHandler,
    RunRenameHandler,
    RunRestoreHandler,
    RunTagsHandler,
)
from jupyter_mlops.server.runs_handlers import (
    ExperimentsHandler,
    HealthHandler,
    MetricHistoryHandler,
    RunHandler,
    RunsHandler,
)
from jupyter_mlops.server.schedule_handlers import (
    ScheduleHandler,
    SchedulePauseHandler,
    ScheduleResumeHandler,
    ScheduleRunNowHandler,
    SchedulesHandler,
)

__all__ = ["API_PREFIX", "ROUTES"]

API_PREFIX = "/jupyter-mlops/api"

ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    # tracking store
    (f"{API_PREFIX}/health", HealthHandler),
    (f"{API_PREFIX}/experiments", ExperimentsHandler),
    (f"{API_PREFIX}/runs", RunsHandler),
    (f"{API_PREFIX}/runs/([^/]+)", RunHandler),
    (f"{API_PREFIX}/runs/([^/]+)/metrics/(.+)", MetricHistoryHandler),
    # run edits (write)
    (f"{API_PREFIX}/runs/([^/]+)/rename", RunRenameHandler),
    (f"{API_PREFIX}/runs/([^/]+)/tags", RunTagsHandler),
    (f"{API_PREFIX}/runs/([^/]+)/note", RunNoteHandler),
    (f"{API_PREFIX}/runs/([^/]+)/delete", RunDeleteHandler),
    (f"{API_PREFIX}/runs/([^/]+)/restore", RunRestoreHandler),
    (f"{API_PREFIX}/deleted-runs", DeletedRunsHandler),
    # environment snapshots
    (f"{API_PREFIX}/runs/([^/]+)/environment", RunEnvironmentHandler),
    (f"{API_PREFIX}/environment/current", CurrentEnvironmentHandler),
    (f"{API_PREFIX}/environment/diff", EnvironmentDiffHandler),
    # compute cost
    (f"{API_PREFIX}/cost", CostStatusHandler),
    (f"{API_PREFIX}/cost/report", CostReportHandler),
    (f"{API_PREFIX}/cost/history", CostHistoryHandler),
    (f"{API_PREFIX}/cost/budgets", CostBudgetsHandler),
    (f"{API_PREFIX}/cost/advice", CostAdviceHandler),
    (f"{API_PREFIX}/cost/keep-alive", CostKeepAliveHandler),
    # notification events (idle policy, budgets, ended pipeline runs)
    (f"{API_PREFIX}/events", EventsHandler),
    # pipelines
    (f"{API_PREFIX}/pipelines", PipelinesHandler),
    (f"{API_PREFIX}/pipelines/parameters", PipelineParametersHandler),
    (f"{API_PREFIX}/pipelines/export", PipelineExportHandler),
    (f"{API_PREFIX}/pipelines/runs", LaunchesHandler),
    (f"{API_PREFIX}/pipelines/runs/([^/]+)", LaunchHandler),
    (f"{API_PREFIX}/pipelines/runs/([^/]+)/cancel", LaunchCancelHandler),
    (f"{API_PREFIX}/pipelines/schedules", SchedulesHandler),
    (f"{API_PREFIX}/pipelines/schedules/([^/]+)", ScheduleHandler),
    (f"{API_PREFIX}/pipelines/schedules/([^/]+)/pause", SchedulePauseHandler),
    (f"{API_PREFIX}/pipelines/schedules/([^/]+)/resume", ScheduleResumeHandler),
    (f"{API_PREFIX}/pipelines/schedules/([^/]+)/run-now", ScheduleRunNowHandler),
    # artifacts and the MLflow UI
    (f"{API_PREFIX}/runs/([^/]+)/artifacts", ArtifactsHandler),
    (f"{API_PREFIX}/runs/([^/]+)/artifacts/preview", ArtifactPreviewHandler),
    (f"{API_PREFIX}/runs/([^/]+)/artifacts/raw", ArtifactRawHandler),
    (f"{API_PREFIX}/mlflow-ui", MlflowUiHandler),
    # Prometheus scrapes (beside the API, not under it; see metrics_handler)
    (METRICS_PATH, MetricsHandler),
]
"""``(pattern, handler)`` pairs, in the order tornado tries them; ``base_url`` is prepended."""
