/**
 * Client of the live-cost routes (`api/openapi.yaml`): `cost` (what
 * `CostEngine.status()` returns), `cost/budgets`, `cost/report`,
 * `cost/history` (cost over time from the ledger) and `cost/advice` (one
 * kernel's right-sizing advice).
 *
 * Built on `MlopsClient.request` (same URL building, auth and error parsing).
 * A 404 that is not one of our JSON errors means the server extension has no
 * cost routes (an older version, or cost accounting turned off): the status
 * bar item hides and the Cost view says so.
 */
import { type ApiError, HttpClient, routeMissing } from './client';

/** One GPU a kernel holds (`TargetGpu.to_dict`). */
export interface ICostGpu {
  key: string;
  index: number;
  model: string;
  memory_total: number;
  /** GPU memory this kernel's processes hold, in bytes. */
  mem_bytes: number;
  /** This kernel's utilisation of the device, percent; null where NVML has none. */
  util_pct: number | null;
  device_util_pct?: number | null;
  power_w?: number | null;
  fraction?: number;
}

/** What a cost record says about whose kernel it is. */
export interface ICostLabels {
  target_id: string;
  kernel_id?: string;
  run_id?: string;
  notebook?: string;
  project?: string;
  user?: string;
}

/** A kernel's money now (`LiveCost.to_dict`). */
export interface ICostLive extends ICostLabels {
  time: number;
  currency: string;
  /** Allocated cost per hour at the last tick. */
  rate_per_hour: number;
  used_rate_per_hour?: number;
  /** Allocated cost since the kernel started (the ledger's earlier minutes included). */
  cost_so_far: number;
  waste_so_far?: number;
}

/** The grid intensity gCO2e are computed with (`CarbonIntensity`, docs/carbon.md). */
export interface ICarbonIntensity {
  /** gCO2e per kWh. */
  g_per_kwh: number;
  /** ISO alpha-3 country, `provider:region`, or empty for the world average. */
  region: string;
  /** `Germany`, `world average`, `configured`. */
  name: string;
  /** The table and its year (`codecarbon 3.3.2 (2023)`), or `configuration`. */
  source: string;
  year?: number | null;
}

/** One tracked kernel at the last tick (`TargetSample.to_dict` + `cost`). */
export interface ICostTarget {
  target_id: string;
  pid?: number;
  kernel_id: string;
  run_id?: string;
  notebook: string;
  project: string;
  user: string;
  time: number;
  interval?: number;
  alive: boolean;
  cpu_seconds?: number;
  /** Percent of one core. */
  cpu_percent: number;
  rss_bytes: number;
  num_processes?: number;
  gpus: ICostGpu[];
  cost?: ICostLive;
  /** gCO2e of the kernel so far (its energy x the server's intensity); with `cost`. */
  co2e_g?: number;
}

/** An active waste alert (`IdleGpuAlert.to_dict`). */
export interface ICostAlert extends ICostLabels {
  kind: string;
  gpu?: string;
  model?: string;
  /** Epoch seconds the idle stretch began. */
  since: number;
  /** Money spent on the GPU during the stretch. */
  burned: number;
  currency: string;
  mem_bytes?: number;
  util_pct?: number | null;
  /** `interrupt`, `shutdown`, `dismiss`. */
  actions?: string[];
  message?: string;
}

/** One budget's spend this period (`BudgetStatus.to_dict`). */
export interface IBudgetStatus {
  project: string;
  amount: number;
  period: string;
  spent: number;
  fraction: number;
  period_start?: number;
  period_end?: number;
  currency: string;
  message?: string;
}

/** `GET cost`: `CostEngine.status()`. */
export interface ICostStatus {
  /** Epoch seconds of the last tick; null before the first. */
  time: number | null;
  interval?: number;
  currency: string;
  pricing?: Record<string, unknown>;
  gpu_available?: boolean;
  gpus?: unknown[];
  /** By target id (the kernel id for kernels). */
  targets: Record<string, ICostTarget>;
  alerts: ICostAlert[];
  /** Present when the server includes the budgets in the status. */
  budgets?: IBudgetStatus[];
  /** The intensity of the kernels' `co2e_g`. */
  carbon?: ICarbonIntensity;
}

/** `GET cost/report` (JSON): one row per group. */
export interface ICostReport {
  by: string;
  /** The groupings (`['project', 'tag:epic']`): each row's label keys. */
  groups?: string[];
  /** ISO datetimes (UTC). */
  since: string | null;
  until: string | null;
  /** The ledger's currency, or `mixed`. */
  currency: string;
  /** One object per group: the label under the key named by `by`, plus the values. */
  rows: Record<string, string | number>[];
  total: Record<string, number>;
  /** The intensity of the rows' `co2e_g`. */
  carbon?: ICarbonIntensity;
}

/** How far back the cost history goes. */
export type CostRange = '1h' | '24h' | '7d' | '30d';

/** The ranges the Cost view offers, shortest first. */
export const COST_RANGES: readonly CostRange[] = ['1h', '24h', '7d', '30d'];

/** One group's cost over time (`GET cost/history`). */
export interface ICostHistorySeries {
  /** The group: a notebook path relative to the server root, a project, a tag value, `(none)`, `(other)`. */
  key: string;
  /** Allocated cost in each bucket of `ICostHistory.buckets`, in that order. */
  values: number[];
  /** Allocated cost over the range. */
  total: number;
  used?: number;
}

