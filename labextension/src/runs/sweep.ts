/**
 * The model of the sweep view, as pure functions: the runs of a sweep (a
 * launch's executions or a selection of MLflow runs) with their parameters
 * and metrics, which parameters vary, the axes of the parallel coordinates
 * (each with its own min and max, numeric or by category) and where a value
 * lies on one, and the points of a parameter-vs-metric scatter.
 *
 * Nothing here touches the DOM or chart.js, so it is unit-tested directly.
 */
import type { IExecution } from '../api/pipelines';
import type { IRunSummary } from '../api/types';
import { isOurMetric } from './metricsView';

/** One run of a sweep: its parameters (typed where known) and latest metrics. */
export interface ISweepRun {
  id: string;
  label: string;
  params: Readonly<Record<string, unknown>>;
  metrics: Readonly<Record<string, number | null>>;
}

/** A metric the user logged: not a `system/...` series, not a cost metric. */
export function isUserMetric(key: string): boolean {
  return !isOurMetric(key);
}

/** A value as the axes and labels compare it: JSON text (`0.1`, `"adam"`). */
export function valueKey(value: unknown): string {
  return value === undefined ? '' : (JSON.stringify(value) ?? String(value));
}

/**
 * The keys whose value is not the same in every record of `params` (a record
 * without the key counts as a value of its own), sorted; none for fewer than 2.
 */
export function varyingParams(
  params: readonly Readonly<Record<string, unknown>>[]
): string[] {
  if (params.length < 2) {
    return [];
  }
  const keys = new Set<string>();
  params.forEach(record => Object.keys(record).forEach(k => keys.add(k)));
  return [...keys]
    .filter(key => new Set(params.map(p => valueKey(p[key]))).size > 1)
    .sort();
}

/** The user's metrics that some run has a number for, sorted. */
export function sweepMetrics(runs: readonly ISweepRun[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.metrics)) {
      if (isUserMetric(key) && typeof value === 'number') {
        keys.add(key);
      }
    }
  }
  return [...keys].sort();
}

/** `chosen` when it is one of `keys`, else the first; null when there is none. */
export function pick(
  keys: readonly string[],
  chosen: string | null
): string | null {
  if (chosen !== null && keys.includes(chosen)) {
    return chosen;
  }
  return keys.length ? keys[0] : null;
}

const NUMBER_TEXT = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * An MLflow param (always text) as the value it was: `"0.3"` -> 0.3, `"3"` -> 3;
 * anything else stays text.
 */
export function paramValue(text: string): unknown {
  const trimmed = text.trim();
  return NUMBER_TEXT.test(trimmed) ? Number(trimmed) : text;
}

/** A finite number, else null. */
function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The runs of a launch's executions (of `step`, when given): `t0`, `t1`... */
export function fromExecutions(
  executions: readonly IExecution[],
  step: string | null = null
): ISweepRun[] {
  const chosen = executions.filter(e => step === null || e.step === step);
  const steps = new Set(chosen.map(e => e.step));
  return chosen.map(e => ({
    id: e.run_id ?? `execution-${e.index}`,
    label: steps.size > 1 ? `${e.step} t${e.trial}` : `t${e.trial}`,
    params: e.parameters ?? {},
    metrics: e.metrics ?? {}
  }));
}

/** The runs of an MLflow selection; numeric params read as numbers. */
export function fromRunSummaries(runs: readonly IRunSummary[]): ISweepRun[] {
  return runs.map(run => {
    const params: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(run.params ?? {})) {
      params[key] = paramValue(text);
    }
    return {
      id: run.run_id,
      label: run.run_name || run.run_id,
      params,
      metrics: run.metrics ?? {}
    };
  });
}

/** The steps of a launch's executions, in order. */
export function launchSteps(executions: readonly IExecution[]): string[] {
  return [...new Set(executions.map(e => e.step))];
}

/** One axis of the parallel coordinates. */
export interface IAxis {
  key: string;
  kind: 'param' | 'metric';
  /** Every value is a number: positions are linear from `min` to `max`. */
  numeric: boolean;
  min: number;
  max: number;
  /** The values in order (a categorical axis); empty when numeric. */
  categories: string[];
}

