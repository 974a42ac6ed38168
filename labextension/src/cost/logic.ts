/**
 * The Cost view's and the status bar item's state: formatting of money, rates
 * and sizes, one row per running kernel, the cost-over-time series
 * accumulated from polled snapshots, budget bars and the Waste list.
 *
 * No DOM and no timers: the widgets render `CostModel`, a Lumino `Poll` in
 * the plugin calls `CostModel.load`; tests drive it with a fake `ICostClient`.
 */
import type { IDisposable } from '@lumino/disposable';
import { type ISignal, Signal } from '@lumino/signaling';

import type { ApiError } from '../api/client';
import {
  costError,
  type IBudgetStatus,
  type ICostAdvice,
  type ICostAlert,
  type ICostClient,
  type ICostStatus,
  type ICostTarget,
  isCostUnavailable
} from '../api/cost';

// -- formatting ---------------------------------------------------------------

const SYMBOLS: Record<string, string> = {
  USD: '$',
  EUR: '€',
  GBP: '£',
  JPY: '¥',
  INR: '₹'
};

function groupThousands(text: string): string {
  const [whole, fraction] = text.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/**
 * `$3.20`, `€1,234.50`, `12.40 CHF`; amounts under a cent keep two
 * significant digits (`$0.0042`) so that a cheap kernel's cost visibly grows.
 */
export function formatMoney(
  amount: number | null | undefined,
  currency = 'USD'
): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) {
    return '—';
  }
  const abs = Math.abs(amount);
  let digits: string;
  if (abs === 0 || abs >= 0.01) {
    digits = groupThousands(abs.toFixed(2));
  } else {
    // Two significant digits: 0.0042, 0.00031.
    const decimals = Math.min(8, 1 - Math.floor(Math.log10(abs)));
    digits = abs.toFixed(decimals);
  }
  const sign = amount < 0 && Number(digits.replace(/,/g, '')) !== 0 ? '-' : '';
  const code = (currency || 'USD').toUpperCase();
  const symbol = SYMBOLS[code];
  return symbol ? `${sign}${symbol}${digits}` : `${sign}${digits} ${code}`;
}

/** `$2.10/h`. */
export function formatRate(
  perHour: number | null | undefined,
  currency = 'USD'
): string {
  const money = formatMoney(perHour, currency);
  return money === '—' ? money : `${money}/h`;
}

/** `512 B`, `1.5 KiB`, `3.2 GiB`; `—` for unknown. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '—';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) {
    return `${Math.round(value)} B`;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

const GIB = 1024 ** 3;

function gib(bytes: number, digits: number): string {
  return (Number.isFinite(bytes) ? bytes / GIB : 0).toFixed(digits);
}

function cores(value: number): string {
  return String(Number((Number.isFinite(value) ? value : 0).toFixed(2)));
}

/**
 * One kernel's advice as one sentence (as `%mlops cost --advice` prints it):
 * `peak RAM 1.2 GiB of 23 GiB, CPU peak 1.0 cores of 2, no GPU used → cheapest
 * fitting: m7i.large at $0.10/h, saving $0.05/h vs current pricing`.
 */
export function adviceSentence(advice: ICostAdvice): string {
  const { peaks, machine } = advice;
  const currency = advice.currency || 'USD';
  const parts = [
    `peak RAM ${gib(peaks.rss_bytes, 1)} GiB of ${gib(machine.memory_bytes, 0)} GiB`,
    `CPU peak ${(peaks.cpu_cores || 0).toFixed(1)} cores of ${cores(machine.cpu_cores)}`
  ];
  if (peaks.gpus > 0) {
    const offered = (machine.gpus ?? []).reduce(
      (sum, g) => sum + (g.memory_bytes || 0),
      0
    );
    const of = offered > 0 ? ` of ${gib(offered, 0)} GiB` : '';
    parts.push(
      `GPU memory peak ${gib(peaks.gpu_mem_bytes, 1)} GiB${of} on ${peaks.gpus} GPU(s)`
    );
  } else {
    parts.push('no GPU used');
  }
  let text = parts.join(', ');
  const s = advice.instance;
  if (!s) {
    text += ' → no catalogued instance fits';
  } else if (s.saving_per_hour > 0) {
    text +=
      ` → cheapest fitting: ${s.name} at ${formatRate(s.hourly, currency)}, ` +
      `saving ${formatRate(s.saving_per_hour, currency)} vs current pricing`;
  } else {
    text +=
      ` → cheapest fitting: ${s.name} at ${formatRate(s.hourly, currency)}, ` +
      `no saving vs current pricing (${formatRate(s.current_hourly, currency)})`;
  }
  const g = advice.gpu;
  if (g && g.saving_per_hour > 0) {
    text += `; GPU: ${g.name} would save ${formatRate(g.saving_per_hour, currency)}`;
  }
  return text;
}

/** `37%`, `0.5%`; `—` for unknown. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) {
    return '—';
  }
  return percent > 0 && percent < 10
    ? `${percent.toFixed(1)}%`
    : `${Math.round(percent)}%`;
}

/** `14:02` (or `14:02:09` with `seconds`) in the browser's time zone, from epoch seconds. */
export function clockTime(epochSeconds: number, seconds = false): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return seconds ? `${time}:${pad(date.getSeconds())}` : time;
}