/** `GET cost/history`: allocated cost per group and time bucket, from the ledger. */
export interface ICostHistory {
  range: string;
  by: string;
  /** Seconds per bucket. */
  step: number;
  /** Start of the first bucket (epoch seconds). */
  since: number;
  /** The server's now when it answered (epoch seconds). */
  until: number;
  currency: string;
  /** Start of every bucket (epoch seconds); each series has one value per bucket. */
  buckets: number[];
  /** Most expensive first. */
  series: ICostHistorySeries[];
  total?: number;
  used?: number;
}

/** A cheaper fit (`Suggestion.to_dict`): `name` at `hourly` instead of `current_hourly`. */
export interface ICostAdviceSuggestion {
  kind: string;
  /** Catalogue key (`2 x key` for several GPUs), or `no GPU`. */
  name: string;
  hourly: number;
  current_hourly: number;
  saving_per_hour: number;
  detail: string;
}

/** `GET cost/advice?kernel_id=`: one kernel's peaks against the machine, and the cheapest fit. */
export interface ICostAdvice {
  target_id: string;
  peaks: {
    cpu_cores: number;
    rss_bytes: number;
    /** All GPUs together. */
    gpu_mem_bytes: number;
    gpus: number;
    gpu_mem_per_gpu: number;
    /** Cores busy on average; null when unknown. */
    cpu_average?: number | null;
  };
  machine: {
    cpu_cores: number;
    memory_bytes: number;
    gpus: { model: string; memory_bytes: number }[];
  };
  currency: string;
  current_hourly: number;
  headroom: number;
  gpu: ICostAdviceSuggestion | null;
  instance: ICostAdviceSuggestion | null;
  /** `cheaper`: `instance` fits for less; `cheapest`: already the cheapest fit; `none`: nothing fits. */
  verdict?: 'cheaper' | 'cheapest' | 'none';
  notes?: string[];
  /** The server's plain-text advice, one finding per line. */
  lines: string[];
  /** The advice in one line, as `%mlops cost --advice` prints it. */
  sentence?: string;
}

/** The client the cost views need; `CostClient` implements it over HTTP. */
export interface ICostClient {
  status(): Promise<ICostStatus>;
  budgets(): Promise<IBudgetStatus[]>;
  report(options: {
    by?: string;
    since?: string | number;
  }): Promise<ICostReport>;
  /** Cost over time from the ledger (absent: the chart shows what the page sampled). */
  history?(options: { range: CostRange; by: string }): Promise<ICostHistory>;
  /** Right-sizing advice for one kernel (absent: the view offers no advice). */
  advice?(kernelId: string): Promise<ICostAdvice>;
}

/**
 * True when the server has no live cost: no cost routes at all (an HTML
 * 404), or cost accounting turned off (a JSON 404 `NotFoundError`).
 */
export function isCostUnavailable(error: ApiError | null | undefined): boolean {
  return !!error && error.status === 404;
}

/** An error of a cost request, as the views should show it (`isRouteMissing`). */
export const costError = routeMissing(
  'cost',
  'check that cost accounting is enabled'
);

/** What the views show when the server extension has no cost routes. */
export const COST_ROUTE_MISSING_MESSAGE = costError.message;

/** A budgets answer as a list, whether the server sent a list or `{budgets: [...]}`. */
export function budgetList(body: unknown): IBudgetStatus[] {
  if (Array.isArray(body)) {
    return body as IBudgetStatus[];
  }
  if (body !== null && typeof body === 'object') {
    const budgets = (body as { budgets?: unknown }).budgets;
    if (Array.isArray(budgets)) {
      return budgets as IBudgetStatus[];
    }
  }
  return [];
}

/** A status answer with the fields the views rely on always present. */
export function normalizeStatus(body: unknown): ICostStatus {
  const record = (
    body !== null && typeof body === 'object' ? body : {}
  ) as Partial<ICostStatus>;
  const status: ICostStatus = {
    ...record,
    time: typeof record.time === 'number' ? record.time : null,
    currency: typeof record.currency === 'string' ? record.currency : 'USD',
    targets:
      record.targets !== null && typeof record.targets === 'object'
        ? record.targets
        : {},
    alerts: Array.isArray(record.alerts) ? record.alerts : []
  };
  if (record.budgets !== undefined) {
    status.budgets = budgetList(record.budgets);
  }
  return status;
}

/** HTTP client of the cost routes. */
export class CostClient implements ICostClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

  async status(): Promise<ICostStatus> {
    return normalizeStatus(await this._get<unknown>(['cost']));
  }

  async budgets(): Promise<IBudgetStatus[]> {
    return budgetList(await this._get<unknown>(['cost', 'budgets']));
  }

  report(options: {
    by?: string;
    since?: string | number;
  }): Promise<ICostReport> {
    return this._get<ICostReport>(['cost', 'report'], {
      by: options.by,
      since: options.since,
      format: 'json'
    });
  }

  history(options: { range: CostRange; by: string }): Promise<ICostHistory> {
    return this._get<ICostHistory>(['cost', 'history'], {
      range: options.range,
      by: options.by
    });
  }

  advice(kernelId: string): Promise<ICostAdvice> {
    return this._get<ICostAdvice>(['cost', 'advice'], { kernel_id: kernelId });
  }

  private async _get<T>(
    segments: string[],
    query: Record<string, string | number | undefined> = {}
  ): Promise<T> {
    try {
      return await this.http.request<T>(segments, query);
    } catch (reason) {
      throw costError(reason);
    }
  }
}
