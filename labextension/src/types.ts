/**
 * Types of the REST contract in `api/openapi.yaml` (`/jupyter-mlops/api`).
 *
 * Keep these in step with the schemas there; times are milliseconds since the
 * epoch (MLflow's convention).
 */

/** The run states MLflow knows. */
export const RUN_STATUSES = [
  'RUNNING',
  'FINISHED',
  'FAILED',
  'KILLED',
  'SCHEDULED'
] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];

/** `GET /health` */
export interface IHealth {
  version: string;
  /** Credentials stripped. */
  tracking_uri: string;
  project: string;
}

/** One item of `GET /experiments`. */
export interface IExperiment {
  experiment_id: string;
  name: string;
  lifecycle_stage?: string;
  creation_time?: number | null;
  last_update_time?: number | null;
}

/** `GET /experiments` */
export interface IExperimentList {
  experiments: IExperiment[];
}

/** One run, as listed by `GET /runs` and returned by `GET /runs/{run_id}`. */
export interface IRunSummary {
  run_id: string;
  run_name: string;
  experiment_id: string;
  status: RunStatus;
  start_time: number | null;
  end_time: number | null;
  /** End (or now while running) minus start. */
  duration_ms?: number | null;
  /** Notebook path relative to the server root. */
  notebook?: string | null;
  project?: string | null;
  user?: string | null;
  params: Record<string, string>;
  /** Latest value of each metric; null when not finite (NaN, infinity). */
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

/** `GET /runs` */
export interface IRunsPage {
  runs: IRunSummary[];
  next_page_token: string | null;
}

/** Query parameters of `GET /runs`. */
export interface IRunsQuery {
  experiment_id?: string;
  status?: RunStatus;
  search?: string;
  filter?: string;
  order_by?: string;
  max_results?: number;
  page_token?: string;
}

/** One point of a metric history. */
export interface IMetricPoint {
  step: number;
  timestamp: number;
  /** Null when not finite (NaN, infinity). */
  value: number | null;
}

/** `GET /runs/{run_id}/metrics/{key}` */
export interface IMetricHistory {
  run_id: string;
  key: string;
  points: IMetricPoint[];
}

/** The JSON body of every error response. */
export interface IErrorBody {
  /** Exception name: UsageError, NotFoundError, StoreError, HTTPError, InternalError, ... */
  error: string;
  message: string;
  /** What the user can do about it. */
  hint?: string;
  /** The run concerned, where there is one. */
  run_id?: string;
  notebook?: string;
  cell_index?: number;
}
