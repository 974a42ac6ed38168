/**
 * Pieces of the Pipelines view about launches: the watched launch with its
 * executions (`executions.tsx`), the cell and last output lines of each
 * running execution, the sweep view of a sweep, the recent launches, and
 * server errors with their `errors` lines. Text only, never HTML.
 */
import React from 'react';

import type { ApiError } from '../api/client';
import { formatMoney, formatTime } from '../common/format';
import { type IExecution, type ILaunch, isTerminal } from '../api/pipelines';
import { ExecutionTable, LaunchBadge } from './executions';
import {
  attemptText,
  cellText,
  isSweep,
  outputTail,
  progressText
} from './logic';
import { Section } from '../common/components';
import { LaunchSweepSection } from '../runs/SweepView';

export {
  ExecutionNotes,
  ExecutionTable,
  LaunchBadge,
  paramsText
} from './executions';

/** A server error with its hint and its `errors` lines. */
export function ErrorList(props: {
  error: ApiError;
  testId: string;
}): JSX.Element {
  const { error } = props;
  return (
    <div className="jp-mlops-error" data-testid={props.testId} role="alert">
      <div>{error.message}</div>
      {error.errors.length ? (
        <ul className="jp-mlops-error-list">
          {error.errors.map((line, i) => (
            <li key={i}>{line}</li>
          ))}
        </ul>
      ) : null}
      {error.hint ? (
        <div className="jp-mlops-error-hint">{error.hint}</div>
      ) : null}
    </div>
  );
}

/** The watched launch: its status, its parent run, and one row per execution. */
export function LaunchView(props: {
  launch: ILaunch;
  error: ApiError | null;
  onCancel: (id: string) => void;
  onOpenRun?: (runId: string) => void;
  onOpenNotebook?: (path: string) => void;
}): JSX.Element {
  const { launch, onOpenRun } = props;
  return (
    <Section title={`Launch ${launch.name}`} count={progressText(launch)}>
      <div
        className="jp-mlops-launch"
        data-testid="mlops-launch"
        data-id={launch.id}
      >
        <div className="jp-mlops-launch-line">
          <LaunchBadge status={launch.status} testId="mlops-launch-status" />
          <span className="jp-mlops-muted">{` started ${formatTime(launch.started * 1000)}`}</span>
          {launch.run_id && onOpenRun ? (
            <button
              className="jp-mlops-link"
              data-testid="mlops-launch-run"
              title={`MLflow run ${launch.run_id}`}
              onClick={() => onOpenRun(launch.run_id as string)}
            >
              parent run
            </button>
          ) : null}
          {isTerminal(launch.status) ? null : (
            <button
              className="jp-mlops-button jp-mod-warn"
              data-testid="mlops-launch-cancel"
              onClick={() => props.onCancel(launch.id)}
            >
              Cancel
            </button>
          )}
        </div>
        {launch.estimate ? (
          <div className="jp-mlops-muted" data-testid="mlops-launch-estimate">
            {`Estimate: ${launch.estimate.message}; cap ${formatMoney(launch.max_cost ?? 0, launch.estimate.currency)}`}
          </div>
        ) : null}
        {launch.error ? (
          <div className="jp-mlops-error" data-testid="mlops-launch-error">
            {launch.error}
          </div>
        ) : null}
        {props.error ? (
          <ErrorList error={props.error} testId="mlops-launch-watch-error" />
        ) : null}
        <RunningList executions={launch.executions} />
        <ExecutionTable
          executions={launch.executions}
          onOpenRun={onOpenRun}
          onOpenNotebook={props.onOpenNotebook}
        />
        {isSweep(launch) ? (
          <LaunchSweepSection executions={launch.executions} />
        ) : null}
      </div>
    </Section>
  );
}

/** Where each running execution is: `cell 7/23` and its last output lines. */
export function RunningList(props: {
  executions: readonly IExecution[];
}): JSX.Element | null {
  const running = props.executions.filter(e => cellText(e) !== null);
  if (!running.length) {
    return null;
  }
  return (
    <ul className="jp-mlops-running" data-testid="mlops-running">
      {running.map(execution => {
        const lines = outputTail(execution.progress);
        return (
          <li
            key={execution.index}
            data-testid="mlops-running-execution"
            data-index={execution.index}
          >
            <div className="jp-mlops-running-head">
              <span className="jp-mlops-pipeline-name">{execution.step}</span>
              <span className="jp-mlops-muted">{` trial ${execution.trial}`}</span>
              <span
                className="jp-mlops-running-cell"
                data-testid="mlops-running-cell"
              >
                {cellText(execution)}
              </span>
              {attemptText(execution) ? (
                <span className="jp-mlops-muted">{attemptText(execution)}</span>
              ) : null}
            </div>
            {lines.length ? (
              <div
                className="jp-mlops-running-output jp-mlops-mono"
                data-testid="mlops-running-output"
              >
                {lines.map((line, i) => (
                  <div key={i} title={line}>
                    {line}
                  </div>
                ))}
              </div>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}

/** `cell 7/23` of a launch's first running execution, for the recent list. */
function launchCell(launch: ILaunch): string {
  const cell = launch.executions.map(cellText).find(text => text !== null);
  return cell ? ` \u00B7 ${cell}` : '';
}

/** The recent launches of this server, newest first; one is watched. */
export function LaunchList(props: {
  launches: readonly ILaunch[];
  watchedId: string | null;
  onWatch: (id: string) => void;
}): JSX.Element | null {
  if (!props.launches.length) {
    return null;
  }
  return (
    <Section title="Recent launches" count={props.launches.length}>
      <ul className="jp-mlops-launch-list" data-testid="mlops-launches">
        {props.launches.map(launch => (
          <li key={launch.id}>
            <button
              className={`jp-mlops-pipeline-item${launch.id === props.watchedId ? ' jp-mod-selected' : ''}`}
              data-testid="mlops-launch-item"
              data-id={launch.id}
              onClick={() => props.onWatch(launch.id)}
            >
              <LaunchBadge
                status={launch.status}
                testId="mlops-launch-item-status"
              />
              <span className="jp-mlops-pipeline-name">{` ${launch.name}`}</span>
              <span className="jp-mlops-muted">
                {` ${formatTime(launch.started * 1000)} \u00B7 ${progressText(launch)}${launchCell(launch)}`}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </Section>
  );
}