/** The status bar text: `$0.42 · $2.10/h`. */
export function statusText(row: ICostRow): string {
  return `${formatMoney(row.soFar, row.currency)} · ${formatRate(row.rate, row.currency)}`;
}

// -- kernels ------------------------------------------------------------------

/** One running kernel as the Cost view's table shows it. */
export interface ICostRow {
  targetId: string;
  kernelId: string;
  notebook: string;
  user: string;
  project: string;
  alive: boolean;
  cpuPercent: number;
  rssBytes: number;
  /** Highest utilisation over the GPUs the kernel holds; null without GPUs (or data). */
  gpuUtil: number | null;
  /** GPU memory held over all GPUs; 0 without GPUs. */
  gpuMemBytes: number;
  gpuCount: number;
  /** Allocated cost per hour; null before the first priced tick. */
  rate: number | null;
  /** Allocated cost so far; null before the first priced tick. */
  soFar: number | null;
  currency: string;
  /** The kernel has an active waste alert. */
  wasting: boolean;
}

/** The table row of one target. */
export function costRow(
  target: ICostTarget,
  currency: string,
  alerts: readonly ICostAlert[] = []
): ICostRow {
  const gpus = target.gpus ?? [];
  const utils = gpus
    .map(g => g.util_pct)
    .filter((u): u is number => typeof u === 'number');
  const kernelId = target.kernel_id || target.target_id;
  return {
    targetId: target.target_id,
    kernelId,
    notebook: target.notebook ?? '',
    user: target.user ?? '',
    project: target.project ?? '',
    alive: target.alive !== false,
    cpuPercent: target.cpu_percent ?? 0,
    rssBytes: target.rss_bytes ?? 0,
    gpuUtil: utils.length ? Math.max(...utils) : null,
    gpuMemBytes: gpus.reduce((sum, g) => sum + (g.mem_bytes ?? 0), 0),
    gpuCount: gpus.length,
    rate: target.cost ? target.cost.rate_per_hour : null,
    soFar: target.cost ? target.cost.cost_so_far : null,
    currency: target.cost?.currency || currency,
    wasting: alerts.some(a => a.target_id === target.target_id)
  };
}

/** Every kernel of a status, most expensive per hour first, then by notebook. */
export function costRows(status: ICostStatus | null): ICostRow[] {
  if (!status) {
    return [];
  }
  return Object.values(status.targets)
    .map(t => costRow(t, status.currency, status.alerts))
    .sort(
      (a, b) =>
        (b.rate ?? -1) - (a.rate ?? -1) ||
        a.notebook.localeCompare(b.notebook) ||
        a.kernelId.localeCompare(b.kernelId)
    );
}

/** The row of one kernel, or null when the server does not track it. */
export function kernelRow(
  status: ICostStatus | null,
  kernelId: string | null | undefined
): ICostRow | null {
  if (!status || !kernelId) {
    return null;
  }
  const target =
    status.targets[kernelId] ??
    Object.values(status.targets).find(t => t.kernel_id === kernelId);
  return target ? costRow(target, status.currency, status.alerts) : null;
}

/** The sum of the rows' rates and costs so far. */
export function costTotals(rows: readonly ICostRow[]): {
  rate: number;
  soFar: number;
} {
  return rows.reduce(
    (sum, row) => ({
      rate: sum.rate + (row.rate ?? 0),
      soFar: sum.soFar + (row.soFar ?? 0)
    }),
    { rate: 0, soFar: 0 }
  );
}

// -- waste --------------------------------------------------------------------

/** One entry of the Waste list. */
export interface IWasteItem {
  key: string;
  targetId: string;
  kernelId: string;
  notebook: string;
  /** `idle GPU: $3.20 burned since 14:02` (browser time). */
  message: string;
  burned: number;
  currency: string;
  since: number;
  canInterrupt: boolean;
  canShutdown: boolean;
}

/** The sentence of a waste alert, in the browser's time zone. */
export function wasteMessage(alert: ICostAlert): string {
  if (alert.kind !== 'idle-gpu' && alert.message) {
    return alert.message;
  }
  return `idle GPU: ${formatMoney(alert.burned, alert.currency)} burned since ${clockTime(alert.since)}`;
}

/** The Waste list: active alerts, most money burned first. */
export function wasteItems(status: ICostStatus | null): IWasteItem[] {
  if (!status) {
    return [];
  }
  return status.alerts
    .map(alert => {
      const target = status.targets[alert.target_id];
      const actions = alert.actions ?? ['interrupt', 'shutdown'];
      const kernelId = alert.kernel_id || target?.kernel_id || alert.target_id;
      return {
        key: `${alert.kind}:${alert.target_id}:${alert.gpu ?? ''}`,
        targetId: alert.target_id,
        kernelId,
        notebook: alert.notebook || target?.notebook || '',
        message: wasteMessage(alert),
        burned: alert.burned,
        currency: alert.currency || status.currency,
        since: alert.since,
        canInterrupt: !!kernelId && actions.includes('interrupt'),
        canShutdown: !!kernelId && actions.includes('shutdown')
      };
    })
    .sort((a, b) => b.burned - a.burned || a.since - b.since);
}

