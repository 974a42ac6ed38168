/**
 * The runs table: sortable headers, one row per run, a checkbox per row for
 * comparing, a column per chosen metric, param or tag, child runs under
 * their parent (collapsible). Each cell carries `data-priority`: in a narrow
 * list, CSS hides columns from the least important (see `columnPriority`).
 * Run text is rendered as React text, never as HTML.
 */
import React, { useCallback, useMemo } from 'react';

import { type IColumn, isActive } from './logic';
import { MAX_COMPARE, type RunsModel } from './model';
import type { IChildrenSummary, IRunSummary } from '../api/types';
import { columnPriority, describeFilter, formatChildStatuses } from './columns';
import { BuiltinCell, EmptyList, UserCell } from './cells';

/** A column as the table shows it: with its collapse priority. */
export type ShownColumn = IColumn & { priority: number };

export function RunsTable(props: {
  model: RunsModel;
  columns: IColumn[];
  openNotebook?: (path: string) => void;
}): JSX.Element {
  const { model } = props;
  const selection = model.selection;
  const now = Date.now();
  const sortKey = model.sort.key;
  const columns = useMemo(
    () =>
      props.columns.map(c => ({ ...c, priority: columnPriority(c, sortKey) })),
    [props.columns, sortKey]
  );
  const onEnvHash = useCallback(
    (hash: string) => void model.setFilter({ envHash: hash }),
    [model]
  );
  if (!model.runs.length) {
    return (
      <EmptyList
        loading={model.loading}
        filter={describeFilter(model.filter)}
        onClear={() =>
          void model.setFilter({ search: '', status: '', envHash: '' })
        }
      />
    );
  }
  const nesting = model.nesting;
  const row = (run: IRunSummary, depth: number): JSX.Element => (
    <RunRow
      key={run.run_id}
      run={run}
      columns={columns}
      now={now}
      depth={depth}
      summary={depth ? undefined : nesting.summaries.get(run.run_id)}
      expanded={nesting.isExpanded(run.run_id)}
      onToggle={() =>
        void model.nesting.toggle(
          run.run_id,
          `${sortKey} ${model.sort.direction}`
        )
      }
      selected={selection.includes(run.run_id)}
      onSelect={additive => void model.select(run.run_id, additive)}
      openNotebook={props.openNotebook}
      onEnvHash={onEnvHash}
    />
  );
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
            <React.Fragment key={run.run_id}>
              {row(run, 0)}
              {nesting.isExpanded(run.run_id) ? (
                <ChildRows
                  parent={run}
                  model={model}
                  span={columns.length + 1}
                  render={child => row(child, 1)}
                />
              ) : null}
            </React.Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The children of an expanded parent: their rows, or why they are missing. */
function ChildRows(props: {
  parent: IRunSummary;
  model: RunsModel;
  span: number;
  render: (run: IRunSummary) => JSX.Element;
}): JSX.Element {
  const { nesting } = props.model;
  const id = props.parent.run_id;
  const error = nesting.errors.get(id);
  const runs = nesting.runs.get(id);
  if (runs?.length && !error) {
    return <>{runs.map(props.render)}</>;
  }
  return (
    <tr className="jp-mlops-child-row" data-testid="mlops-children-note">
      <td colSpan={props.span} className="jp-mlops-muted">
        {error
          ? `Cannot load the child runs: ${error.message}`
          : runs
            ? 'No child runs any more.'
            : 'Loading child runs\u2026'}
      </td>
    </tr>
  );
}

/** The CSS class of a column: `jp-mlops-col-<id>`, user columns `jp-mlops-col-user`. */
function columnClass(column: IColumn): string {
  return column.user
    ? `jp-mlops-col-user jp-mlops-col-${column.user.kind}-value`
    : `jp-mlops-col-${column.id}`;
}

function HeaderCell(props: {
  column: ShownColumn;
  model: RunsModel;
}): JSX.Element {
  const { column, model } = props;
  const sortKey = column.sortKey;
  const title = column.user ? column.id : column.label.toLowerCase();
  if (!sortKey) {
    return (
      <th className={columnClass(column)} data-priority={column.priority}>
        {column.label}
      </th>
    );
  }
  const active = model.sort.key === sortKey;
  const direction = model.sort.direction;
  return (
    <th
      className={columnClass(column)}
      data-priority={column.priority}
      data-column={column.id}
      aria-sort={
        active ? (direction === 'ASC' ? 'ascending' : 'descending') : 'none'
      }
    >
      <button
        className="jp-mlops-sort-button"
        data-testid={`mlops-sort-${column.id}`}
        title={`Sort by ${title}`}
        onClick={() => void model.sortBy(sortKey)}
      >
        {column.label}
        <span className="jp-mlops-sort-arrow" aria-hidden="true">
          {active ? (direction === 'ASC' ? '\u25B2' : '\u25BC') : ''}
        </span>
      </button>
      {column.user && model.columns.includes(column.id) ? (
        <HideButton id={column.id} model={model} />
      ) : null}
    </th>
  );
}

/** "hide" under a user column's header: removes it from the `columns` setting. */
function HideButton(props: { id: string; model: RunsModel }): JSX.Element {
  return (
    <button
      className="jp-mlops-hide-column"
      data-testid="mlops-hide-column"
      aria-label={`Hide column ${props.id}`}
      title={`Hide the column ${props.id} (removes it from the columns setting)`}
      onClick={() => props.model.removeColumn(props.id)}
    >
      hide
    </button>
  );
}

interface IRunRowProps {
  run: IRunSummary;
  columns: ShownColumn[];
  now: number;
  /** 0 for a listed run, 1 for a child shown under its parent. */
  depth: number;
  /** The children of a top-level run, when it has any. */
  summary?: IChildrenSummary;
  expanded: boolean;
  onToggle: () => void;
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
    before.summary === after.summary &&
    before.expanded === after.expanded &&
    before.columns === after.columns &&
    before.openNotebook === after.openNotebook &&
    before.onEnvHash === after.onEnvHash &&
    !isActive(after.run) &&
    Math.floor(before.now / 60_000) === Math.floor(after.now / 60_000)
  );
});

