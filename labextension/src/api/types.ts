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

/** The child runs of one parent run (pipeline steps, sweep trials). */
export interface IChildrenSummary {
  count: number;
  /** Run status -> number of children in it. */
  statuses: Partial<Record<RunStatus, number>>;
  /** The best child value of the `best` (or sort) metric. */
  best: { key: string; value: number; run_id: string } | null;
}

/** `GET /runs` */
export interface IRunsPage {
  runs: IRunSummary[];
  next_page_token: string | null;
  /** With `top_level`: run id on this page -> summary of its children. */
  children?: Record<string, IChildrenSummary>;
  /** More children exist than the server scanned; the counts are partial. */
  children_truncated?: boolean;
}

/** Query parameters of `GET /runs`. */
export interface IRunsQuery {
  experiment_id?: string;
  status?: RunStatus;
  /** Run-name substring. */
  search?: string;
  /** The search box: MLflow's filter syntax or the shorthand (`lr=0.3 accuracy>0.9`). */
  q?: string;
  filter?: string;
  /** `'true'`: only runs without a parent, with `children` summaries. */
  top_level?: 'true';
  /** Only the children of this run. */
  parent?: string;
  /** The metric parents summarize: `metrics.<key> DESC|ASC`. */
  best?: string;
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

/** What a file is, for previews: `folder` only in listings. */
export type ArtifactKind =
  | 'folder'
  | 'image'
  | 'svg'
  | 'html'
  | 'text'
  | 'binary';

/** One entry of `GET /runs/{run_id}/artifacts`. */
export interface IArtifactEntry {
  /** Relative to the run's artifact root. */
  path: string;
  name: string;
  is_dir: boolean;
  /** Bytes; null for folders. */
  size: number | null;
  kind: ArtifactKind;
  /** A folder holding an `MLmodel` (local stores). */
  is_model: boolean;
}

/** One input, output or param of a model signature. */
export interface IModelColumn {
  name: string | null;
  type: string;
}

/** What an `MLmodel` file says. */
export interface IMlModel {
  flavors: { name: string; details: Record<string, string> }[];
  signature: {
    inputs: IModelColumn[];
    outputs: IModelColumn[];
    params: IModelColumn[];
  } | null;
  model_id: string | null;
  run_id: string | null;
  created: string | null;
  mlflow_version: string | null;
}

/** A model the run logged with MLflow 3's `log_model` (outside its artifact tree). */
export interface ILoggedModel {
  model_id: string;
  name: string;
  /** `models:/<model_id>` */
  uri: string;
  model: IMlModel | null;
  error: string | null;
}

/** `GET /runs/{run_id}/artifacts?path=` */
export interface IArtifactListing {
  run_id: string;
  path: string;
  entries: IArtifactEntry[];
  truncated: boolean;
  /** This folder's `MLmodel`, when it is an MLflow model. */
  model: IMlModel | null;
  /** The run's logged models (root listing only). */
  models: ILoggedModel[];
}

/** `GET /runs/{run_id}/artifacts/preview?path=` */
export interface IArtifactPreview {
  run_id: string;
  path: string;
  name: string;
  kind: Exclude<ArtifactKind, 'folder'>;
  media_type: string;
  size: number;
  /** Text files only (capped; see `truncated`). */
  text: string | null;
  truncated: boolean;
  model: IMlModel | null;
}

/** `GET /mlflow-ui` */
export interface IMlflowUi {
  /** Base address of the MLflow UI, when configured. */
  url: string | null;
  /** `mlflow ui --backend-store-uri <store>` (credentials removed). */
  command: string;
}
