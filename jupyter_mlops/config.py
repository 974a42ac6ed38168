"""The one configuration surface of jupyter-mlops, shared by server, kernel and CLI.

Values come from traitlets config files (``c.MlopsConfig.tracking_uri = ...``),
then environment variables, then defaults. The server exports the resolved
values to its kernels through the environment (``MLFLOW_TRACKING_URI``,
``JUPYTER_MLOPS_ROOT_DIR``, ``JUPYTER_MLOPS_PROJECT``), so a notebook in a
subfolder logs to the same store as the panel reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets import Bool, CaselessStrEnum, Dict, Float, List, Unicode, default
from traitlets.config import Configurable

from jupyter_mlops.exceptions import ConfigError

if TYPE_CHECKING:
    from jupyter_mlops.core.cost.engine import CostSettings

__all__ = [
    "ENV_COST_BUDGETS",
    "ENV_COST_CATALOGUE",
    "ENV_COST_LEDGER",
    "ENV_MLFLOW_UI_URL",
    "ENV_PROJECT",
    "ENV_ROOT_DIR",
    "ENV_SPOOL_DIR",
    "MlopsConfig",
    "cost_settings",
    "default_spool_dir",
]

ENV_ROOT_DIR = "JUPYTER_MLOPS_ROOT_DIR"
ENV_PROJECT = "JUPYTER_MLOPS_PROJECT"
ENV_SPOOL_DIR = "JUPYTER_MLOPS_SPOOL_DIR"
ENV_COST_CATALOGUE = "JUPYTER_MLOPS_COST_CATALOGUE"
ENV_COST_LEDGER = "JUPYTER_MLOPS_COST_LEDGER"
ENV_COST_BUDGETS = "JUPYTER_MLOPS_COST_BUDGETS"
ENV_MLFLOW_UI_URL = "JUPYTER_MLOPS_MLFLOW_UI_URL"


def default_spool_dir() -> Path:
    """Where unsent metrics wait: ``$JUPYTER_MLOPS_SPOOL_DIR`` or the user data dir."""
    env = os.environ.get(ENV_SPOOL_DIR)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "jupyter-mlops" / "spool"


def _env_default(trait: str, env: str) -> Any:
    """A ``@default`` for ``trait``: the value of the environment variable ``env``, else ``""``."""

    def _default(self: Configurable) -> str:
        return os.environ.get(env, "")

    return default(trait)(_default)


#: ``CostSettings`` fields that are the ``cost_<field>`` traits of the same name.
_COST_FIELDS = (
    "interval ledger_url retention_days pricing_mode instance instance_hourly "
    "catalogue_file currency currency_factor"
)


class MlopsConfig(Configurable):
    """Settings for tracking, shared by the server extension, the kernel side and the CLI."""

    root_dir = Unicode(
        help=(
            "Folder whose mlflow.db is the default store, and whose name is the default "
            "project. Defaults to $JUPYTER_MLOPS_ROOT_DIR, else the current directory."
        ),
    ).tag(config=True)

    tracking_uri = Unicode(
        "",
        help=(
            "MLflow tracking URI (sqlite:///path/mlflow.db, http://mlflow.example:5000, ...). "
            "Empty: $MLFLOW_TRACKING_URI, else sqlite:///<root_dir>/mlflow.db."
        ),
    ).tag(config=True)

    project = Unicode(
        "",
        help=(
            "Project recorded on every run. Empty: $JUPYTER_MLOPS_PROJECT, else the name of "
            "the git repository containing root_dir, else the root_dir folder name."
        ),
    ).tag(config=True)

    spool_dir = Unicode(
        help="Folder of the durable metric spool. Defaults to $JUPYTER_MLOPS_SPOOL_DIR "
        "or ~/.local/share/jupyter-mlops/spool.",
    ).tag(config=True)

    mlflow_ui_url = Unicode(
        help="Address of an MLflow UI that shows this store (for example "
        "http://mlflow.example:5000): the panel links each run to "
        "<url>/#/experiments/<id>/runs/<id>. Only http and https addresses are used. "
        "Empty: $JUPYTER_MLOPS_MLFLOW_UI_URL, else no link; the panel then shows the "
        "'mlflow ui --backend-store-uri ...' command for this store.",
    ).tag(config=True)

    notebook_report = Bool(
        help="When a run ends, log the notebook as saved (notebook/<name>.ipynb) and an HTML "
        "report of it rendered with nbconvert (notebook/<name>.html), in the background. "
        "Default: $JUPYTER_MLOPS_NOTEBOOK_REPORT (0/false turns it off), else on.",
    ).tag(config=True)

    flush_interval = Float(
        0.5,
        help="Seconds between background deliveries of spooled metrics to the store.",
    ).tag(config=True)

    # -- compute cost (see jupyter_mlops.core.cost) ------------------------------------

    cost_enabled = Bool(
        True,
        help="Measure the CPU, memory and GPU use of every kernel and price it (the server's "
        "cost sampler, the Cost view, /jupyter-mlops/api/cost). False: no sampler thread.",
    ).tag(config=True)

    cost_interval = Float(
        1.0,
        help="Seconds between two samples of every kernel's process tree (one thread for all).",
    ).tag(config=True)

    cost_ledger_url = Unicode(
        help="Where the cost ledger (per-minute cost rows) is kept: any SQLAlchemy URL "
        "(sqlite:///path/cost.db, postgresql://host/db for a ledger shared by several "
        "servers), or 'memory' for none. Defaults to $JUPYTER_MLOPS_COST_LEDGER, else "
        "mlops-cost.db beside the embedded MLflow store (<root_dir>/mlops-cost.db), so a "
        "report in a project folder shows that folder's work.",
    ).tag(config=True)

    cost_retention_days = Float(
        90.0, help="Days of per-minute cost rows the ledger keeps before purging them."
    ).tag(config=True)

    cost_currency = Unicode(
        "",
        help="Currency to show cost in (e.g. EUR). Empty: the price catalogue's (USD). "
        "Prices are converted with cost_currency_factor.",
    ).tag(config=True)

    cost_currency_factor = Float(
        1.0, help="Catalogue currency -> cost_currency conversion factor (1 USD = this many)."
    ).tag(config=True)

    cost_catalogue_file = Unicode(
        help="A YAML price catalogue replacing or overriding the built-in one (rates, GPU and "
        "instance prices). Defaults to $JUPYTER_MLOPS_COST_CATALOGUE, else the built-in one.",
    ).tag(config=True)

    cost_pricing_mode = CaselessStrEnum(
        ["per-resource", "instance"],
        default_value="per-resource",
        help="per-resource: CPU core-hours, RAM GB-hours, GPU-hours and energy each priced; "
        "instance: this machine priced as a whole (cost_instance or cost_instance_hourly), "
        "shared between the kernels by use.",
    ).tag(config=True)

    cost_instance = Unicode(
        "",
        help="Catalogue key of the instance this server runs on (for example aws:g5.xlarge), "
        "used when cost_pricing_mode is instance.",
    ).tag(config=True)

    cost_instance_hourly = Float(
        0.0,
        help="Hourly price of this machine, used when cost_pricing_mode is instance and "
        "cost_instance is empty.",
    ).tag(config=True)

    cost_idle_gpu_util_pct = Float(
        5.0, help="A held GPU used below this utilisation (percent) counts as idle."
    ).tag(config=True)

    cost_idle_gpu_minutes = Float(
        10.0, help="Minutes a kernel may hold an idle GPU before the idle-GPU alert fires."
    ).tag(config=True)

    cost_budgets = List(
        Dict(),
        help="Budgets per project, announced at 80% and 100% once per period: "
        '[{"project": "churn", "amount": 100, "period": "month"}, ...] '
        "(period day, week or month, UTC; amount in the cost currency). With "
        '"hard": true, new pipeline launches of the project are refused once it is spent. '
        "Defaults to "
        "$JUPYTER_MLOPS_COST_BUDGETS (the same list as JSON), which the server sets for its "
        "kernels so that %mlops warns in them too.",
    ).tag(config=True)

    idle_policy = List(
        Dict(),
        help="What to do about kernels that hold resources idle, one rule per resource: "
        '[{"resource": "gpu", "threshold_pct": 5, "after_minutes": 20, "grace_minutes": 10, '
        '"action": "shutdown"}]. resource: gpu (a kernel holding GPU memory below threshold_pct '
        "utilisation) or cpu (a kernel below threshold_pct of one core); after_minutes of that "
        "and a warning is sent; grace_minutes later the action is taken: notify (warn only), "
        "interrupt (interrupt the kernel to release what a running cell holds) or shutdown. A "
        "kernel executing a cell, running a tracked pipeline execution or scheduled job, or "
        "marked with %mlops keep-alive is never touched. A rule that does not parse is logged "
        "and becomes notify.",
    ).tag(config=True)

    idle_policy_dry_run = Bool(
        False,
        help="Log and notify what the idle policy would do, without interrupting or shutting "
        "down any kernel.",
    ).tag(config=True)

    notify_urls = List(
        Unicode(),
        help="Where notifications go besides JupyterLab: apprise URLs (slack://..., msteams://..., "
        "mailto://..., json://host/path for a webhook). Each event is sent once; the secrets in "
        "these URLs never appear in logs, tags or the panel.",
    ).tag(config=True)

    notify_finished = Bool(
        False,
        help="Also notify pipeline and schedule runs that end FINISHED (FAILED and KILLED always are).",
    ).tag(config=True)

    carbon_region = Unicode(
        "",
        help="Where this server's electricity comes from, for gCO2e: an ISO 3166 alpha-3 country "
        "code (DEU, USA, FRA) or a Google Cloud region (gcp:europe-west1; for AWS and Azure use the "
        "country of the region, e.g. USA for aws:us-east-1). Empty: the "
        "world average. See docs/carbon.md for the source and date of the intensities.",
    ).tag(config=True)

    carbon_intensity = Float(
        0.0,
        help="Grid carbon intensity in gCO2e per kWh; above 0 it replaces carbon_region's figure.",
    ).tag(config=True)

    @default("cost_budgets")
    def _default_cost_budgets(self) -> list[dict[str, Any]]:
        raw = os.environ.get(ENV_COST_BUDGETS, "")
        if not raw:
            return []
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(
                f"${ENV_COST_BUDGETS} is not JSON: {exc}",
                hint='write it as [{"project": "p", "amount": 100, "period": "week"}]',
            ) from exc
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ConfigError(f"${ENV_COST_BUDGETS} must be a JSON list of objects")
        return value

    _default_cost_ledger_url = _env_default("cost_ledger_url", ENV_COST_LEDGER)
    _default_cost_catalogue_file = _env_default("cost_catalogue_file", ENV_COST_CATALOGUE)
    _default_mlflow_ui_url = _env_default("mlflow_ui_url", ENV_MLFLOW_UI_URL)

    @default("notebook_report")
    def _default_notebook_report(self) -> bool:
        from jupyter_mlops.core.tracking.report import reports_enabled

        return reports_enabled()

    @default("root_dir")
    def _default_root_dir(self) -> str:
        return os.environ.get(ENV_ROOT_DIR) or os.getcwd()

    @default("spool_dir")
    def _default_spool_dir(self) -> str:
        return str(default_spool_dir())

    def resolved_tracking_uri(self) -> str:
        """The tracking URI in force: config, then ``MLFLOW_TRACKING_URI``, then the embedded store."""
        from jupyter_mlops.core.tracking.store import resolve_tracking_uri

        return resolve_tracking_uri(self.tracking_uri or None, Path(self.root_dir))

    def resolved_project(self) -> str:
        """The project in force: config, then ``JUPYTER_MLOPS_PROJECT``, then git repo or folder name."""
        from jupyter_mlops.core.tracking.context import default_project

        return self.project or os.environ.get(ENV_PROJECT) or default_project(Path(self.root_dir))


def cost_settings(config: MlopsConfig) -> CostSettings:
    """The core :class:`~jupyter_mlops.core.cost.CostSettings` the ``cost_*`` traits describe."""
    from jupyter_mlops.core.cost.engine import CostSettings
    from jupyter_mlops.core.cost.ledger import default_ledger_url

    same_name = {name: getattr(config, f"cost_{name}") for name in _COST_FIELDS.split()}
    if not same_name["ledger_url"]:  # beside the embedded store: this folder's work
        same_name["ledger_url"] = default_ledger_url(
            config.root_dir, config.resolved_tracking_uri()
        )
    return CostSettings(
        **same_name,
        idle_util_pct=config.cost_idle_gpu_util_pct,
        idle_minutes=config.cost_idle_gpu_minutes,
        budgets=[dict(b) for b in config.cost_budgets],
        carbon_region=config.carbon_region,
        carbon_intensity=config.carbon_intensity,
        idle_policy=list(config.idle_policy),
        idle_policy_dry_run=config.idle_policy_dry_run,
    )
