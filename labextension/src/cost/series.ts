/**
 * The cost-over-time chart's data: every kernel's cost so far, accumulated
 * from the polled snapshots, stacked by notebook or project.
 */
import type { ICostStatus } from '../api/cost';

/** What the cost-over-time chart stacks by. */
export type CostGroupBy = 'notebook' | 'project';

interface ISeriesEntry {
  soFar: number;
  notebook: string;
  project: string;
}

/** The chart's data: one value per time per group, groups largest first. */
export interface IStackedSeries {
  /** Epoch milliseconds. */
  times: number[];
  groups: { label: string; values: number[] }[];
}

/** The label of a kernel without a notebook or project. */
export const UNLABELLED: Record<CostGroupBy, string> = {
  notebook: '(no notebook)',
  project: '(no project)'
};

/**
 * Cost so far of every kernel over time, from the snapshots polled since the
 * page loaded. A kernel that goes away keeps its last cost (its money was
 * spent), so the stack never drops. Keeps the last `limit` points.
 */
export class CostSeries {
  constructor(options: { limit?: number } = {}) {
    this._limit = options.limit ?? 720;
  }

  /** How many points are kept. */
  get length(): number {
    return this._points.length;
  }

  /** Add a snapshot; one with no tick time or no newer than the last is ignored. */
  add(status: ICostStatus): boolean {
    if (status.time === null) {
      return false;
    }
    const last = this._points[this._points.length - 1];
    if (last && status.time <= last.time) {
      return false;
    }
    for (const target of Object.values(status.targets)) {
      if (!target.cost) {
        continue;
      }
      this._last.set(target.target_id, {
        soFar: target.cost.cost_so_far,
        notebook: target.notebook ?? '',
        project: target.project ?? ''
      });
    }
    this._points.push({ time: status.time, entries: new Map(this._last) });
    if (this._points.length > this._limit) {
      this._points.splice(0, this._points.length - this._limit);
    }
    return true;
  }

  clear(): void {
    this._points = [];
    this._last.clear();
  }

  /** The stacked series by notebook or project. */
  stacked(by: CostGroupBy): IStackedSeries {
    const labelOf = (entry: ISeriesEntry): string =>
      entry[by] || UNLABELLED[by];
    const totals = new Map<string, number>();
    for (const entry of this._last.values()) {
      const label = labelOf(entry);
      totals.set(label, (totals.get(label) ?? 0) + entry.soFar);
    }
    const labels = [...totals.keys()].sort(
      (a, b) =>
        (totals.get(b) ?? 0) - (totals.get(a) ?? 0) || a.localeCompare(b)
    );
    const index = new Map(labels.map((label, i) => [label, i]));
    const groups = labels.map(label => ({
      label,
      values: this._points.map(() => 0)
    }));
    this._points.forEach((point, i) => {
      for (const entry of point.entries.values()) {
        groups[index.get(labelOf(entry)) ?? 0].values[i] += entry.soFar;
      }
    });
    return { times: this._points.map(p => p.time * 1000), groups };
  }

  private _limit: number;
  private _points: { time: number; entries: Map<string, ISeriesEntry> }[] = [];
  private _last = new Map<string, ISeriesEntry>();
}
