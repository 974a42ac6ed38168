/**
 * Cells of the runs table: the built-in columns, user columns (one metric,
 * param or tag; a parent without its own value shows its children's best),
 * and the empty list. All run text is React text, never HTML.
 */
import React from 'react';

import type { IChildrenSummary, IRunSummary } from '../api/types';
import { StatusBadge } from '../common/components';
import {
  formatDuration,
  formatMetric,
  formatRecord,
  formatRelativeTime,
  formatTime,
  runDuration
} from '../common/format';
import { runEnvHash, shortHash } from '../env/logic';
import { type IUserColumn, userColumnValue } from './columns';
import type { IColumn } from './logic';

/** The list is empty: still loading, nothing matches the filters, or no runs at all. */
export function EmptyList(props: {
  loading: boolean;
  /** The filters in words; empty when none is set. */
  filter: string;
  onClear: () => void;
}): JSX.Element {
  if (props.loading) {
    return (
      <div className="jp-mlops-empty" data-testid="mlops-empty">
        Loading runs{'\u2026'}
      </div>
    );
  }
  if (props.filter) {
    return (
      <div
        className="jp-mlops-empty"
        data-testid="mlops-empty"
        data-empty="no-match"
      >
        <span>No runs match {props.filter}</span>{' '}
        <button
          className="jp-mlops-button"
          data-testid="mlops-clear-filter"
          onClick={props.onClear}
        >
          Clear filter
        </button>
      </div>
    );
  }
  return (
    <div className="jp-mlops-empty" data-testid="mlops-empty" data-empty="none">
      No runs yet. In a notebook: %load_ext jupyter_mlops, then %mlops start.
    </div>
  );
}

/** One metric, param or tag of a run; a parent without it shows its children's best. */
export function UserCell(props: {
  column: IUserColumn;
  run: IRunSummary;
  summary?: IChildrenSummary;
}): JSX.Element {
  const { column, run, summary } = props;
  const value = userColumnValue(run, column);
  const best = summary?.best;
  if (
    value === undefined &&
    best &&
    column.kind === 'metrics' &&
    best.key === column.key
  ) {
    return (
      <span
        className="jp-mlops-best"
        data-testid="mlops-best"
        title={`Best of ${summary.count} child runs (run ${best.run_id})`}
      >
        {formatMetric(best.value)}
      </span>
    );
  }
  if (value === undefined) {
    return <span className="jp-mlops-muted">{'\u2014'}</span>;
  }
  const text =
    column.kind === 'metrics'
      ? formatMetric(value as number | null)
      : String(value);
  return (
    <span
      className="jp-mlops-ellipsis"
      title={`${column.kind}.${column.key}: ${String(value)}`}
    >
      {text}
    </span>
  );
}

export function BuiltinCell(props: {
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
    default:
      return <></>;
  }
}