// -- budgets ------------------------------------------------------------------

/** `ok` below the first threshold, `warn` past it, `over` at or past 100%. */
export type BudgetLevel = 'ok' | 'warn' | 'over';

/** A budget bar. */
export interface IBudgetBar {
  project: string;
  period: string;
  spent: number;
  amount: number;
  currency: string;
  /** The spend as a fraction of the amount (may exceed 1). */
  fraction: number;
  /** The bar's width in percent, 0 to 100. */
  width: number;
  level: BudgetLevel;
  /** `$42.00 of $50.00 this month (84%)`. */
  label: string;
}

/** The bar of one budget; `warnAt` is the fraction that turns it to `warn`. */
export function budgetBar(budget: IBudgetStatus, warnAt = 0.8): IBudgetBar {
  const fraction =
    budget.amount > 0
      ? budget.spent / budget.amount
      : budget.spent > 0
        ? Infinity
        : 0;
  const level: BudgetLevel =
    fraction >= 1 ? 'over' : fraction >= warnAt ? 'warn' : 'ok';
  const percent = Number.isFinite(fraction)
    ? `${Math.round(fraction * 100)}%`
    : '—';
  return {
    project: budget.project,
    period: budget.period,
    spent: budget.spent,
    amount: budget.amount,
    currency: budget.currency,
    fraction,
    width: Math.max(
      0,
      Math.min(100, Number.isFinite(fraction) ? fraction * 100 : 100)
    ),
    level,
    label: `${formatMoney(budget.spent, budget.currency)} of ${formatMoney(budget.amount, budget.currency)} this ${budget.period} (${percent})`
  };
}

// -- cost over time -----------------------------------------------------------

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

// -- the model ----------------------------------------------------------------

/** The live cost state shared by the status bar item and the Cost view. */
export class CostModel implements IDisposable {
  constructor(options: { client: ICostClient }) {
    this._client = options.client;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get client(): ICostClient {
    return this._client;
  }

  /** The last status read; null before the first answer. */
  status: ICostStatus | null = null;
  /** Budgets: from the status when it has them, else from `cost/budgets`. */
  budgets: IBudgetStatus[] = [];
  error: ApiError | null = null;
  loading = false;
  readonly series = new CostSeries();

  /** True when the server has no cost routes, or cost is off (a 404): the status bar item hides. */
  get unavailable(): boolean {
    return isCostUnavailable(this.error);
  }

  get rows(): ICostRow[] {
    if (this._rows === null) {
      this._rows = costRows(this.status);
    }
    return this._rows;
  }

  get waste(): IWasteItem[] {
    return wasteItems(this.status);
  }

  get budgetBars(): IBudgetBar[] {
    return this.budgets.map(b => budgetBar(b));
  }

  /** What the chart stacks by. */
  get groupBy(): CostGroupBy {
    return this._groupBy;
  }

  set groupBy(by: CostGroupBy) {
    if (by !== this._groupBy) {
      this._groupBy = by;
      this._emit();
    }
  }

  /** The row of one kernel (the status bar's), or null. */
  kernel(kernelId: string | null | undefined): ICostRow | null {
    return kernelRow(this.status, kernelId);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  /**
   * Read the status (and the budgets when the status has none, at most every
   * `budgetInterval` ms). Rejects on failure so that a `Poll` backs off; the
   * error is kept in `error` for the views.
   */
  async load(): Promise<void> {
    const generation = ++this._generation;
    this.loading = true;
    this._emit();
    try {
      const status = await this._client.status();
      if (generation !== this._generation || this._isDisposed) {
        return;
      }
      this.status = status;
      this._rows = null;
      this.error = null;
      this.series.add(status);
      if (status.budgets) {
        this.budgets = status.budgets;
      } else if (this._budgetsDue()) {
        this._budgetsAt = Date.now();
        try {
          this.budgets = await this._client.budgets();
        } catch {
          // Budgets are optional: keep the last ones.
        }
      }
    } catch (reason) {
      if (generation === this._generation) {
        this.error = costError(reason);
      }
      throw this.error ?? costError(reason);
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this._emit();
      }
    }
  }

  /** Minimum milliseconds between two `cost/budgets` reads. */
  budgetInterval = 60_000;

  /** Read the budgets again on the next `load` (the Cost view was shown, or refreshed). */
  invalidateBudgets(): void {
    this._budgetsAt = null;
  }

  private _budgetsDue(): boolean {
    return (
      this._budgetsAt === null ||
      Date.now() - this._budgetsAt >= this.budgetInterval
    );
  }

  private _emit(): void {
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _client: ICostClient;
  private _rows: ICostRow[] | null = null;
  private _groupBy: CostGroupBy = 'notebook';
  private _budgetsAt: number | null = null;
  private _generation = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}
