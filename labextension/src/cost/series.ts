/**
 * The cost-over-time chart's data: the ledger's history (`GET cost/history`,
 * so the same after a reload and for kernels that are gone) with the live
 * part appended as the polled snapshots arrive after it; cumulative within
 * the range, stacked by notebook, project, user or run tag.
 *
 * No DOM: unit-tested directly.
 */
import type { ICostHistory, ICostStatus } from '../api/cost';
import { uniqueSuffixes } from '../common/format';

/** What the cost-over-time chart and the report table group by. */
export type CostGroupBy = 'notebook' | 'project' | 'user' | 'tag';

/** A grouping: a label, or a run tag's key (`tag` + `tagKey`). */
export interface ICostGrouping {
  by: CostGroupBy;
  /** The run tag grouped by when `by` is `tag` (e.g. `epic`). */
  tagKey: string;
}

/** The server's name of an empty label (a kernel without a notebook, a run without the tag). */
export const NONE = '(none)';
/** The server's name of the groups past the 20th, summed. */
export const OTHER = '(other)';

/** How an empty label reads in the chart and the table. */
export const UNLABELLED: Record<CostGroupBy, string> = {
  notebook: '(no notebook)',
  project: '(no project)',
  user: '(no user)',
  tag: '(no tag)'
};

/** The routes' `by` parameter (`notebook`, `tag:epic`); null for a tag grouping without a key. */
export function groupingParam(grouping: ICostGrouping): string | null {
  if (grouping.by !== 'tag') {
    return grouping.by;
  }
  const key = grouping.tagKey.trim();
  return key ? `tag:${key}` : null;
}

/**
 * The labels of `keys` as the chart and table show them: for notebooks, the
 * shortest path suffix that tells them apart (`a/train.ipynb`,
 * `b/train.ipynb`); an empty label as `(no notebook)` and the like.
 */
export function groupLabels(
  keys: readonly string[],
  by: CostGroupBy
): Map<string, string> {
  const named = keys.filter(key => key && key !== NONE && key !== OTHER);
  const labels =
    by === 'notebook'
      ? uniqueSuffixes(named)
      : new Map(named.map(key => [key, key]));
  for (const key of keys) {
    if (!labels.has(key)) {
      labels.set(key, key === OTHER ? OTHER : UNLABELLED[by]);
    }
  }
  return labels;
}

/** The chart's data: one cumulative value per time per group, groups largest first. */
export interface IStackedSeries {
  /** Epoch milliseconds. */
  times: number[];
  /** `key`: the group as the server names it (a full notebook path); `label`: as shown. */
  groups: { key: string; label: string; values: number[] }[];
  /** Epoch milliseconds where the ledger's part ends and the live part begins; null without history. */
  liveFrom: number | null;
}

interface ILiveLabels {
  notebook: string;
  project: string;
  user: string;
}

interface ILiveTick {
  /** Epoch seconds. */
  time: number;
  /** Target id -> its cost since the previous tick. */
  deltas: Map<string, number>;
}

/**
 * The ledger's history of one range and grouping, and the live ticks polled
 * since (see the module doc). Set a new history when the range or grouping
 * changes, and every minute or so: ticks it covers are dropped.
 */
export class CostTimeline {
  constructor(options: { limit?: number } = {}) {
    this._limit = options.limit ?? 720;
  }

  /** The ledger's answer the chart starts from; null before it (or without the route). */
  get history(): ICostHistory | null {
    return this._history;
  }

  /** Grows on every change: a cheap memo key for views. */
  get version(): number {
    return this._version;
  }

  /** How many live ticks are kept (after the history). */
  get length(): number {
    return this._ticks.length;
  }

  /** Start from `history` (null: live only); live ticks it covers are dropped. */
  setHistory(history: ICostHistory | null): void {
    this._history = history;
    if (history) {
      this._ticks = this._ticks.filter(tick => tick.time > history.until);
    }
    this._version++;
  }

