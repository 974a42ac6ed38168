/**
 * Typed client of the jupyter-mlops REST API (`/jupyter-mlops/api/...`).
 *
 * The contract lives in `api/openapi.yaml`; the types in `./types`.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  IExperiment,
  IExperimentList,
  IHealth,
  IMetricHistory,
  IRunSummary,
  IRunsPage,
  IRunsQuery
} from './types';

/** The URL prefix of every route, relative to the server's base URL. */
export const API_NAMESPACE = 'jupyter-mlops/api';

/** What the panel shows when the server half of the extension is not there. */
export const SERVER_MISSING_MESSAGE =
  'The jupyter-mlops server extension is not running. Run `pip install jupyter-mlops` ' +
  'in the environment that runs JupyterLab, check `jupyter server extension list`, ' +
  'and restart JupyterLab.';

/**
 * What went wrong with a request.
 *
 * - `server-missing`: the route does not exist (404 on `/health`), the
 *   server extension is not loaded.
 * - `network`: the Jupyter server could not be reached at all.
 * - `http`: the server answered with an error status.
 * - `invalid-response`: the server answered 2xx but not with JSON.
 */
export type ApiErrorKind =
  | 'server-missing'
  | 'network'
  | 'http'
  | 'invalid-response';

/** An error from the jupyter-mlops API, carrying the server's message and hint. */
export class ApiError extends Error {
  constructor(options: {
    kind: ApiErrorKind;
    message: string;
    status?: number;
    error?: string;
    hint?: string;
    errors?: string[];
  }) {
    super(options.message);
    this.name = 'ApiError';
    this.kind = options.kind;
    this.status = options.status ?? 0;
    this.error = options.error ?? '';
    this.hint = options.hint ?? '';
    this.errors = options.errors ?? [];
  }

  readonly kind: ApiErrorKind;
  /** HTTP status, 0 when there was no response. */
  readonly status: number;
  /** The server's exception name (`error` field), when it sent one. */
  readonly error: string;
  /** What the user can do about it (`hint` field), when the server sent one. */
  readonly hint: string;
  /** One line per problem (`errors` field, e.g. each bad parameter), when the server sent them. */
  readonly errors: string[];

  /** True when the panel should tell the user to install/enable the server extension. */
  get serverMissing(): boolean {
    return this.kind === 'server-missing' || this.kind === 'network';
  }
}

/**
 * Turn an error response into an `ApiError`.
 *
 * Uses the JSON `{error, message, hint}` body when there is one; falls back to
 * the status line for anything else (an HTML 404 page, a proxy error...).
 */
export function parseErrorResponse(
  status: number,
  statusText: string,
  bodyText: string
): ApiError {
  let body: unknown = undefined;
  try {
    body = bodyText ? JSON.parse(bodyText) : undefined;
  } catch {
    body = undefined;
  }
  const fallback = `Request failed: ${status}${statusText ? ` ${statusText}` : ''}`;
  if (body !== null && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    const message =
      typeof record.message === 'string' && record.message.trim()
        ? record.message
        : fallback;
    return new ApiError({
      kind: 'http',
      status,
      message,
      error: typeof record.error === 'string' ? record.error : undefined,
      hint: typeof record.hint === 'string' ? record.hint : undefined,
      errors: Array.isArray(record.errors)
        ? record.errors.map(item => String(item))
        : undefined
    });
  }
  return new ApiError({ kind: 'http', status, message: fallback });
}

/** Query string of `params` without undefined/empty values, in a stable order. */
export function encodeQuery(
  params: Record<string, string | number | undefined | null>
): string {
  const search = new URLSearchParams();
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (value === undefined || value === null || value === '') {
      continue;
    }
    search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** The client the panel model needs; `MlopsClient` implements it over HTTP. */
export interface IMlopsClient {
  health(): Promise<IHealth>;
  experiments(): Promise<IExperiment[]>;
  searchRuns(query: IRunsQuery): Promise<IRunsPage>;
  getRun(runId: string): Promise<IRunSummary>;
  metricHistory(runId: string, key: string): Promise<IMetricHistory>;
}

/** HTTP client of `/jupyter-mlops/api`, authenticated like every Jupyter request. */
export class MlopsClient implements IMlopsClient {
  constructor(serverSettings?: ServerConnection.ISettings) {
    this.serverSettings = serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /** `GET /health`; a 404 means the server extension is missing. */
  async health(): Promise<IHealth> {
    try {
      return await this.request<IHealth>(['health']);
    } catch (reason) {
      if (reason instanceof ApiError && reason.status === 404) {
        throw new ApiError({
          kind: 'server-missing',
          status: 404,
          message: SERVER_MISSING_MESSAGE
        });
      }
      throw reason;
    }
  }

  async experiments(): Promise<IExperiment[]> {
    const body = await this.request<IExperimentList>(['experiments']);
    return body.experiments;
  }

  searchRuns(query: IRunsQuery): Promise<IRunsPage> {
    return this.request<IRunsPage>(['runs'], { ...query });
  }

  getRun(runId: string): Promise<IRunSummary> {
    return this.request<IRunSummary>(['runs', runId]);
  }

  metricHistory(runId: string, key: string): Promise<IMetricHistory> {
    return this.request<IMetricHistory>(['runs', runId, 'metrics', key]);
  }

  /**
   * `GET` one route (or `POST` a JSON `body` with `init.method`). Each
   * segment is URL-encoded on its own, so a metric key such as `val/loss`
   * travels as `val%2Floss`.
   */
  async request<T>(
    segments: string[],
    query: Record<string, string | number | undefined | null> = {},
    init: { method?: 'GET' | 'POST'; body?: unknown } = {}
  ): Promise<T> {
    const method = init.method ?? 'GET';
    const url =
      URLExt.join(
        this.serverSettings.baseUrl,
        API_NAMESPACE,
        ...segments.map(encodeURIComponent)
      ) + encodeQuery(query);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        method === 'GET'
          ? // 'no-cache' revalidates instead of adding a cache-busting query parameter.
            { method, cache: 'no-cache' }
          : {
              method,
              body: JSON.stringify(init.body ?? {}),
              headers: { 'Content-Type': 'application/json' }
            },
        this.serverSettings
      );
    } catch (reason) {
      throw new ApiError({
        kind: 'network',
        message: `Cannot reach the Jupyter server: ${
          reason instanceof Error ? reason.message : String(reason)
        }`
      });
    }
    const text = await response.text();
    if (!response.ok) {
      throw parseErrorResponse(response.status, response.statusText, text);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        kind: 'invalid-response',
        status: response.status,
        message: `The server sent a response that is not JSON (${url}).`
      });
    }
  }
}

/** Any rejection as an `ApiError`. */
export function toApiError(reason: unknown): ApiError {
  if (reason instanceof ApiError) {
    return reason;
  }
  return new ApiError({
    kind: 'http',
    message: reason instanceof Error ? reason.message : String(reason)
  });
}
