/**
 * Client of the pipeline routes (`api/openapi.yaml`): `pipelines` (the
 * pipelines under the server root), `pipelines/parameters` (a notebook's
 * parameters cell), `pipelines/export`, and `pipelines/runs` (launches of
 * runs and sweeps, their live progress, cancel); `pipelines/schedules`
 * through `SchedulesClient` (`schedules.ts`).
 *
 * Built on `MlopsClient.request` (same URL building, auth and error parsing).
 * Paths are relative to the server root, POSIX style. A 404 that is not one
 * of our JSON errors means the server extension has no pipeline routes.
 */
import { HttpClient, routeMissing } from './client';
import { type ISchedulesClient, SchedulesClient } from './schedules';

/** The parameter types a pipeline knows; `any` (or `unknown`) for a non-literal default. */
export type ParamType =
  | 'int'
  | 'float'
  | 'str'
  | 'bool'
  | 'list'
  | 'dict'
  | 'any'
  | 'unknown';

/** One parameter of a step, as `pipeline.yaml` declares it. */
export interface IParamSpec {
  type: ParamType;
  default: unknown;
  annotation?: string | null;
  /** `false` when the notebook's default is not a literal (flagged, not editable). */
  literal?: boolean;
}

/** One step of a pipeline: a notebook and its parameter schema. */
export interface IPipelineStep {
  name: string;
  notebook: string;
  depends_on: string[];
  parameters: Record<string, IParamSpec>;
}

/** One pipeline found under the server root (a folder with `pipeline.yaml`). */
export interface IPipeline {
  /** The pipeline folder, relative to the server root. */
  path: string;
  name: string;
  steps: IPipelineStep[];
}

/** `GET pipelines` */
export interface IPipelineList {
  pipelines: IPipeline[];
  /** More pipelines exist than the server lists. */
  truncated: boolean;
}

/** One parameter of a notebook's `parameters` cell. */
export interface INotebookParameter {
  name: string;
  type: ParamType;
  default: unknown;
  literal: boolean;
  annotation: string | null;
  /** Line in the cell, 1-based. */
  line: number;
}

/** A code cell the user may tag `parameters`. */
export interface ICellPreview {
  index: number;
  /** The first 80 characters of its source. */
  preview: string;
}

/** `GET pipelines/parameters?path=` */
export interface INotebookParameters {
  path: string;
  /** Index of the tagged cell; null when the notebook has none. */
  parameters_cell: number | null;
  parameters: INotebookParameter[];
  /** Code cells only. */
  cells: ICellPreview[];
}

/** `POST pipelines/export` body. */
export interface IExportRequest {
  notebooks: string[];
  output: string;
  name?: string;
  /** Tag this code cell `parameters` first (one notebook only). */
  tag_cell?: number;
}

/** `POST pipelines/export` answer (201). */
export interface IExportResult {
  path: string;
  name: string;
  steps: string[];
  files: string[];
  warnings: string[];
}

/** The states of a launch and of each execution (MLflow's, plus PENDING). */
export type LaunchStatus =
  | 'PENDING'
  | 'RUNNING'
  | 'FINISHED'
  | 'FAILED'
  | 'KILLED';

export const TERMINAL_STATUSES: readonly LaunchStatus[] = [
  'FINISHED',
  'FAILED',
  'KILLED'
];

