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
            <td title={props.record[key]}>{props.record[key]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
