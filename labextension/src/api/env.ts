/**
 * Client of the environment-snapshot routes (`api/openapi.yaml`):
 * `runs/{run_id}/environment`, `environment/current`, `environment/diff`.
 *
 * Built on `MlopsClient.request` (same URL building, auth and error parsing);
 * adds one translation: a 404 that is not one of our JSON errors means the
 * server extension predates these routes, which the panel says in words.
 */
import { ApiError, MlopsClient, toApiError } from './client';
import type {
  ICurrentEnvironment,
  IEnvironmentDiff,
  IRunEnvironment
} from '../envtypes';

/** What the panel shows when the server extension has no environment routes. */
export const ENV_ROUTE_MISSING_MESSAGE =
  'This jupyter-mlops server extension has no environment API. Upgrade ' +
  'jupyter-mlops in the environment that runs JupyterLab (`pip install -U ' +
  'jupyter-mlops`) and restart JupyterLab.';

/** The `error` name given to a missing route, so views can tell it apart. */
export const ENV_ROUTE_MISSING = 'RouteMissing';

/** The client the environment views need; `EnvClient` implements it over HTTP. */
export interface IEnvClient {
  /** The environment of a kernel's interpreter; without a kernel, the server's own. */
  currentEnvironment(kernelId?: string | null): Promise<ICurrentEnvironment>;
  /** The snapshot a run logged (404 when it has none). */
  runEnvironment(runId: string): Promise<IRunEnvironment>;
  /** What changed from run `a` to run `b`. */
  environmentDiff(a: string, b: string): Promise<IEnvironmentDiff>;
}

/**
 * An error of an environment request, as the panel should show it.
 *
 * A 404 whose body is not our JSON error (Jupyter's HTML "404: Not Found"
 * page) means the route does not exist: an older server extension. A JSON 404
 * (`NotFoundError`: the run has no snapshot, the kernel is gone) keeps the
 * server's message and hint.
 */
export function envError(reason: unknown): ApiError {
  const error = toApiError(reason);
  if (error.kind === 'http' && error.status === 404 && !error.error) {
    return new ApiError({
      kind: 'http',
      status: 404,
      error: ENV_ROUTE_MISSING,
      message: ENV_ROUTE_MISSING_MESSAGE
    });
  }
  return error;
}

/** True when `error` says the server has no environment routes at all. */
export function isRouteMissing(error: ApiError | null | undefined): boolean {
  return !!error && error.error === ENV_ROUTE_MISSING;
}

/** HTTP client of the environment routes. */
export class EnvClient implements IEnvClient {
  constructor(http?: MlopsClient) {
    this.http = http ?? new MlopsClient();
  }

  readonly http: MlopsClient;

  currentEnvironment(kernelId?: string | null): Promise<ICurrentEnvironment> {
    return this._get<ICurrentEnvironment>(['environment', 'current'], {
      kernel_id: kernelId ?? undefined
    });
  }

  runEnvironment(runId: string): Promise<IRunEnvironment> {
    return this._get<IRunEnvironment>(['runs', runId, 'environment']);
  }

  environmentDiff(a: string, b: string): Promise<IEnvironmentDiff> {
    return this._get<IEnvironmentDiff>(['environment', 'diff'], { a, b });
  }

  private async _get<T>(
    segments: string[],
    query: Record<string, string | undefined> = {}
  ): Promise<T> {
    try {
      return await this.http.request<T>(segments, query);
    } catch (reason) {
      throw envError(reason);
    }
  }
}
