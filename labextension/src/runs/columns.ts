/**
 * User columns of the runs table (one metric, param or tag each), the
 * priority by which columns collapse in a narrow list, parent-row summaries
 * of child runs, and the empty-list wording.
 *
 * Pure logic: no DOM, no network.
 */
import type { IChildrenSummary, IRunSummary, RunStatus } from '../api/types';
import type { IColumn, IFilterState, ISortState } from './logic';

/** What a user column shows: `metrics.<key>`, `params.<key>` or `tags.<key>`. */
export type UserColumnKind = 'metrics' | 'params' | 'tags';

export interface IUserColumn {
  kind: UserColumnKind;
  key: string;
}

const USER_COLUMN = /^(metrics|params|tags)\.(.{1,250})$/;

/** `{kind, key}` of a user column id such as `metrics.accuracy`; null for anything else. */
export function parseUserColumn(id: string): IUserColumn | null {
  const match = USER_COLUMN.exec(id.trim());
  if (!match || !match[2].trim()) {
    return null;
  }
  return { kind: match[1] as UserColumnKind, key: match[2] };
}

/** The table column of a user column id (sortable on the server by that id), or null. */
export function userColumn(id: string): IColumn | null {
  const parsed = parseUserColumn(id);
  if (!parsed) {
    return null;
  }
  const id_ = `${parsed.kind}.${parsed.key}`;
  return { id: id_, label: parsed.key, sortKey: id_, user: parsed };
}

/** The user column ids of `ids`, normalized, without duplicates, in order. */
export function userColumnIds(ids: readonly string[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const column = userColumn(id);
    if (column && !out.includes(column.id)) {
      out.push(column.id);
    }
  }
  return out;
}

/** The value a user column shows for `run`: a metric is a number (null when not finite). */
export function userColumnValue(
  run: Pick<IRunSummary, 'metrics' | 'params' | 'tags'>,
  column: IUserColumn
): number | string | null | undefined {
  const record: Record<string, number | string | null> =
    column.kind === 'metrics'
      ? run.metrics
      : column.kind === 'params'
        ? run.params
        : run.tags;
  return Object.prototype.hasOwnProperty.call(record, column.key)
    ? record[column.key]
    : undefined;
}

/**
 * How early a column disappears as the list narrows (CSS reads
 * `data-priority`): 1 always (status, run name, the sort column), 2 the
 * columns the user added (metric/param/tag columns, the env hash), 3 start
 * time and duration, 4 the rest.
 */
export function columnPriority(
  column: Pick<IColumn, 'id' | 'sortKey' | 'user'>,
  sortKey: string
): 1 | 2 | 3 | 4 {
  if (
    column.id === 'status' ||
    column.id === 'run_name' ||
    (column.sortKey !== undefined && column.sortKey === sortKey)
  ) {
    return 1;
  }
  if (column.user || column.id === 'env_hash') {
    return 2; // columns the user added (the env hash is off by default)
  }
  return column.id === 'start_time' || column.id === 'duration' ? 3 : 4;
}

const LOWER_IS_BETTER = /loss|err|mse|mae|rmse|latency|time|cost|perplexity/i;

/**
 * The `best` query parameter: which metric a parent row summarizes over its
 * children. The sort column when it is a metric (the server uses it), else
 * the first metric user column (lower is better for names like `loss`).
 */
export function bestClause(
  sort: ISortState,
  columnIds: readonly string[]
): string | undefined {
  if (sort.key.startsWith('metrics.')) {
    return undefined;
  }
  for (const id of columnIds) {
    const column = parseUserColumn(id);
    if (column?.kind === 'metrics') {
      const key = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(column.key)
        ? column.key
        : `\`${column.key}\``;
      return `metrics.${key} ${LOWER_IS_BETTER.test(column.key) ? 'ASC' : 'DESC'}`;
    }
  }
  return undefined;
}

const STATUS_MARKS: [RunStatus, string][] = [
  ['FINISHED', '\u2713'],
  ['FAILED', '\u2717'],
  ['RUNNING', '\u25B6'],
  ['KILLED', '\u25A0'],
  ['SCHEDULED', '\u25CB']
];

/** `3 ✓ 1 ✗`: the children's status counts, zeros left out. */
export function formatChildStatuses(summary: IChildrenSummary): string {
  return STATUS_MARKS.filter(([status]) => (summary.statuses[status] ?? 0) > 0)
    .map(([status, mark]) => `${summary.statuses[status]} ${mark}`)
    .join(' ');
}

/** Whether the list shows top-level runs with their children nested (no filter set). */
export function isNested(filter: IFilterState): boolean {
  return !filter.search.trim() && !filter.status && !filter.envHash;
}

/**
 * What the filters ask for, in words, for "No runs match ..."; empty when no
 * filter is set (then an empty list means there are no runs at all).
 */
export function describeFilter(filter: IFilterState): string {
  const parts: string[] = [];
  if (filter.search.trim()) {
    parts.push(filter.search.trim());
  }
  if (filter.status) {
    parts.push(`status ${filter.status.toLowerCase()}`);
  }
  if (filter.envHash) {
    parts.push(`environment ${filter.envHash.slice(0, 12)}`);
  }
  return parts.join(', ');
}
