/**
 * Client of the run routes (`api/openapi.yaml`): `health`, `experiments`,
 * `runs`, `runs/{run_id}`, `runs/{run_id}/metrics/{key}`.
 */
import { ApiError, HttpClient, SERVER_MISSING_MESSAGE } from './client';
import type {
  IExperiment,
  IExperimentList,
  IHealth,
  IMetricHistory,
  IRunSummary,
  IRunsPage,
  IRunsQuery
} from './types';

/** The client the Runs view needs; `RunsClient` implements it over HTTP. */
export interface IRunsClient {
  health(): Promise<IHealth>;
  experiments(): Promise<IExperiment[]>;
  searchRuns(query: IRunsQuery): Promise<IRunsPage>;
  getRun(runId: string): Promise<IRunSummary>;
  metricHistory(runId: string, key: string): Promise<IMetricHistory>;
}

/** HTTP client of the run routes. */
export class RunsClient implements IRunsClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

  /** `GET /health`; a 404 means the server extension is missing. */
  async health(): Promise<IHealth> {
    try {
      return await this.http.request<IHealth>(['health']);
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
    const body = await this.http.request<IExperimentList>(['experiments']);
    return body.experiments;
  }

  searchRuns(query: IRunsQuery): Promise<IRunsPage> {
    return this.http.request<IRunsPage>(['runs'], { ...query });
  }

  getRun(runId: string): Promise<IRunSummary> {
    return this.http.request<IRunSummary>(['runs', runId]);
  }

  metricHistory(runId: string, key: string): Promise<IMetricHistory> {
    return this.http.request<IMetricHistory>(['runs', runId, 'metrics', key]);
  }
}
