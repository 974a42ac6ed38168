/**
 * The executions of a launch as the Pipelines view lists them: one `tbody`
 * per execution with its step and status badge on a line, and under it
 * its duration, its swept values and metrics as wrapping `name=value` chips, its
 * links (MLflow run, output notebook) and all its parameters; the notes under
 * a status (cell, attempt, "cached"). It fits the default sidebar width:
 * nothing scrolls sideways, long values are cut with their whole text in a
 * title. Text only, never HTML.
 */
import React from 'react';

import type { IExecution } from '../api/pipelines';
import { formatDuration, formatMetric } from '../common/format';
import { valueKey } from '../runs/sweep';
import { displayValue } from './form';
import {
  attemptText,
  cellText,
  metricsText,
  SHOWN_METRICS,
  sweptKeys,
  sweptText
} from './logic';

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

/** `a=1, b="x"` */
export function paramsText(
  parameters: Readonly<Record<string, unknown>>
): string {
  return Object.entries(parameters)
    .map(([key, value]) => `${key}=${displayValue(value)}`)
    .join(', ');
}

/** One `name=value` chip: a swept value or a metric, cut with an ellipsis, whole in its title. */
function Chip(props: { name: string; value: string }): JSX.Element {
  return (
    <span className="jp-mlops-chip" title={`${props.name} = ${props.value}`}>
      <span className="jp-mlops-chip-name">{props.name}</span>=
      <span className="jp-mlops-chip-value">{props.value}</span>
    </span>
  );
}

/**
 * The launch's executions, one `tbody` each: a line with the step (and
 * trial) and the status, and under it the duration, the swept values and
 * metrics as wrapping chips, the links, and all parameters. Fits the
 * default sidebar width: nothing scrolls sideways, every value is text.
 */
export function ExecutionTable(props: {
  executions: readonly IExecution[];
  onOpenRun?: (runId: string) => void;
  onOpenNotebook?: (path: string) => void;
}): JSX.Element {
  const swept = sweptKeys(props.executions);
  const sweep = new Set(props.executions.map(e => e.trial)).size > 1;
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
            <th scope="col" className="jp-mlops-execution-step">
              Step
            </th>
            <th scope="col" className="jp-mlops-execution-status">
              Status
            </th>
          </tr>
        </thead>
        {props.executions.map(execution => (
          <ExecutionRows
            key={execution.index}
            execution={execution}
            swept={swept}
            sweep={sweep}
            onOpenRun={props.onOpenRun}
            onOpenNotebook={props.onOpenNotebook}
          />
        ))}
      </table>
    </div>
  );
}

function ExecutionRows(props: {
  execution: IExecution;
  /** The swept parameters of the launch. */
  swept: readonly string[];
  /** The launch runs more than one trial. */
  sweep: boolean;
  onOpenRun?: (runId: string) => void;
  onOpenNotebook?: (path: string) => void;
}): JSX.Element {
  const { execution, onOpenRun } = props;
  const params = paramsText(execution.parameters ?? {});
  const error =
    execution.error || (execution.reason && !execution.cache_hit)
      ? (execution.error ?? execution.reason ?? '')
      : '';
  return (
    <tbody
      className="jp-mlops-execution"
      data-testid="mlops-execution"
      data-index={execution.index}
      data-step={execution.step}
    >
      <tr>
        <td className="jp-mlops-execution-step">
          <span className="jp-mlops-pipeline-name" title={execution.step}>
            {execution.step}
          </span>
          {props.sweep ? (
            <span className="jp-mlops-execution-trial">{`trial ${execution.trial}`}</span>
          ) : null}
        </td>
        <td className="jp-mlops-execution-status">
          <LaunchBadge
            status={execution.status}
            testId="mlops-execution-status"
          />
          <ExecutionNotes execution={execution} onOpenRun={onOpenRun} />
          {error ? (
            <div
              className="jp-mlops-execution-error"
              data-testid="mlops-execution-error"
              title={error}
            >
              {error}
            </div>
          ) : null}
        </td>
      </tr>
      <tr className="jp-mlops-execution-more">
        <td colSpan={2}>
          <ExecutionChips
            execution={execution}
            swept={props.swept}
            onOpenRun={onOpenRun}
            onOpenNotebook={props.onOpenNotebook}
          />
          {params ? (
            <div
              className="jp-mlops-execution-params"
              data-testid="mlops-execution-params"
              title={params}
            >
              {params}
            </div>
          ) : null}
        </td>
      </tr>
    </tbody>
  );
}

/** Swept values, then metrics (the first few; all in the last chip's title), then the links. */
function ExecutionChips(props: {
  execution: IExecution;
  swept: readonly string[];
  onOpenRun?: (runId: string) => void;
  onOpenNotebook?: (path: string) => void;
}): JSX.Element {
  const { execution, onOpenRun, onOpenNotebook } = props;
  const parameters = execution.parameters ?? {};
  const swept = props.swept.filter(key => key in parameters);
  const metrics = execution.metrics ?? {};
  const keys = Object.keys(metrics).sort();
  const shown = keys.slice(0, SHOWN_METRICS);
  const duration = formatDuration(
    execution.duration === null ? null : execution.duration * 1000
  );
  return (
    <div className="jp-mlops-execution-chips">
      {execution.duration !== null ? (
        <span
          className="jp-mlops-execution-time"
          data-testid="mlops-execution-duration"
          title={`Ran for ${duration}`}
        >
          {duration}
        </span>
      ) : null}
      {swept.length ? (
        <span
          className="jp-mlops-chip-group"
          data-testid="mlops-execution-swept"
          title={sweptText(execution, props.swept)}
        >
          {swept.map(key => (
            <Chip key={key} name={key} value={valueKey(parameters[key])} />
          ))}
        </span>
      ) : null}
      {keys.length ? (
        <span
          className="jp-mlops-chip-group jp-mlops-execution-metrics"
          data-testid="mlops-execution-metrics"
          title={metricsText(execution, Infinity)}
        >
          {shown.map(key => (
            <Chip key={key} name={key} value={formatMetric(metrics[key])} />
          ))}
          {keys.length > shown.length ? (
            <span className="jp-mlops-chip">
              {`+${keys.length - shown.length} more`}
            </span>
          ) : null}
        </span>
      ) : null}
      <span className="jp-mlops-execution-links">
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
      </span>
    </div>
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
