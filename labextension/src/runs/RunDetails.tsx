/**
 * The bottom half of the panel: one selected run's details, or the comparison
 * of several. Text from runs is rendered as text, never as HTML.
 */
import React from 'react';

import { formatDuration, formatTime, runDuration } from '../common/format';
import type { EnvCompareModel } from '../env/model';
import type { IRunDetail, RunsModel } from './model';
import type { IArtifactsClient } from '../api/artifacts';
import { ArtifactsSection } from '../artifacts/ArtifactsSection';
import { RunCompare } from './RunCompare';
import {
  ErrorBox,
  type IColumnAction,
  KeyValueTable,
  Section,
  StatusBadge
} from '../common/components';
import { RunEnvironmentSection } from '../env/EnvDiff';
import { useSignal } from '../common/hooks';
import { RunMetrics } from './detailsParts';
import { RunActions } from './RunActions';

export interface ISelectionViewProps {
  model: RunsModel;
  /** Environment diffs and snapshots; the Environment sections are left out without it. */
  env?: EnvCompareModel;
  /** Client of the artifact routes (the Artifacts section). */
  artifacts?: IArtifactsClient;
  openNotebook?: (path: string) => void;
}

/** Details for one selected run, a comparison for several, a hint for none. */
export function SelectionView(props: ISelectionViewProps): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  const selection = model.selection;
  const details = model.selectedDetails;
  if (!selection.length) {
    return (
      <div
        className="jp-mlops-selection-empty"
        data-testid="mlops-no-selection"
      >
        Click a run to see its params, tags and metric charts. Check two or more
        runs to compare them.
      </div>
    );
  }
  const error = model.detailError;
  return (
    <div className="jp-mlops-selection">
      {error ? <ErrorBox error={error} testId="mlops-detail-error" /> : null}
      {details.length < selection.length && !error ? (
        <div className="jp-mlops-muted jp-mlops-loading">
          Loading run details{'\u2026'}
        </div>
      ) : null}
      {selection.length === 1 && details.length === 1 ? (
        <RunDetails
          detail={details[0]}
          env={props.env}
          artifacts={props.artifacts}
          openNotebook={props.openNotebook}
          columns={{ shown: model.columns, show: id => model.addColumn(id) }}
        />
      ) : null}
      {selection.length > 1 && details.length > 0 ? (
        <RunCompare
          details={details}
          env={props.env}
          onClear={() => model.clearSelection()}
        />
      ) : null}
    </div>
  );
}

/**
 * One run: summary, metrics (the user's curves, single values, then system
 * and cost collapsed), params, tags, environment, artifacts.
 */
export function RunDetails(props: {
  detail: IRunDetail;
  env?: EnvCompareModel;
  artifacts?: IArtifactsClient;
  openNotebook?: (path: string) => void;
  /** "Show as column" buttons on params, tags and single-value metrics. */
  columns?: IColumnAction;
}): JSX.Element {
  const { run } = props.detail;
  const notebook = run.notebook;
  return (
    <div
      className="jp-mlops-details"
      data-testid="mlops-run-details"
      data-run-id={run.run_id}
      data-status={run.status}
    >
      <div className="jp-mlops-details-title">
        <span
          className="jp-mlops-details-name"
          data-testid="mlops-details-name"
        >
          {run.run_name || run.run_id}
        </span>
        <StatusBadge status={run.status} />
      </div>
      <dl className="jp-mlops-meta">
        <dt>Run id</dt>
        <dd className="jp-mlops-mono">{run.run_id}</dd>
        <dt>Started</dt>
        <dd>{formatTime(run.start_time)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(runDuration(run))}</dd>
        {notebook ? (
          <>
            <dt>Notebook</dt>
            <dd>
              {props.openNotebook ? (
                <button
                  className="jp-mlops-link"
                  title={`Open ${notebook}`}
                  onClick={() => props.openNotebook?.(notebook)}
                >
                  {notebook}
                </button>
              ) : (
                notebook
              )}
            </dd>
          </>
        ) : null}
        {run.user ? (
          <>
            <dt>User</dt>
            <dd>{run.user}</dd>
          </>
        ) : null}
        {run.project ? (
          <>
            <dt>Project</dt>
            <dd>{run.project}</dd>
          </>
        ) : null}
      </dl>
      <RunActions run={run} />
      <RunMetrics detail={props.detail} columns={props.columns} />
      <Section title="Params" count={Object.keys(run.params).length}>
        <KeyValueTable
          record={run.params}
          testId="mlops-params"
          columns={props.columns}
          prefix="params."
        />
      </Section>
      <Section title="Tags" count={Object.keys(run.tags).length}>
        <KeyValueTable
          record={run.tags}
          testId="mlops-tags"
          columns={props.columns}
          prefix="tags."
        />
      </Section>
      {props.env ? <RunEnvironmentSection model={props.env} run={run} /> : null}
      <ArtifactsSection run={run} client={props.artifacts} />
    </div>
  );
}
