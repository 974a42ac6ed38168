/**
 * Small presentational pieces shared by the panel's views (text only, no HTML).
 */
import React from 'react';

import type { ApiError } from '../api/client';
import type { RunStatus } from '../api/types';

export function StatusBadge({ status }: { status: RunStatus }): JSX.Element {
  return (
    <span
      className={`jp-mlops-status jp-mlops-status-${status.toLowerCase()}`}
      data-testid="mlops-run-status"
      title={status}
    >
      {status.toLowerCase()}
    </span>
  );
}

/** An error message with the server's hint, when it sent one. */
export function ErrorBox(props: {
  error: ApiError;
  testId: string;
}): JSX.Element {
  return (
    <div className="jp-mlops-error" data-testid={props.testId} role="alert">
      <div>{props.error.message}</div>
      {props.error.hint ? (
        <div className="jp-mlops-error-hint">{props.error.hint}</div>
      ) : null}
    </div>
  );
}

export function Section(props: {
  title: string;
  count?: number | string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-mlops-section">
      <h3 className="jp-mlops-section-title">
        {props.title}
        {props.count !== undefined ? (
          <span className="jp-mlops-count">{props.count}</span>
        ) : null}
      </h3>
      {props.children}
    </section>
  );
}

export function KeyValueTable(props: {
  record: Readonly<Record<string, string>>;
  testId: string;
  /** A "show as column" button per row (the runs list's column of `prefix + key`). */
  columns?: IColumnAction;
  prefix?: string;
}): JSX.Element {
  const keys = Object.keys(props.record).sort();
  if (!keys.length) {
    return <div className="jp-mlops-muted">none</div>;
  }
  return (
    <table className="jp-mlops-kv" data-testid={props.testId}>
      <tbody>
        {keys.map(key => (
          <tr key={key} data-key={key}>
            <th scope="row" title={key}>
              {key}
            </th>
            <td className="jp-mlops-kv-value" title={props.record[key]}>
              {props.record[key]}
            </td>
            {props.columns ? (
              <ColumnButton
                action={props.columns}
                id={`${props.prefix ?? ''}${key}`}
              />
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** "Show as column" in the runs list: `show(id)` (`metrics.acc`, `params.lr`, `tags.epic`). */
export interface IColumnAction {
  /** The ids shown as columns now. */
  shown: readonly string[];
  show: (id: string) => void;
}

/** The cell of one row's "show as column" button; "in list" once it is a column. */
export function ColumnButton(props: {
  action: IColumnAction;
  id: string;
}): JSX.Element {
  const shown = props.action.shown.includes(props.id);
  return (
    <td className="jp-mlops-column-action">
      <button
        className="jp-mlops-link"
        data-testid="mlops-show-column"
        disabled={shown}
        title={
          shown
            ? `${props.id} is a column of the runs list`
            : `Show ${props.id} as a column of the runs list`
        }
        onClick={() => props.action.show(props.id)}
      >
        {shown ? 'in list' : 'column'}
      </button>
    </td>
  );
}
