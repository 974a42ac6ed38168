/**
 * Pure logic of the Runs view: columns, sort/filter state -> query parameters,
 * paging merges, run comparison (param diff) and metric-history overlays.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import { envHashFilter } from '../env/logic';
import { TAGS } from '../api/tags';
import { type IUserColumn, userColumn } from './columns';
import type {
  IMetricPoint,
  IRunSummary,
  IRunsQuery,
  RunStatus
} from '../api/types';

// ---------------------------------------------------------------- columns

/** Columns of the runs table. */
export const COLUMN_IDS = [
  'status',
  'run_name',
  'start_time',
  'duration',
  'notebook',
  'params',
  'metrics',
  'env_hash'
] as const;

export type ColumnId = (typeof COLUMN_IDS)[number];

export interface IColumn {
  /** A `ColumnId`, or a user column's `metrics.<key>` / `params.<key>` / `tags.<key>`. */
  id: string;
  label: string;
  /** The `order_by` column the server sorts by; absent when not sortable. */
  sortKey?: string;
  /** Set for a user column (one metric, param or tag). */
  user?: IUserColumn;
}

export const COLUMNS: readonly IColumn[] = [
  { id: 'status', label: 'Status', sortKey: 'status' },
  { id: 'run_name', label: 'Run', sortKey: 'run_name' },
  { id: 'start_time', label: 'Start', sortKey: 'start_time' },
  { id: 'duration', label: 'Duration' },
  { id: 'notebook', label: 'Notebook' },
  { id: 'params', label: 'Params' },
  { id: 'metrics', label: 'Latest metrics' },
  // Sorting by the hash puts runs that share an environment next to each other.
  { id: 'env_hash', label: 'Env', sortKey: `tags.${TAGS.ENV_HASH}` }
];

/** Columns shown when the user has not chosen: all but the environment hash. */
export const DEFAULT_COLUMN_IDS: readonly ColumnId[] = COLUMN_IDS.filter(
  id => id !== 'env_hash'
);

/**
 * The known columns of `ids`, in table order, user columns (`metrics.<key>`,
 * ...) right after the run name; unknown ids are dropped. The run name is
 * always shown: it is what a row is recognized by.
 */
export function visibleColumns(ids: readonly string[]): IColumn[] {
  const wanted = new Set<string>([...ids, 'run_name']);
  const user = ids
    .map(userColumn)
    .filter(
      (c, i, all): c is IColumn =>
        !!c && all.findIndex(o => o?.id === c.id) === i
    );
  const builtin = COLUMNS.filter(column => wanted.has(column.id));
  const at = builtin.findIndex(column => column.id === 'run_name') + 1;
  return [...builtin.slice(0, at), ...user, ...builtin.slice(at)];
}

// ---------------------------------------------------------------- sorting

export type SortDirection = 'ASC' | 'DESC';

export interface ISortState {
  /** An `order_by` column: `start_time`, `run_name`, `status`, `metrics.<key>`, `params.<key>`. */
  key: string;
  direction: SortDirection;
}

export const DEFAULT_SORT: ISortState = {
  key: 'start_time',
  direction: 'DESC'
};

/** The direction a column sorts in when first chosen: newest/highest first for times and metrics. */
export function defaultDirection(key: string): SortDirection {
  return key === 'start_time' ||
    key === 'end_time' ||
    key.startsWith('metrics.')
    ? 'DESC'
    : 'ASC';
}

/** Clicking a sortable header: the same column flips direction, another one starts fresh. */
export function toggleSort(current: ISortState, key: string): ISortState {
  if (current.key === key) {
    return { key, direction: current.direction === 'ASC' ? 'DESC' : 'ASC' };
  }
  return { key, direction: defaultDirection(key) };
}

const PLAIN_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The `order_by` value for a sort state. Metric and param names that are not
 * plain identifiers (`val/loss`, `top 5`) are quoted with backticks, as
 * MLflow's search syntax requires.
 */
