/**
 * Pure logic of the Cost view and the status bar item: one row per running
 * kernel, the Waste list, budget bars, and one kernel's right-sizing advice
 * as a sentence.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import type {
  IBudgetStatus,
  ICarbonIntensity,
  ICostAdvice,
  ICostAlert,
  ICostStatus,
  ICostTarget
} from '../api/cost';
import { clockTime, formatMoney, formatRate } from '../common/format';

// -- advice -------------------------------------------------------------------

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
 * fitting: m7i.large at $0.10/h, saving $0.05/h vs current pricing`. The
 * server's own sentence when it sends one; never a dearer machine.
 */
export function adviceSentence(advice: ICostAdvice): string {
  if (advice.sentence) {
    return advice.sentence;
  }
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
  if (s && s.saving_per_hour > 0) {
    text +=
      ` → cheapest fitting: ${s.name} at ${formatRate(s.hourly, currency)}, ` +
      `saving ${formatRate(s.saving_per_hour, currency)} vs current pricing`;
  } else if (s || advice.verdict === 'cheapest') {
    text +=
      ' → already the cheapest fit: nothing catalogued that fits costs less ' +
      `than the current ${formatRate(advice.current_hourly, currency)}`;
  } else {
    text += ' → no catalogued instance fits';
  }
  const g = advice.gpu;
  if (g && g.saving_per_hour > 0) {
    text += `; GPU: ${g.name} would save ${formatRate(g.saving_per_hour, currency)}`;
  }
  return text;
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
  /** gCO2e so far; null before the first priced tick (or from an older server). */
  co2eG: number | null;
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
    wasting: alerts.some(a => a.target_id === target.target_id),
    co2eG: typeof target.co2e_g === 'number' ? target.co2e_g : null
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

/** The rows' gCO2e so far (null when no row has a figure). */
export function co2eTotal(rows: readonly ICostRow[]): number | null {
  const known = rows.filter(row => row.co2eG !== null);
  return known.length
    ? known.reduce((sum, row) => sum + (row.co2eG ?? 0), 0)
    : null;
}

/** `0.047 gCO2e`, `12 gCO2e`, `3.4 kgCO2e`, `1.2 tCO2e`; `—` for null. */
export function formatGrams(grams: number | null | undefined): string {
  if (typeof grams !== 'number' || !Number.isFinite(grams)) {
    return '—';
  }
  if (grams > 0 && grams < 1) {
    // two significant digits: a notebook's few CPU seconds are not "0.0"
    return `${Number(grams.toPrecision(2))} gCO2e`;
  }
  if (grams < 1000) {
    return `${grams < 10 ? grams.toFixed(1) : Math.round(grams)} gCO2e`;
  }
  if (grams < 1e6) {
    return `${(grams / 1000).toFixed(grams < 1e4 ? 2 : 1)} kgCO2e`;
  }
  return `${(grams / 1e6).toFixed(2)} tCO2e`;
}

/** `gCO2e at 380.95 g/kWh: Germany (DEU), codecarbon 3.3.2 (2023)`; '' without one. */
export function carbonLabel(
  carbon: ICarbonIntensity | null | undefined
): string {
  if (!carbon) {
    return '';
  }
  const where = carbon.region
    ? `${carbon.name} (${carbon.region})`
    : carbon.name;
  return `gCO2e at ${carbon.g_per_kwh} g/kWh: ${where}, ${carbon.source}`;
}
