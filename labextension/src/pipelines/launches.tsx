/**
 * Pieces of the Pipelines view about launches: a status badge, the watched
 * launch with one row per execution (links to its MLflow run and output
 * notebook, its attempt, a "cached" badge for a reused result), the cell
 * and last output lines of each running execution, the swept values and
 * metrics of each execution, the sweep view of a sweep, the recent launches,
 * and server errors with their `errors` lines. Text only, never HTML.
 */
import React from 'react';

import type { ApiError } from '../api/client';
import { formatDuration, formatTime } from '../common/format';
import { displayValue } from './form';
import { type IExecution, type ILaunch, isTerminal } from '../api/pipelines';
import {
  attemptText,
  cellText,
  isSweep,
  metricsText,
  outputTail,
  progressText,
  sweptKeys,
  sweptText
} from './logic';
import { Section } from '../common/components';
import { LaunchSweepSection } from '../runs/SweepView';

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

/** A launch or execution status, as a badge (text only). */
export function LaunchBadge(props: {
  status: string;
  testId: string;
}): JSX.Element {
  return (
    <span
      className={`jp-mlops-status jp-mlops-status-${props.status.toLowerCase()}`}
      data-testid={props.testId}
      data-status={props.status}
      title={props.status}
    >
      {props.status}
    </span>
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

/** `a=1, b="x"` */
export function paramsText(
  parameters: Readonly<Record<string, unknown>>
): string {
  return Object.entries(parameters)
    .map(([key, value]) => `${key}=${displayValue(value)}`)
    .join(', ');
}

export function ExecutionTable(props: {
  executions: readonly IExecution[];
  onOpenRun?: (runId: string) => void;
  onOpenNotebook?: (path: string) => void;
}): JSX.Element {
  const { onOpenRun, onOpenNotebook } = props;
  const swept = sweptKeys(props.executions);
  if (!props.executions.length) {
    return (
      <div className="jp-mlops-muted">Planning the executions{'\u2026'}</div>
    );
  }
  return (
    <div className="jp-mlops-table-wrapper">
      <table
        className="jp-mlops-table jp-mlops-executions"
        data-testid="mlops-executions"
      >
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Trial</th>
            <th scope="col">Status</th>
            {swept.length ? <th scope="col">Swept</th> : null}
            <th scope="col">Metrics</th>
            <th scope="col">Duration</th>
            <th scope="col">Links</th>
            <th scope="col">Parameters</th>
          </tr>
        </thead>
        <tbody>
          {props.executions.map(execution => {
            const params = paramsText(execution.parameters ?? {});
            const values = sweptText(execution, swept);
            const metrics = metricsText(execution);
            return (
              <tr
                key={execution.index}
                data-testid="mlops-execution"
                data-index={execution.index}
                data-step={execution.step}
              >
                <td>{execution.step}</td>
                <td>{execution.trial}</td>
                <td>
                  <LaunchBadge
                    status={execution.status}
                    testId="mlops-execution-status"
                  />
                  <ExecutionNotes execution={execution} onOpenRun={onOpenRun} />
                  {execution.error ||
                  (execution.reason && !execution.cache_hit) ? (
                    <div
                      className="jp-mlops-execution-error"
                      data-testid="mlops-execution-error"
                      title={execution.error ?? execution.reason ?? ''}
                    >
                      {execution.error ?? execution.reason}
                    </div>
                  ) : null}
                </td>
                {swept.length ? (
                  <td data-testid="mlops-execution-swept" title={values}>
                    {values}
                  </td>
                ) : null}
                <td
                  className="jp-mlops-execution-metrics"
                  data-testid="mlops-execution-metrics"
                  title={metricsText(execution, Infinity)}
                >
                  {metrics}
                </td>
                <td>
                  {formatDuration(
                    execution.duration === null
                      ? null
                      : execution.duration * 1000
                  )}
                </td>
                <td className="jp-mlops-execution-links">
                  {execution.run_id && onOpenRun ? (
                    <button
                      className="jp-mlops-link"
                      data-testid="mlops-execution-run"
                      title={`MLflow run ${execution.run_id}`}
                      onClick={() => onOpenRun(execution.run_id as string)}
                    >
                      run
                    </button>
                  ) : null}
                  {execution.output && onOpenNotebook ? (
                    <button
                      className="jp-mlops-link"
                      data-testid="mlops-execution-output"
                      title={execution.output}
                      onClick={() => onOpenNotebook(execution.output as string)}
                    >
                      notebook
                    </button>
                  ) : null}
                </td>
                <td className="jp-mlops-ellipsis" title={params}>
                  {params}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
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

/** Under an execution's status: its cell, its attempt, and whether its result was reused. */
export function ExecutionNotes(props: {
  execution: IExecution;
  onOpenRun?: (runId: string) => void;
}): JSX.Element | null {
  const { execution, onOpenRun } = props;
  const cell = cellText(execution);
  const attempt = attemptText(execution);
  const source = execution.cache_hit;
  if (!cell && !attempt && !source) {
    return null;
  }
  return (
    <div className="jp-mlops-execution-notes">
      {cell ? <span data-testid="mlops-execution-cell">{cell}</span> : null}
      {attempt ? (
        <span data-testid="mlops-execution-attempt">{attempt}</span>
      ) : null}
      {source ? (
        <button
          className="jp-mlops-cached"
          data-testid="mlops-execution-cached"
          data-source={source}
          title={`Unchanged: the result of run ${source} was reused`}
          disabled={!onOpenRun}
          onClick={() => onOpenRun?.(source)}
        >
          cached
        </button>
      ) : null}
    </div>
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