export function orderByClause(sort: ISortState): string {
  const match = /^(metrics|params|tags|attributes)\.(.+)$/.exec(sort.key);
  let column = sort.key;
  if (match && !PLAIN_IDENTIFIER.test(match[2])) {
    const name = match[2];
    column = name.includes('`')
      ? `${match[1]}."${name.replace(/"/g, '')}"`
      : `${match[1]}.\`${name}\``;
  }
  return `${column} ${sort.direction}`;
}

// ---------------------------------------------------------------- filtering and paging

export interface IFilterState {
  /** Experiment id; empty for all active experiments. */
  experimentId: string;
  /** The search box: MLflow's filter syntax or the shorthand, translated by the server (`q`). */
  search: string;
  /** Status filter; empty for any status. */
  status: RunStatus | '';
  /** Only runs whose environment has this hash (tag `mlops.env.hash`); empty for any. */
  envHash?: string;
}

export const DEFAULT_FILTER: IFilterState = {
  experimentId: '',
  search: '',
  status: ''
};

/** The server caps `q` at 1000 characters and `max_results` at 1000. */
export const MAX_SEARCH_LENGTH = 1000;
export const MAX_PAGE_SIZE = 1000;

/** Query parameters of `GET /runs` for the current view state (`extra`: nesting, `best`). */
export function buildRunsQuery(
  filter: IFilterState,
  sort: ISortState,
  pageSize: number,
  pageToken?: string | null,
  extra: Partial<IRunsQuery> = {}
): IRunsQuery {
  const query: IRunsQuery = {
    ...extra,
    order_by: orderByClause(sort),
    max_results: Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(pageSize)))
  };
  if (filter.experimentId) {
    query.experiment_id = filter.experimentId;
  }
  if (filter.status) {
    query.status = filter.status;
  }
  const search = filter.search.trim().slice(0, MAX_SEARCH_LENGTH);
  if (search) {
    query.q = search;
  }
  const envFilter = filter.envHash ? envHashFilter(filter.envHash) : null;
  if (envFilter) {
    query.filter = envFilter;
  }
  if (pageToken) {
    query.page_token = pageToken;
  }
  return query;
}

export { appendPage, mergeHead, replaceRuns } from './paging';

/** Whether a run may still change (the view keeps refreshing it). */
export function isActive(run: Pick<IRunSummary, 'status'>): boolean {
  return run.status === 'RUNNING' || run.status === 'SCHEDULED';
}

// ---------------------------------------------------------------- comparing runs

export interface IDiffRow<T> {
  key: string;
  /** One value per compared run, in the order the runs were given; undefined when missing. */
  values: (T | undefined)[];
  /** True when not all runs have the same value (a missing value counts as different). */
  differs: boolean;
}

function diffRecords<T>(
  records: readonly Readonly<Record<string, T>>[]
): IDiffRow<T>[] {
  const keys = new Set<string>();
  for (const record of records) {
    Object.keys(record).forEach(key => keys.add(key));
  }
  return [...keys].sort(compareKeys).map(key => {
    const values = records.map(record =>
      Object.prototype.hasOwnProperty.call(record, key)
        ? record[key]
        : undefined
    );
    const distinct = new Set(
      values.map(value =>
        value === undefined ? '\u0000missing' : String(value)
      )
    );
    return { key, values, differs: distinct.size > 1 };
  });
}

/** Param rows for a side-by-side comparison; rows whose values differ are flagged. */
export function diffParams(
  runs: readonly Pick<IRunSummary, 'params'>[],
  onlyDifferent = false
): IDiffRow<string>[] {
  const rows = diffRecords(runs.map(run => run.params ?? {}));
  return onlyDifferent ? rows.filter(row => row.differs) : rows;
}

/** Latest-metric rows for a side-by-side comparison. */
export function diffMetrics(
  runs: readonly Pick<IRunSummary, 'metrics'>[]
): IDiffRow<number | null>[] {
  return diffRecords(runs.map(run => run.metrics ?? {}));
}