  /**
   * Add a polled snapshot: each kernel's cost since its previous snapshot. A
   * snapshot with no tick time, or no newer than the last, is ignored.
   */
  add(status: ICostStatus): boolean {
    if (status.time === null || status.time <= this._lastTime) {
      return false;
    }
    this._lastTime = status.time;
    const deltas = new Map<string, number>();
    for (const target of Object.values(status.targets)) {
      if (!target.cost) {
        continue;
      }
      const soFar = target.cost.cost_so_far;
      const before = this._soFar.get(target.target_id);
      if (before !== undefined && soFar > before) {
        deltas.set(target.target_id, soFar - before);
      }
      this._soFar.set(target.target_id, soFar);
      this._labels.set(target.target_id, {
        notebook: target.notebook ?? '',
        project: target.project ?? '',
        user: target.user ?? ''
      });
    }
    this._ticks.push({ time: status.time, deltas });
    if (this._ticks.length > this._limit) {
      this._ticks.splice(0, this._ticks.length - this._limit);
    }
    this._version++;
    return true;
  }

  clear(): void {
    this._history = null;
    this._ticks = [];
    this._soFar.clear();
    this._labels.clear();
    this._lastTime = -Infinity;
    this._version++;
  }

  /** The stacked, cumulative series by `grouping`. */
  stacked(grouping: ICostGrouping): IStackedSeries {
    const history = this._history;
    const times: number[] = [];
    const columns: Map<string, number>[] = [];
    const running = new Map<string, number>();
    const push = (seconds: number): void => {
      times.push(seconds * 1000);
      columns.push(new Map(running));
    };
    if (history) {
      ledgerColumns(history, running, push);
    }
    // Live ticks carry no run tags: a tag grouping is the ledger's only.
    if (grouping.by !== 'tag' || !history) {
      const named = new Set(history?.series.map(s => s.key) ?? []);
      const keyOf = (targetId: string): string => {
        const labels = this._labels.get(targetId);
        const key =
          (grouping.by === 'tag' ? '' : labels?.[grouping.by]) || NONE;
        return named.size && !named.has(key) && named.has(OTHER) ? OTHER : key;
      };
      for (const tick of this._ticks) {
        if (history && tick.time <= history.until) {
          continue;
        }
        tick.deltas.forEach((delta, targetId) => {
          const key = keyOf(targetId);
          running.set(key, (running.get(key) ?? 0) + delta);
        });
        push(tick.time);
      }
    }
    const keys = [...running.keys()].sort(
      (a, b) =>
        (running.get(b) ?? 0) - (running.get(a) ?? 0) || a.localeCompare(b)
    );
    const labels = groupLabels(keys, grouping.by);
    return {
      times,
      groups: keys.map(key => ({
        key,
        label: labels.get(key) ?? key,
        values: columns.map(column => column.get(key) ?? 0)
      })),
      liveFrom: history ? history.until * 1000 : null
    };
  }

  private _limit: number;
  private _history: ICostHistory | null = null;
  private _ticks: ILiveTick[] = [];
  private _soFar = new Map<string, number>();
  private _labels = new Map<string, ILiveLabels>();
  private _lastTime = -Infinity;
  private _version = 0;
}

/**
 * The ledger's part: zero at `since`, then each group's cost so far at the
 * end of every bucket (the last one ends at `until`).
 */
function ledgerColumns(
  history: ICostHistory,
  running: Map<string, number>,
  push: (seconds: number) => void
): void {
  const perBucket = new Map<number, [string, number][]>();
  for (const series of history.series) {
    running.set(series.key, 0);
    series.values.forEach((cost, i) => {
      const bucket = history.buckets[i];
      const entries = perBucket.get(bucket) ?? [];
      entries.push([series.key, cost]);
      perBucket.set(bucket, entries);
    });
  }
  const buckets = [...history.buckets]
    .filter(bucket => bucket >= history.since && bucket <= history.until)
    .sort((a, b) => a - b);
  push(history.since);
  for (const bucket of buckets) {
    for (const [key, cost] of perBucket.get(bucket) ?? []) {
      running.set(key, (running.get(key) ?? 0) + cost);
    }
    push(Math.min(bucket + history.step, history.until));
  }
}
