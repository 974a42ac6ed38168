"""How a tracker gets its active run: create one, adopt MLflow's, or attach to a pipeline's.

* create: get-or-create the experiment race-safely, create the run with its
  context tags (:meth:`RunStart._create_run`);
* adopt (:mod:`.adopt`): MLflow's active run or ``$MLFLOW_RUN_ID`` becomes ours too;
  a log before any start adopts it *provisionally* (a spool only), a start
  completes the adoption (context tags, params, environment, cost);
* attach (:mod:`.attach`): under ``jupyter mlops run`` the execution's run.

Each makes the run active with its own spool (:meth:`RunStart._activate`), setting
the state of a run it is nested in aside.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from jupyter_mlops.core import tags as mlops_tags
from jupyter_mlops.core.models import RunInfo
from jupyter_mlops.core.redact import redact_uri
from jupyter_mlops.core.tracking import context, fluent
from jupyter_mlops.core.tracking.adopt import adoptable_run, adopted_run, default_experiment
from jupyter_mlops.core.tracking.adopt import mlflow_tracking_uri as fluent_tracking_uri
from jupyter_mlops.core.tracking.attach import (
    attached_run,
    executor_process,
    pipeline_run_id,
    pipeline_tracking_uri,
)
from jupyter_mlops.core.tracking.run_hooks import RunHooks
from jupyter_mlops.core.tracking.run_state import no_run
from jupyter_mlops.core.tracking.spool import Spool
from jupyter_mlops.core.tracking.spool_format import format_param
from jupyter_mlops.core.tracking.store import experiment_id as store_experiment_id
from jupyter_mlops.core.tracking.store import get_client
from jupyter_mlops.core.tracking.validation import check_key, param_value, tag_value
from jupyter_mlops.exceptions import InvalidValueError, MlopsError, StoreError

__all__ = ["RunStart"]

_log = logging.getLogger("jupyter_mlops.tracking")


class RunStart(RunHooks):
    """Creating, adopting and attaching to runs (with the lock held by the caller)."""

    def _run_tags(
        self, notebook: str | None, project: str | None, user_tags: Mapping[str, str]
    ) -> tuple[str | None, dict[str, str]]:
        """The notebook and the tags a start puts on its run: context, the user's, the project."""
        nb = notebook if notebook is not None else context.notebook_path()
        project = project or self.project
        run_tags = context.run_context_tags(notebook=nb, project=project)
        run_tags.update(user_tags)
        if project:
            run_tags[mlops_tags.PROJECT] = project
        return nb, run_tags

    def _create_run(
        self,
        experiment: str | None,
        run_name: str | None,
        run_tags: dict[str, str],
        nb: str | None,
        parent: str | None,
    ) -> tuple[Any, RunInfo]:
        """Create the run in the store (with the lock); the client and its :class:`RunInfo`."""
        try:
            client = get_client(self.tracking_uri)
            if experiment is None and parent is not None:  # a child goes with its parent
                experiment_id = str(client.get_run(parent).info.experiment_id)
                name = str(client.get_experiment(experiment_id).name)
            else:
                found, name = (None, experiment) if experiment else default_experiment(client, nb)
                experiment_id = found or store_experiment_id(client, name, self.tracking_uri)
            run = client.create_run(experiment_id, run_name=run_name, tags=run_tags)
        except MlopsError:
            raise
        except Exception as exc:
            if getattr(exc, "error_code", None) == "INVALID_PARAMETER_VALUE":
                raise InvalidValueError(str(exc), notebook=nb) from exc
            raise StoreError(
                f"Could not start a run in {redact_uri(self.tracking_uri)}: {exc}",
                hint="check that the tracking store is reachable (MLFLOW_TRACKING_URI)",
                notebook=nb,
            ) from exc
        info = RunInfo(
            run_id=run.info.run_id,
            experiment_id=experiment_id,
            experiment_name=name,
            run_name=run.info.run_name or "",
            tracking_uri=self.tracking_uri,
            start_time=int(run.info.start_time),
        )
        return client, info

    def _adopt(
        self,
        run_id: str,
        run_tags: dict[str, str],
        params: dict[str, str],
        *,
        notebook: str | None = None,
        light: bool = False,
    ) -> RunInfo:
        """Make MLflow's run ``run_id`` ours too (with the lock): tags, params, environment, cost.

        ``light`` (a log before any start): only a spool, so that the values land in it.
        """
        uri = fluent_tracking_uri(self.tracking_uri)
        client = get_client(uri)
        info, existing = adopted_run(client, run_id, uri)
        clashes = sorted(k for k, v in params.items() if existing.get(k, v) != v)
        if clashes:
            _log.warning(
                "jupyter-mlops: run %s already has other values for params %s; kept them",
                run_id,
                ", ".join(clashes),
            )
        new = {k: v for k, v in params.items() if k not in existing}
        self._activate(info, client, new, measure=not light, known_params=existing)
        if run_tags:
            self.set_tags(run_tags)
        if not light:
            self._push_to_mlflow(info, nested=False)
        else:
            self._run.provisional = True
            if fluent.active_run_id() == run_id:
                self._run.pushed = threading.get_ident()  # MLflow's run already: MLflow may end it
        return info

    def _complete_adoption(
        self,
        tags: Mapping[str, str] | None,
        params: Mapping[str, object] | None,
        notebook: str | None,
        project: str | None,
    ) -> RunInfo:
        """A start after a log adopted MLflow's run: add what a start adds (with the lock)."""
        state = self._run
        info, spool = state.active, state.spool
        assert info is not None
        assert spool is not None
        user_tags = {check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
        self.set_tags(self._run_tags(notebook, project, user_tags)[1])
        values = {check_key(k, "param"): param_value(k, v) for k, v in (params or {}).items()}
        self.log_params({k: v for k, v in values.items() if k not in state.params})
        state.provisional = False
        self._start_measuring(info, spool.client)
        if fluent.active_run_id() is None:
            self._push_to_mlflow(info, nested=False)
        return info

    def _activate(
        self,
        info: RunInfo,
        client: Any,
        param_values: Mapping[str, str],
        *,
        measure: bool,
        known_params: Mapping[str, str] | None = None,
    ) -> None:
        """Make ``info`` the active run (with the lock): spool, params, environment and cost."""
        try:
            spool = Spool.create(
                self.spool_dir,
                info.run_id,
                info.tracking_uri,
                flush_interval=self.flush_interval,
                client=client,
            )
        except OSError as exc:  # no spool, no durable logging: do not leave the run RUNNING
            if known_params is None:
                client.set_terminated(info.run_id, "FAILED")
            raise StoreError(
                f"Cannot write the metric spool in {self.spool_dir}: {exc}",
                hint="set JUPYTER_MLOPS_SPOOL_DIR (or c.MlopsConfig.spool_dir) to a "
                "writable folder",
                run_id=info.run_id,
            ) from exc
        self._push_frame()
        state = self._run
        state.active, state.spool = info, spool
        state.params, state.metric_keys = {**(known_params or {}), **param_values}, set()
        if param_values:
            spool.append("".join(format_param(k, v) for k, v in param_values.items()))
        if measure:
            self._start_measuring(info, client)

    def _attach(
        self, run_id: str, tags: dict[str, str], params: dict[str, str], *, push: bool = True
    ) -> RunInfo:
        """Make the pipeline execution's run ``run_id`` active (see :mod:`.attach`); with the lock."""
        uri = pipeline_tracking_uri(self.tracking_uri)
        client = get_client(uri)
        info, existing = attached_run(client, run_id, uri, tags)
        try:
            spool = Spool.create(
                self.spool_dir,
                run_id,
                uri,
                flush_interval=self.flush_interval,
                client=client,
                status_owner=executor_process(),
            )
        except OSError as exc:
            raise StoreError(
                f"Cannot write the metric spool in {self.spool_dir}: {exc}",
                hint="set JUPYTER_MLOPS_SPOOL_DIR to a writable folder",
                run_id=run_id,
            ) from exc
        self._push_frame()
        state = self._run
        state.active, state.spool, state.attached = info, spool, True
        state.params, state.metric_keys = existing, set()
        new = {k: v for k, v in params.items() if k not in existing}
        if new:
            spool.append("".join(format_param(k, v) for k, v in new.items()))
            state.params.update(new)
        if push and fluent.active_run_id() is None:  # the user's own run is never replaced
            self._push_to_mlflow(info, nested=False)
        return info

    def _auto_attach(self) -> Spool:
        """The active spool: a log before any start attaches to the pipeline execution's
        run, or adopts MLflow's active run, if there is one."""
        with self._lock:
            if self._run.spool is None:
                if self._closed:
                    raise no_run()
                run_id = pipeline_run_id()
                if run_id is not None:
                    self._attach(run_id, {}, {}, push=False)
                else:
                    adopt_id = adoptable_run()
                    if adopt_id is None:
                        raise no_run()
                    self._adopt(adopt_id, {}, {}, light=True)
            spool = self._run.spool
            assert spool is not None
            return spool