function RunRowView(props: IRunRowProps): JSX.Element {
  const { run, selected } = props;
  const child = props.depth > 0;
  return (
    <tr
      className={`jp-mlops-run-row${selected ? ' jp-mod-selected' : ''}${child ? ' jp-mlops-child-row' : ''}`}
      data-testid="mlops-run-row"
      data-run-id={run.run_id}
      data-parent-id={child ? run.tags['mlflow.parentRunId'] : undefined}
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
      <td
        className="jp-mlops-col-select"
        data-priority={1}
        onClick={e => e.stopPropagation()}
      >
        <input
          type="checkbox"
          data-testid="mlops-run-checkbox"
          aria-label={`Compare run ${run.run_name}`}
          checked={selected}
          onChange={() => props.onSelect(true)}
        />
      </td>
      {props.columns.map(column => (
        <td
          key={column.id}
          className={columnClass(column)}
          data-priority={column.priority}
        >
          {column.user ? (
            <UserCell column={column.user} run={run} summary={props.summary} />
          ) : column.id === 'run_name' ? (
            <NameCell {...props} />
          ) : (
            <BuiltinCell
              column={column}
              run={run}
              now={props.now}
              openNotebook={props.openNotebook}
              onEnvHash={props.onEnvHash}
            />
          )}
        </td>
      ))}
    </tr>
  );
}

/** The run name; a parent's expand toggle and its children's status counts. */
function NameCell(props: IRunRowProps): JSX.Element {
  const { run, summary, expanded } = props;
  return (
    <span className="jp-mlops-name-cell">
      {summary ? (
        <button
          className="jp-mlops-expand"
          data-testid="mlops-expand"
          aria-expanded={expanded}
          title={`${expanded ? 'Hide' : 'Show'} the ${summary.count} child runs`}
          onClick={e => {
            e.stopPropagation();
            props.onToggle();
          }}
        >
          {expanded ? '\u25BE' : '\u25B8'}
        </button>
      ) : null}
      <span
        className="jp-mlops-run-name"
        title={`${run.run_name}\n${run.run_id}`}
      >
        {run.run_name || run.run_id}
      </span>
      {summary ? (
        <span
          className="jp-mlops-children-summary"
          data-testid="mlops-children-summary"
          title={`${summary.count} child runs`}
        >
          {formatChildStatuses(summary)}
        </span>
      ) : null}
    </span>
  );
}
