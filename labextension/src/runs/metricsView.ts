/**
 * The model of a run's metric views (details and comparison), as pure
 * functions: which metrics are the user's curves, single values, or the
 * `system/...` and cost metrics jupyter-mlops logs itself; the points of a
 * history on a step, wall-time or relative-time x axis; exponential smoothing;
 * and whether a log scale can show a chart.
 *
 * Nothing here touches the DOM or chart.js, so it is unit-tested directly.
 */
import type { IMetricPoint } from '../api/types';
import { formatNumber } from '../common/format';
import { type IDiffRow, normalizeHistory } from './logic';

// ---------------------------------------------------------------- what a metric is

/** Prefix of the utilisation and cost series (jupyter-mlops' and MLflow's system metrics). */
export const SYSTEM_PREFIX = 'system/';

/**
 * The end-of-run cost metrics jupyter-mlops logs (`run_cost_metrics` in
 * `jupyter_mlops/core/cost/metrics.py`), besides `cost_<currency>` and
 * `idle_cost_<currency>` (`COST_MONEY`).
 */
export const COST_METRICS: readonly string[] = [
  'cpu_core_hours',
  'gpu_hours',
  'gpu_mem_gb_hours',
  'energy_kwh',
  'co2e_g'
];

/** `cost_usd`, `idle_cost_eur`: a cost in a currency (ISO 4217 code, lower case). */
const COST_MONEY = /^(idle_)?cost_[a-z]{3}$/;

/** A `system/...` series (utilisation, live cost). */
export function isSystemMetric(key: string): boolean {
  return key.startsWith(SYSTEM_PREFIX);
}

/** One of the end-of-run cost metrics. */
export function isCostMetric(key: string): boolean {
  return COST_METRICS.includes(key) || COST_MONEY.test(key);
}

/** Logged by jupyter-mlops, not by the user: a system series or a cost metric. */
export function isOurMetric(key: string): boolean {
  return isSystemMetric(key) || isCostMetric(key);
}

