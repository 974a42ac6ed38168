/**
 * What other JupyterLab plugins can use of jupyter-mlops: the `IMlopsApi`
 * token (the clients of the REST API, built once by the plugin) and the
 * wire types of `api/openapi.yaml`.
 *
 * ```ts
 * const plugin = {
 *   id: 'my-extension:plugin',
 *   requires: [IMlopsApi],
 *   activate: (app, api: IMlopsApi) => api.runs.searchRuns({ max_results: 10 })
 * };
 * ```
 */
import { Token } from '@lumino/coreutils';

import type { IArtifactsClient } from './artifacts';
import type { HttpClient } from './client';
import type { ICostClient } from './cost';
import type { IEnvClient } from './env';
import type { IPipelinesClient } from './pipelines';
import type { IRunsClient } from './runs';

export type * from './cost';
export type * from './env';
export type * from './pipelines';
export type * from './types';
export type { IArtifactsClient, IRawOptions } from './artifacts';
export type { IRunsClient } from './runs';

/** The clients of the jupyter-mlops REST API, one per subject. */
export interface IMlopsApi {
  /** URL building, auth and error parsing under `/jupyter-mlops/api`. */
  readonly http: HttpClient;
  readonly runs: IRunsClient;
  readonly environment: IEnvClient;
  readonly cost: ICostClient;
  readonly pipelines: IPipelinesClient;
  readonly artifacts: IArtifactsClient;
}

/** The jupyter-mlops REST API clients (provided by `jupyter-mlops:plugin`). */
export const IMlopsApi = new Token<IMlopsApi>(
  'jupyter-mlops:IMlopsApi',
  'The clients of the jupyter-mlops REST API: runs, environment, cost, pipelines, artifacts.'
);
