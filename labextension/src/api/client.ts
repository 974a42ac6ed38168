/**
 * What every client of the jupyter-mlops REST API (`/jupyter-mlops/api/...`)
 * shares: `HttpClient` (URL building, auth, error parsing), `ApiError`, and
 * `routeMissing(feature)`, the one translation of a missing route.
 *
 * The contract lives in `api/openapi.yaml`; one client per subject
 * (`runs.ts`, `env.ts`, `cost.ts`, `pipelines.ts`, `artifacts.ts`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

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

/** HTTP access to `/jupyter-mlops/api`, authenticated like every Jupyter request. */
export class HttpClient {
  constructor(serverSettings?: ServerConnection.ISettings) {
    this.serverSettings = serverSettings ?? ServerConnection.makeSettings();
  }

  readonly serverSettings: ServerConnection.ISettings;

  /**
   * `GET` one route (or `POST` a JSON `body`, or `DELETE`, with
   * `init.method`; a 204 resolves to `undefined`). Each
   * segment is URL-encoded on its own, so a metric key such as `val/loss`
   * travels as `val%2Floss`.
   */
  async request<T>(
    segments: string[],
    query: Record<string, string | number | undefined | null> = {},
    init: { method?: 'GET' | 'POST' | 'DELETE'; body?: unknown } = {}
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
          : method === 'DELETE'
            ? { method }
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
    if (response.status === 204) {
      return undefined as T;
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

/** The `error` name given to a missing route, so views can tell it apart. */
export const ROUTE_MISSING = 'RouteMissing';

/** Turns a failed request of one subject into the `ApiError` the views show. */
export interface IErrorTranslator {
  (reason: unknown): ApiError;
  /** What the views show when the server extension has no routes of the subject. */
  readonly message: string;
}

/**
 * The error translation of one subject's requests (`environment`, `cost`,
 * `pipeline`): a 404 that is not one of our JSON errors (Jupyter's HTML
 * "404: Not Found" page) means the server extension predates these routes,
 * which the panel says in words (`isRouteMissing`). A JSON 404
 * (`NotFoundError`) keeps the server's message and hint.
 */
export function routeMissing(feature: string, check = ''): IErrorTranslator {
  const message =
    `This jupyter-mlops server extension has no ${feature} API. Upgrade ` +
    'jupyter-mlops in the environment that runs JupyterLab (`pip install -U ' +
    `jupyter-mlops\`)${check ? `, ${check},` : ''} and restart JupyterLab.`;
  const translate = (reason: unknown): ApiError => {
    const error = toApiError(reason);
    if (error.kind === 'http' && error.status === 404 && !error.error) {
      return new ApiError({
        kind: 'http',
        status: 404,
        error: ROUTE_MISSING,
        message
      });
    }
    return error;
  };
  return Object.assign(translate, { message });
}

/** True when `error` says the server has no routes of a subject at all. */
export function isRouteMissing(error: ApiError | null | undefined): boolean {
  return !!error && error.error === ROUTE_MISSING;
}
