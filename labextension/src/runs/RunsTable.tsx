/**
 * The runs table: sortable headers, one row per run, a checkbox per row for
 * comparing. Run text is rendered as React text, never as HTML.
 */
import React, { useCallback } from 'react';

import { runEnvHash, shortHash } from '../env/logic';
import {
  formatDuration,
  formatMetric,
  formatRecord,
  formatRelativeTime,
  formatTime,
  runDuration
} from '../common/format';
import { type IColumn, isActive } from './logic';
import { MAX_COMPARE, type RunsModel } from './model';
import type { IRunSummary } from '../api/types';
import { StatusBadge } from '../common/components';

export function RunsTable(props: {
  model: RunsModel;
  columns: IColumn[];
  openNotebook?: (path: string) => void;
}): JSX.Element {
  const { model, columns } = props;
  const selection = model.selection;
  const now = Date.now();
  const onEnvHash = useCallback(
    (hash: string) => void model.setFilter({ envHash: hash }),
    [model]
  );
  if (!model.runs.length) {
    return (
      <div className="jp-mlops-empty" data-testid="mlops-empty">
        {model.loading
          ? 'Loading runs\u2026'
          : 'No runs yet. In a notebook: %load_ext jupyter_mlops, then %mlops start.'}
      </div>
    );
  }
  return (
    <div className="jp-mlops-table-wrapper">
      <table
        className="jp-mlops-table"
        data-testid="mlops-runs-table"
        aria-busy={model.loading}
      >
        <thead>
          <tr>
            <th
              className="jp-mlops-col-select"
              title={`Check up to ${MAX_COMPARE} runs to compare`}
            >
              <span className="jp-mlops-visually-hidden">Compare</span>
            </th>
            {columns.map(column => (
              <HeaderCell key={column.id} column={column} model={model} />
            ))}
          </tr>
        </thead>
        <tbody>
          {model.runs.map(run => (
            <RunRow
              key={run.run_id}
              run={run}
              columns={columns}
              now={now}
              selected={selection.includes(run.run_id)}
              onSelect={additive => void model.select(run.run_id, additive)}
              openNotebook={props.openNotebook}
              onEnvHash={onEnvHash}
            />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function HeaderCell(props: { column: IColumn; model: RunsModel }): JSX.Element {
  const { column, model } = props;
  const sortKey = column.sortKey;
  if (!sortKey) {
    return <th className={`jp-mlops-col-${column.id}`}>{column.label}</th>;
  }
  const active = model.sort.key === sortKey;
  const direction = model.sort.direction;
  return (
    <th
      className={`jp-mlops-col-${column.id}`}
      aria-sort={
        active ? (direction === 'ASC' ? 'ascending' : 'descending') : 'none'
      }
    >
      <button
        className="jp-mlops-sort-button"
        data-testid={`mlops-sort-${column.id}`}
        title={`Sort by ${column.label.toLowerCase()}`}
        onClick={() => void model.sortBy(sortKey)}
      >
        {column.label}
        <span className="jp-mlops-sort-arrow" aria-hidden="true">
          {active ? (direction === 'ASC' ? '\u25B2' : '\u25BC') : ''}
        </span>
      </button>
    </th>
  );
}

interface IRunRowProps {
  run: IRunSummary;
  columns: IColumn[];
  now: number;
  selected: boolean;
  onSelect: (additive: boolean) => void;
  openNotebook?: (path: string) => void;
  /** Show only the runs of this environment. */
  onEnvHash?: (hash: string) => void;
}

/**
 * Rows re-render only when their run, selection or columns change, when the
 * run may still change, or once a minute (relative start times): a refresh of
 * a long list touches only the rows that changed.
 */
const RunRow = React.memo(RunRowView, (before, after) => {
  return (
    before.run === after.run &&
    before.selected === after.selected &&
    before.columns === after.columns &&
    before.openNotebook === after.openNotebook &&
    before.onEnvHash === after.onEnvHash &&
    !isActive(after.run) &&
    Math.floor(before.now / 60_000) === Math.floor(after.now / 60_000)
  );
});

function RunRowView(props: IRunRowProps): JSX.Element {
  const { run, selected } = props;
  return (
    <tr
      className={`jp-mlops-run-row${selected ? ' jp-mod-selected' : ''}`}
      data-testid="mlops-run-row"
      data-run-id={run.run_id}
      data-run-name={run.run_name}
      data-status={run.status}
      aria-selected={selected}
      tabIndex={0}
      onClick={event =>
        props.onSelect(event.ctrlKey || event.metaKey || event.shiftKey)
      }
      onKeyDown={event => {
        if (event.target === event.currentTarget && event.key === 'Enter') {
          event.preventDefault();
          props.onSelect(event.ctrlKey || event.metaKey || event.shiftKey);
        }
      }}
    >
      <td className="jp-mlops-col-select" onClick={e => e.stopPropagation()}>
        <input
          type="checkbox"
          data-testid="mlops-run-checkbox"
          aria-label={`Compare run ${run.run_name}`}
          checked={selected}
          onChange={() => props.onSelect(true)}
        />
      </td>
      {props.columns.map(column => (
        <td key={column.id} className={`jp-mlops-col-${column.id}`}>
          <Cell
            column={column}
            run={run}
            now={props.now}
            openNotebook={props.openNotebook}
            onEnvHash={props.onEnvHash}
          />
        </td>
      ))}
    </tr>
  );
}

function Cell(props: {
  column: IColumn;
  run: IRunSummary;
  now: number;
  openNotebook?: (path: string) => void;
  onEnvHash?: (hash: string) => void;
}): JSX.Element {
  const { run, openNotebook, onEnvHash } = props;
  switch (props.column.id) {
    case 'status':
      return <StatusBadge status={run.status} />;
    case 'run_name':
      return (
        <span
          className="jp-mlops-run-name"
          title={`${run.run_name}\n${run.run_id}`}
        >
          {run.run_name || run.run_id}
        </span>
      );
    case 'start_time':
      return (
        <span title={formatTime(run.start_time)}>
          {formatRelativeTime(run.start_time, props.now)}
        </span>
      );
    case 'duration':
      return <span>{formatDuration(runDuration(run, props.now))}</span>;
    case 'notebook': {
      const path = run.notebook;
      if (!path) {
        return <span className="jp-mlops-muted">{'\u2014'}</span>;
      }
      const name = path.split('/').pop() ?? path;
      return openNotebook ? (
        <button
          className="jp-mlops-link"
          data-testid="mlops-open-notebook"
          title={`Open ${path}`}
          onClick={e => {
            e.stopPropagation();
            openNotebook(path);
          }}
        >
          {name}
        </button>
      ) : (
        <span title={path}>{name}</span>
      );
    }
    case 'params': {
      const text = formatRecord(run.params);
      return (
        <span className="jp-mlops-ellipsis" title={text}>
          {text}
        </span>
      );
    }
    case 'metrics': {
      const text = formatRecord(run.metrics, formatMetric);
      return (
        <span className="jp-mlops-ellipsis" title={text}>
          {text}
        </span>
      );
    }
    case 'env_hash': {
      const hash = runEnvHash(run);
      if (!hash) {
        return (
          <span className="jp-mlops-muted" title="No environment snapshot">
            {'\u2014'}
          </span>
        );
      }
      return onEnvHash ? (
        <button
          className="jp-mlops-link jp-mlops-mono"
          data-testid="mlops-env-hash"
          data-hash={hash}
          title={`Environment ${hash}\nShow only the runs of this environment`}
          onClick={e => {
            e.stopPropagation();
            onEnvHash(hash);
          }}
        >
          {shortHash(hash)}
        </button>
      ) : (
        <span
          className="jp-mlops-mono"
          data-testid="mlops-env-hash"
          title={hash}
        >
          {shortHash(hash)}
        </span>
      );
    }
  }
}
