/**
 * Client of the environment-snapshot routes (`api/openapi.yaml`):
 * `runs/{run_id}/environment`, `environment/current`, `environment/diff`,
 * and their wire types. Keep these in step with the schemas there.
 */
import { HttpClient, routeMissing } from './client';

/** `GET /runs/{run_id}/environment` */
export interface IRunEnvironment {
  run_id: string;
  /** The content hash (hex sha256); null when the run has no hash tag. */
  hash: string | null;
  /** The run's `environment/environment.yml` artifact, as text. */
  environment_yml: string;
  /** The snapshot parsed back (`EnvironmentSnapshot.to_dict`). */
  snapshot: Record<string, unknown>;
}

/** One installed package of `GET /environment/current`. */
export interface IEnvPackage {
  /** Normalized distribution (pip) or package (conda) name. */
  name: string;
  version: string;
  source: 'pip' | 'conda';
  /** The user asked for it (pip's REQUESTED marker, conda's history). */
  requested: boolean;
  /** Conda channel, editable path, VCS or archive URL (credentials stripped). */
  origin: string | null;
}

/** `GET /environment/current` */
export interface ICurrentEnvironment {
  /** The kernel whose interpreter this is; null for the server's own interpreter. */
  kernel_id: string | null;
  /** Python version, e.g. `3.11.7`; empty when unknown. */
  python: string;
  /** `sys.prefix` of that interpreter. */
  prefix: string;
  /** The content hash (hex sha256): equal for identical environments. */
  hash: string;
  packages: IEnvPackage[];
  /** OS, CPU, Python build, GPU facts. */
  platform: Record<string, unknown>;
}

/** One package that differs between two environments. */
export interface IPackageChange {
  /** `conda` or `pip` (separate name spaces). */
  section: 'conda' | 'pip';
  name: string;
  /** The pin in the old environment; null when added. */
  old: string | null;
  /** The pin in the new environment; null when removed. */
  new: string | null;
}

/**
 * `GET /environment/diff?a=&b=`: what changed from run `a` to run `b`
 * (`EnvironmentDiff.to_dict` of `jupyter_mlops/core/environment/diff.py`).
 */
export interface IEnvironmentDiff {
  added: IPackageChange[];
  removed: IPackageChange[];
  changed: IPackageChange[];
  /** The Python versions when they differ. */
  python: { old: string; new: string } | null;
  /** Only the packages listed in a requested-only or hand-written snapshot were compared. */
  listed_only: boolean;
  /** True when anything differs. */
  drift: boolean;
}

/** An error of an environment request, as the panel should show it. */
export const envError = routeMissing('environment');

/** What the panel shows when the server extension has no environment routes. */
export const ENV_ROUTE_MISSING_MESSAGE = envError.message;

/** The client the environment views need; `EnvClient` implements it over HTTP. */
export interface IEnvClient {
  /** The environment of a kernel's interpreter; without a kernel, the server's own. */
  currentEnvironment(kernelId?: string | null): Promise<ICurrentEnvironment>;
  /** The snapshot a run logged (404 when it has none). */
  runEnvironment(runId: string): Promise<IRunEnvironment>;
  /** What changed from run `a` to run `b`. */
  environmentDiff(a: string, b: string): Promise<IEnvironmentDiff>;
}

/** HTTP client of the environment routes. */
export class EnvClient implements IEnvClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

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