/** Sorted union of the metric keys of `runs`. */
export function metricKeys(
  runs: readonly Pick<IRunSummary, 'metrics'>[]
): string[] {
  const keys = new Set<string>();
  runs.forEach(run => Object.keys(run.metrics ?? {}).forEach(k => keys.add(k)));
  return [...keys].sort(compareKeys);
}

/** Sorted union of the param keys of `runs`. */
export function paramKeys(
  runs: readonly Pick<IRunSummary, 'params'>[]
): string[] {
  const keys = new Set<string>();
  runs.forEach(run => Object.keys(run.params ?? {}).forEach(k => keys.add(k)));
  return [...keys].sort(compareKeys);
}

function compareKeys(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

// ---------------------------------------------------------------- metric overlays

export interface IMetricSeries {
  runId: string;
  label: string;
  points: readonly IMetricPoint[];
}

export interface IOverlaySeries {
  runId: string;
  label: string;
  /** One value per entry of `IOverlay.x`; null where this run has no point. */
  values: (number | null)[];
}

export interface IOverlay {
  /**
   * `step` when points are placed by their step; `index` when every run
   * logged the metric without steps (all points at one step), so points are
   * placed by their order in time instead.
   */
  xAxis: 'step' | 'index';
  /** The sorted union of x positions of all series. */
  x: number[];
  series: IOverlaySeries[];
}

/**
 * Points ordered by step then timestamp; for a repeated step only the last
 * value is kept. Points without a finite value (sent as null) are dropped.
 */
export function normalizeHistory(
  points: readonly IMetricPoint[]
): IMetricPoint[] {
  const sorted = points
    .filter(point => Number.isFinite(point.step) && isFiniteNumber(point.value))
    .sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
  const out: IMetricPoint[] = [];
  for (const point of sorted) {
    const last = out[out.length - 1];
    if (last && last.step === point.step) {
      out[out.length - 1] = point;
    } else {
      out.push(point);
    }
  }
  return out;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function loggedWithoutSteps(points: readonly IMetricPoint[]): boolean {
  return points.length > 1 && points.every(p => p.step === points[0].step);
}

/**
 * Merge the histories of one metric from several runs onto a common x axis,
 * for overlaying their curves in one chart.
 */
export function mergeHistories(series: readonly IMetricSeries[]): IOverlay {
  const withPoints = series.filter(s => s.points.length > 0);
  const byIndex =
    withPoints.length > 0 &&
    withPoints.every(s => loggedWithoutSteps(s.points));
  const placed = series.map(s => {
    const positions = new Map<number, number>();
    if (byIndex) {
      s.points
        .filter(point => isFiniteNumber(point.value))
        .sort((a, b) => a.timestamp - b.timestamp)
        .forEach((point, index) => positions.set(index, point.value as number));
    } else {
      normalizeHistory(s.points).forEach(p =>
        positions.set(p.step, p.value as number)
      );
    }
    return { runId: s.runId, label: s.label, positions };
  });
  const xs = new Set<number>();
  placed.forEach(p => p.positions.forEach((_, x) => xs.add(x)));
  const x = [...xs].sort((a, b) => a - b);
  return {
    xAxis: byIndex ? 'index' : 'step',
    x,
    series: placed.map(p => ({
      runId: p.runId,
      label: p.label,
      values: x.map(position => {
        const value = p.positions.get(position);
        return value === undefined ? null : value;
      })
    }))
  };
}

/** The `{x, y}` points of one overlay series, without the gaps (for a line chart). */
export function seriesPoints(
  overlay: IOverlay,
  index: number
): { x: number; y: number }[] {
  const values = overlay.series[index]?.values ?? [];
  const points: { x: number; y: number }[] = [];
  values.forEach((value, i) => {
    if (value !== null && Number.isFinite(value)) {
      points.push({ x: overlay.x[i], y: value });
    }
  });
  return points;
}
