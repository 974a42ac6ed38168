/**
 * The top half of the Runs view: filters and the runs table (the panel
 * header with the refresh button is `PanelHeader`).
 *
 * Every run, param, tag and notebook string is rendered as a React text child
 * or attribute, never as HTML.
 */
import React, { useEffect, useMemo } from 'react';

import { SERVER_MISSING_MESSAGE } from '../api/client';
import { parseUserColumn } from './columns';
import { visibleColumns } from './logic';
import type { RunsModel } from './model';
import { ErrorBox } from '../common/components';
import { Filters } from './Filters';
import { useSignal } from '../common/hooks';
import { RunsTable } from './RunsTable';

export interface IRunsListProps {
  model: RunsModel;
  /** Built-in column ids and user columns (`metrics.<key>` ...) from the settings. */
  columns: readonly string[];
  /** Open a notebook (path relative to the server root) in JupyterLab. */
  openNotebook?: (path: string) => void;
}

export function RunsList(props: IRunsListProps): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  useEffect(() => model.setBaseColumns(props.columns), [model, props.columns]);
  // The built-in columns, the user columns, and a metric/param/tag sort column.
  const user = model.columns;
  const sortKey = model.sort.key;
  const userKey = user.join('\n');
  const columns = useMemo(
    () =>
      visibleColumns([
        ...props.columns.filter(id => !parseUserColumn(id)),
        ...user,
        ...(parseUserColumn(sortKey) ? [sortKey] : [])
      ]),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [props.columns, userKey, sortKey]
  );

  return (
    <div className="jp-mlops-runs" data-testid="mlops-runs">
      {model.serverMissing ? (
        <ServerMissing model={model} />
      ) : (
        <>
          <Filters model={model} />
          <ErrorBanner model={model} />
          <RunsTable
            model={model}
            columns={columns}
            openNotebook={props.openNotebook}
          />
          <Footer model={model} />
        </>
      )}
    </div>
  );
}

function ServerMissing({ model }: { model: RunsModel }): JSX.Element {
  const detail = model.error?.kind === 'network' ? model.error.message : '';
  return (
    <div className="jp-mlops-server-missing" data-testid="mlops-server-missing">
      <p className="jp-mlops-server-missing-title">
        The MLOps panel cannot reach its server extension.
      </p>
      <p>{SERVER_MISSING_MESSAGE}</p>
      {detail ? <p className="jp-mlops-muted">{detail}</p> : null}
      <button
        className="jp-mlops-button"
        data-testid="mlops-retry"
        onClick={() => void model.start()}
      >
        Retry
      </button>
    </div>
  );
}
function ErrorBanner({ model }: { model: RunsModel }): JSX.Element | null {
  const error = model.error;
  if (!error) {
    return null;
  }
  return <ErrorBox error={error} testId="mlops-error" />;
}
function Footer({ model }: { model: RunsModel }): JSX.Element {
  const count = model.runs.length;
  return (
    <div className="jp-mlops-footer">
      <span className="jp-mlops-muted" data-testid="mlops-run-count">
        {count === 1 ? '1 run' : `${count} runs`}
        {model.nextPageToken ? ' loaded' : ''}
        {model.loading ? ' \u00B7 updating\u2026' : ''}
        {model.selection.length > 1
          ? ` \u00B7 ${model.selection.length} selected`
          : ''}
      </span>
      {model.nextPageToken ? (
        <button
          className="jp-mlops-button"
          data-testid="mlops-load-more"
          disabled={model.loadingMore}
          onClick={() => void model.loadMore()}
        >
          {model.loadingMore ? 'Loading\u2026' : 'Load more'}
        </button>
      ) : null}
    </div>
  );
}