/** True once `status` can no longer change. */
export function isTerminal(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Where a running execution is: its current cell and its last output lines. */
export interface IExecutionProgress {
  /** The cell being executed, 1-based. */
  cell: number;
  /** Cells in the notebook. */
  cells: number;
  /** The last lines of its output (stdout, stderr), oldest first. */
  lines: string[];
  /** When the server last saw it move, epoch seconds. */
  updated: number;
}

/** One notebook executed once: step `step` of parameter set `trial`. */
export interface IExecution {
  index: number;
  trial: number;
  step: string;
  parameters: Record<string, unknown>;
  status: LaunchStatus;
  /** Why it failed or was killed (`cell_error`, `timeout`, `cancelled`...). */
  reason: string | null;
  error: string | null;
  /** Its MLflow run. */
  run_id: string | null;
  /** The executed notebook, relative to the server root. */
  output: string | null;
  /** Seconds. */
  duration: number | null;
  /** Which try this is, 1-based (retries make more). */
  attempt?: number;
  /** The run whose result was reused (reason `cached`); null when it ran. */
  cache_hit?: string | null;
  /** While it runs: the current cell and its last output lines. */
  progress?: IExecutionProgress | null;
  /** Once it ended: its run's latest metrics (not cost, not `system/*`). */
  metrics?: Record<string, number | null>;
}

/** A run or sweep started from this server. */
export interface ILaunch {
  id: string;
  path: string;
  name: string;
  status: LaunchStatus;
  /** The parent MLflow run. */
  run_id: string | null;
  experiment_id: string | null;
  /** Epoch seconds. */
  started: number;
  ended: number | null;
  error: string | null;
  /** The request's spend cap, if any. */
  max_cost?: number | null;
  /** With `max_cost`: the estimate made before it started. */
  estimate?: ICostEstimate | null;
  executions: IExecution[];
}

/** `POST pipelines/runs` body. */
export interface IRunRequest {
  /** A pipeline folder or one `.ipynb`. */
  path: string;
  /** `step.param` -> value. */
  parameters: Record<string, unknown>;
  /** `step.param` -> values: one trial per combination. */
  grid: Record<string, unknown[]>;
  workers: number;
  executor: 'local' | 'dask';
  /** Seconds per execution; null for none. */
  timeout: number | null;
  /** Run every step even when a cached result fits. */
  force?: boolean;
  /** Tries again after a failure (0 to 10). */
  retries?: number;
  /** Retry failures of the notebook's own cells too, not only lost kernels. */
  retry_on_error?: boolean;
  /** Spend cap of the run (cost currency): past it the rest ends KILLED, reason `budget`. */
  max_cost?: number;
}

/** What a run was estimated to cost before it started (with `max_cost`). */
export interface ICostEstimate {
  /** Null when a notebook has no history. */
  total: number | null;
  currency: string;
  /** `about $3.40: 20 executions x median $0.17 of the last 10 runs of train.ipynb`. */
  message: string;
}

/** An error of a pipeline request, as the views should show it (`isRouteMissing`). */
export const pipelinesError = routeMissing('pipeline');

/** What the views show when the server extension has no pipeline routes. */
export const PIPELINES_ROUTE_MISSING_MESSAGE = pipelinesError.message;

/** The client the pipeline views need; `PipelinesClient` implements it over HTTP. */
export interface IPipelinesClient {
  pipelines(): Promise<IPipelineList>;
  notebookParameters(path: string): Promise<INotebookParameters>;
  exportPipeline(request: IExportRequest): Promise<IExportResult>;
  launch(request: IRunRequest): Promise<ILaunch>;
  launches(): Promise<ILaunch[]>;
  getLaunch(id: string): Promise<ILaunch>;
  cancel(id: string): Promise<ILaunch>;
  /** The schedule routes; absent where the view should not offer schedules. */
  readonly schedules?: ISchedulesClient;
}

/** HTTP client of the pipeline routes. */
export class PipelinesClient implements IPipelinesClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
    this.schedules = new SchedulesClient(this.http);
  }

  readonly http: HttpClient;
  readonly schedules: SchedulesClient;

  async pipelines(): Promise<IPipelineList> {
    const body = await this._call<Partial<IPipelineList>>(['pipelines']);
    return {
      pipelines: Array.isArray(body.pipelines) ? body.pipelines : [],
      truncated: !!body.truncated
    };
  }

  notebookParameters(path: string): Promise<INotebookParameters> {
    return this._call<INotebookParameters>(['pipelines', 'parameters'], {
      path
    });
  }

  exportPipeline(request: IExportRequest): Promise<IExportResult> {
    return this._call<IExportResult>(['pipelines', 'export'], {}, request);
  }

  launch(request: IRunRequest): Promise<ILaunch> {
    return this._call<ILaunch>(['pipelines', 'runs'], {}, request);
  }

  async launches(): Promise<ILaunch[]> {
    const body = await this._call<{ runs?: ILaunch[] }>(['pipelines', 'runs']);
    return Array.isArray(body.runs) ? body.runs : [];
  }

  getLaunch(id: string): Promise<ILaunch> {
    return this._call<ILaunch>(['pipelines', 'runs', id]);
  }

  cancel(id: string): Promise<ILaunch> {
    return this._call<ILaunch>(['pipelines', 'runs', id, 'cancel'], {}, {});
  }

  /** `GET` the route; `POST` `body` when there is one. */
  private async _call<T>(
    segments: string[],
    query: Record<string, string | undefined> = {},
    body?: object
  ): Promise<T> {
    try {
      return await this.http.request<T>(
        segments,
        query,
        body === undefined ? {} : { method: 'POST', body }
      );
    } catch (reason) {
      throw pipelinesError(reason);
    }
  }
}