/** Metric names in display order: case-insensitive, numbers by value (`epoch2` before `epoch10`). */
export function compareMetricKeys(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

/**
 * Latest-metric rows of a comparison: the user's metrics first, flagged where
 * the runs differ; then the `system/...` and cost metrics jupyter-mlops
 * logged, kept but never flagged (they differ between any two runs; that is
 * not what the user compared).
 */
export function flagUserDifferences<T>(
  rows: readonly IDiffRow<T>[]
): IDiffRow<T>[] {
  return [
    ...rows.filter(row => !isOurMetric(row.key)),
    ...rows
      .filter(row => isOurMetric(row.key))
      .map(row => ({ ...row, differs: false }))
  ];
}

// ---------------------------------------------------------------- layout

/** What the metric views need of a run: its latest values and the histories loaded so far. */
export interface IRunMetrics {
  metrics: Readonly<Record<string, number | null>>;
  histories: ReadonlyMap<string, readonly IMetricPoint[]>;
}

/** A metric shown as a number in a table: its latest value and step. */
export interface ISingleValue {
  key: string;
  value: number | null;
  /** Null while the history loads or when it has no point. */
  step: number | null;
}

/** Where each metric of one run or a comparison goes. */
export interface IMetricLayout {
  /** The user's metrics with more than one point (in some run): charts, first. */
  curves: string[];
  /** The user's metrics with one point (or whose history is still loading): a table. */
  singles: string[];
  /** `system/...` and cost metrics with more than one point: charts, in the collapsed section. */
  systemCurves: string[];
  /** `system/...` and cost metrics with one point: a table, in the collapsed section. */
  systemSingles: string[];
}

/** The most points any of `runs` has of `key` (0 while no history is loaded). */
export function pointCount(runs: readonly IRunMetrics[], key: string): number {
  return Math.max(0, ...runs.map(run => run.histories.get(key)?.length ?? 0));
}

/**
 * Sort the metrics of `runs` into the user's curves, the user's single
 * values, and jupyter-mlops' own series and values; each list in
 * `compareMetricKeys` order. A metric is a curve when any run has more than
 * one point of it.
 */
export function layoutMetrics(runs: readonly IRunMetrics[]): IMetricLayout {
  const keys = new Set<string>();
  runs.forEach(run => Object.keys(run.metrics).forEach(key => keys.add(key)));
  const layout: IMetricLayout = {
    curves: [],
    singles: [],
    systemCurves: [],
    systemSingles: []
  };
  for (const key of [...keys].sort(compareMetricKeys)) {
    const curve = pointCount(runs, key) > 1;
    if (isOurMetric(key)) {
      (curve ? layout.systemCurves : layout.systemSingles).push(key);
    } else {
      (curve ? layout.curves : layout.singles).push(key);
    }
  }
  return layout;
}

/** The table rows of `keys` for one run: latest value and the step it was logged at. */
export function singleValues(
  run: IRunMetrics,
  keys: readonly string[]
): ISingleValue[] {
  return keys.map(key => {
    const points = run.histories.get(key);
    const last = points?.length ? points[points.length - 1] : undefined;
    return {
      key,
      value: run.metrics[key] ?? null,
      step: last ? last.step : null
    };
  });
}

// ---------------------------------------------------------------- x axes

/** What a chart's x axis shows: the logged step, the clock time, or seconds since the run started. */
export type XAxis = 'step' | 'wall' | 'relative';

export const X_AXES: readonly { id: XAxis; label: string }[] = [
  { id: 'step', label: 'Step' },
  { id: 'wall', label: 'Wall time' },
  { id: 'relative', label: 'Relative time' }
];

/** A chart point: x in steps, epoch milliseconds (wall) or seconds (relative). */
export interface IXY {
  x: number;
  y: number;
}

/** One run's history of a metric, as a chart draws it. */
export interface IRunSeries {
  label: string;
  points: readonly IMetricPoint[];
  /** The run's start (epoch ms): relative time counts from it (else from the first point). */
  start: number | null;
}

function hasValue(
  point: IMetricPoint
): point is IMetricPoint & { value: number } {
  return typeof point.value === 'number' && Number.isFinite(point.value);
}

/** More than one point, all at one step: logged without steps. */
export function loggedWithoutSteps(points: readonly IMetricPoint[]): boolean {
  return points.length > 1 && points.every(p => p.step === points[0].step);
}

/**
 * The x axis a chart of `key` starts on: time since the run started for the
 * `system/...` series and for metrics logged without steps (every point at
 * one step), else the step.
 */
export function defaultXAxis(
  key: string,
  histories: readonly (readonly IMetricPoint[] | undefined)[]
): XAxis {
  const loaded = histories.filter(
    (h): h is readonly IMetricPoint[] => h !== undefined && h.length > 0
  );
  if (isSystemMetric(key)) {
    return 'relative';
  }
  return loaded.length > 0 && loaded.every(loggedWithoutSteps)
    ? 'relative'
    : 'step';
}

/**
 * The `{x, y}` points of a series on `axis`, in x order, without points that
 * have no finite value. By step, a repeated step keeps its last value; a
 * history logged without steps is placed by its order in time (0, 1, 2...).
 * By wall time x is the timestamp (epoch ms); by relative time the seconds
 * since the run's start.
 */
export function seriesXY(series: IRunSeries, axis: XAxis): IXY[] {
  if (axis === 'step') {
    if (loggedWithoutSteps(series.points)) {
      return byTime(series.points).map((p, index) => ({
        x: index,
        y: p.value
      }));
    }
    return normalizeHistory(series.points).map(p => ({
      x: p.step,
      y: p.value as number
    }));
  }
  const points = byTime(series.points);
  if (axis === 'wall') {
    return points.map(p => ({ x: p.timestamp, y: p.value }));
  }
  const origin = series.start ?? points[0]?.timestamp ?? 0;
  return points.map(p => ({ x: (p.timestamp - origin) / 1000, y: p.value }));
}

function byTime(
  points: readonly IMetricPoint[]
): (IMetricPoint & { value: number })[] {
  return points
    .filter(hasValue)
    .sort((a, b) => a.timestamp - b.timestamp || a.step - b.step);
}

/** The x axis' title: `point` when the step axis places histories logged without steps by order. */
export function xAxisTitle(axis: XAxis, series: readonly IRunSeries[]): string {
  if (axis === 'wall') {
    return 'wall time';
  }
  if (axis === 'relative') {
    return 'time since run start';
  }
  const withPoints = series.filter(s => s.points.length > 0);
  return withPoints.length > 0 &&
    withPoints.some(s => loggedWithoutSteps(s.points))
    ? 'point (no steps logged)'
    : 'step';
}

// ---------------------------------------------------------------- smoothing

/** The highest smoothing weight the slider offers. */
export const MAX_SMOOTHING = 0.99;

/**
 * Exponential moving average with TensorBoard's bias correction: with weight
 * `w`, `last = w * last + (1 - w) * value` starting from 0, and each output is
 * `last / (1 - w^n)` after `n` values, so the first output is the first value
 * (not pulled towards 0). `w` = 0 returns the values; it is clamped to
 * [0, MAX_SMOOTHING]. A non-finite value is passed through and left out of the
 * average.
 */
export function smooth(values: readonly number[], weight: number): number[] {
  const w = Math.min(MAX_SMOOTHING, Math.max(0, weight || 0));
  if (w === 0) {
    return [...values];
  }
  let last = 0;
  let count = 0;
  return values.map(value => {
    if (!Number.isFinite(value)) {
      return value;
    }
    last = last * w + (1 - w) * value;
    count++;
    return last / (1 - w ** count);
  });
}

/** `points` with their y values smoothed (`smooth`), x unchanged. */
export function smoothXY(points: readonly IXY[], weight: number): IXY[] {
  const ys = smooth(
    points.map(p => p.y),
    weight
  );
  return points.map((p, index) => ({ x: p.x, y: ys[index] }));
}

// ---------------------------------------------------------------- log scale

/**
 * Why a log scale cannot show these series (a value at or below zero has no
 * logarithm), or null when it can; names the lowest such value.
 */
export function logScaleRefusal(
  series: readonly (readonly IXY[])[]
): string | null {
  let lowest: IXY | null = null;
  for (const points of series) {
    for (const point of points) {
      if (point.y <= 0 && (lowest === null || point.y < lowest.y)) {
        lowest = point;
      }
    }
  }
  if (lowest === null) {
    return null;
  }
  return `Log scale needs values above 0; this chart has ${formatNumber(lowest.y)}.`;
}