function axis(
  runs: readonly ISweepRun[],
  key: string,
  kind: IAxis['kind']
): IAxis {
  const values = runs
    .map(run => (kind === 'param' ? run.params[key] : run.metrics[key]))
    .filter(value => value !== undefined && value !== null);
  const numbers = values.map(finite);
  if (numbers.every(n => n !== null) && numbers.length) {
    const known = numbers as number[];
    return {
      key,
      kind,
      numeric: true,
      min: Math.min(...known),
      max: Math.max(...known),
      categories: []
    };
  }
  const categories = [...new Set(values.map(valueKey))].sort();
  return {
    key,
    kind,
    numeric: false,
    min: 0,
    max: Math.max(categories.length - 1, 0),
    categories
  };
}

/** The axes: the varying `params`, then the `metrics`. */
export function sweepAxes(
  runs: readonly ISweepRun[],
  params: readonly string[],
  metrics: readonly string[]
): IAxis[] {
  return [
    ...params.map(key => axis(runs, key, 'param')),
    ...metrics.map(key => axis(runs, key, 'metric'))
  ];
}

/** Where `value` lies on `axis`, from 0 (its min) to 1 (its max); 0.5 on a flat axis; null when missing. */
export function axisPosition(axis: IAxis, value: unknown): number | null {
  if (value === undefined || value === null) {
    return null;
  }
  let at: number | null;
  if (axis.numeric) {
    at = finite(value);
  } else {
    const index = axis.categories.indexOf(valueKey(value));
    at = index < 0 ? null : index;
  }
  if (at === null) {
    return null;
  }
  return axis.max === axis.min ? 0.5 : (at - axis.min) / (axis.max - axis.min);
}

/** The value of `run` that `axis` shows. */
export function axisValue(axis: IAxis, run: ISweepRun): unknown {
  return axis.kind === 'param' ? run.params[axis.key] : run.metrics[axis.key];
}

/** One run across the axes: its position on each (null where it has no value). */
export interface ISweepLine {
  run: ISweepRun;
  index: number;
  positions: (number | null)[];
}

/** One line per run, in the runs' order. */
export function sweepLines(
  runs: readonly ISweepRun[],
  axes: readonly IAxis[]
): ISweepLine[] {
  return runs.map((run, index) => ({
    run,
    index,
    positions: axes.map(a => axisPosition(a, axisValue(a, run)))
  }));
}

/** A category (`valueKey`) as a label: text without its quotes, anything else as JSON. */
export function categoryText(key: string): string {
  if (key.startsWith('"')) {
    try {
      return String(JSON.parse(key));
    } catch {
      return key;
    }
  }
  return key;
}

/** The label of an axis end: a number as `format` writes it, or the category's text. */
export function axisEnd(
  axis: IAxis,
  end: 'min' | 'max',
  format: (value: number) => string
): string {
  if (axis.numeric) {
    return format(end === 'min' ? axis.min : axis.max);
  }
  const categories = axis.categories;
  const key = end === 'min' ? categories[0] : categories[categories.length - 1];
  return key === undefined ? '' : categoryText(key);
}

/** A scatter of one parameter (x) against one metric (y). */
export interface ISweepScatter {
  param: string;
  metric: string;
  /** The param's values in order when they are not all numbers (x = index). */
  categories: string[] | null;
  points: { x: number; y: number; run: ISweepRun; index: number }[];
  /** Runs without the param or the metric. */
  missing: ISweepRun[];
}

/** Each run with both values as a point; a categorical param by its index. */
export function sweepScatter(
  runs: readonly ISweepRun[],
  param: string,
  metric: string
): ISweepScatter {
  const paramAxis = axis(runs, param, 'param');
  const categories = paramAxis.numeric ? null : paramAxis.categories;
  const points: ISweepScatter['points'] = [];
  const missing: ISweepRun[] = [];
  runs.forEach((run, index) => {
    const raw = run.params[param];
    const x =
      categories === null
        ? finite(raw)
        : raw === undefined
          ? null
          : categories.indexOf(valueKey(raw));
    const y = finite(run.metrics[metric]);
    if (x === null || x < 0 || y === null) {
      missing.push(run);
    } else {
      points.push({ x, y, run, index });
    }
  });
  return { param, metric, categories, points, missing };
}
