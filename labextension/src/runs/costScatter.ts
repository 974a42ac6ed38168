/**
 * Pure logic of the comparison's cost scatter: each compared run's cost
 * (metric `cost_usd`, logged when the run ends) against a chosen metric, so
 * that a user sees which run bought its accuracy cheapest.
 *
 * Nothing here touches the DOM, so it is unit-tested directly.
 */
import type { IRunSummary } from '../api/types';
import { COST_METRICS as RUN_COST_METRICS } from './metricsView';

/** The metric a run's compute cost is logged under (US dollars), at run end. */
export const COST_METRIC = 'cost_usd';

/** The run-end cost metrics: never offered as the scatter's other axis. */
export const COST_METRICS: ReadonlySet<string> = new Set([
  COST_METRIC,
  'idle_cost_usd',
  ...RUN_COST_METRICS
]);

/** Metrics preferred as the default axis, in order (quality measures). */
const PREFERRED = /acc|f1|auc|precision|recall|r2|score|map|bleu/i;

type ScatterRun = Pick<IRunSummary, 'run_id' | 'run_name' | 'metrics'>;

/** One run in the scatter. */
export interface IScatterRun {
  runId: string;
  label: string;
  /** The run's index among the compared runs (its colour). */
  index: number;
}

/** A run drawn in the scatter: its cost (x) and metric value (y). */
export interface IScatterPoint extends IScatterRun {
  cost: number;
  value: number;
}

/** The scatter of the compared runs for one metric. */
export interface ICostScatter {
  metric: string;
  /** Runs with both a cost and the metric, cheapest first. */
  points: IScatterPoint[];
  /** Runs without a finite `cost_usd`: "no cost recorded". */
  noCost: IScatterRun[];
  /** Runs with a cost but without the metric. */
  noMetric: IScatterRun[];
}

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * The metrics the compared runs can be plotted against: every metric with a
 * finite value in at least one run, the cost metrics left out, sorted.
 */
export function scatterMetrics(runs: readonly ScatterRun[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const [key, value] of Object.entries(run.metrics ?? {})) {
      if (!COST_METRICS.has(key) && finite(value)) {
        keys.add(key);
      }
    }
  }
  return [...keys].sort((a, b) => a.localeCompare(b));
}

/**
 * The metric shown first: `current` while it is still offered, else the first
 * quality-like metric (accuracy, f1, auc, ...), else the first one; null when
 * there is none.
 */
export function defaultScatterMetric(
  metrics: readonly string[],
  current?: string | null
): string | null {
  if (current && metrics.includes(current)) {
    return current;
  }
  return metrics.find(key => PREFERRED.test(key)) ?? metrics[0] ?? null;
}

/** The scatter of `runs` (in comparison order) for `metric`. */
export function costScatter(
  runs: readonly ScatterRun[],
  metric: string
): ICostScatter {
  const scatter: ICostScatter = {
    metric,
    points: [],
    noCost: [],
    noMetric: []
  };
  runs.forEach((run, index) => {
    const entry = {
      runId: run.run_id,
      label: run.run_name || run.run_id,
      index
    };
    const cost = run.metrics?.[COST_METRIC];
    const value = run.metrics?.[metric];
    if (!finite(cost)) {
      scatter.noCost.push(entry);
    } else if (!finite(value)) {
      scatter.noMetric.push(entry);
    } else {
      scatter.points.push({ ...entry, cost, value });
    }
  });
  scatter.points.sort((a, b) => a.cost - b.cost || a.index - b.index);
  return scatter;
}
