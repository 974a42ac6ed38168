import { ServerConnection } from '@jupyterlab/services';

import { HttpClient } from '../../labextension/src/api/client';
import type { IEnvironmentDiff } from '../../labextension/src/api/env';
import type { IRunSummary } from '../../labextension/src/api/types';

export const BASE = 'http://localhost:8888/lab-base/';

/**
 * A client whose fetch answers from `handler` and records the requested URLs.
 * The handler also gets the request (method, headers, JSON body).
 */
export function clientWith(
  handler: (url: URL, request: Request) => Response | Promise<Response>
): {
  client: HttpClient;
  urls: URL[];
} {
  const urls: URL[] = [];
  const fetch = async (
    input: RequestInfo,
    init?: RequestInit
  ): Promise<Response> => {
    const request =
      typeof input === 'string' ? new Request(input, init) : input;
    const url = new URL(request.url);
    urls.push(url);
    return handler(url, request);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: BASE,
    wsUrl: 'ws://localhost:8888/lab-base/',
    token: 'secret',
    fetch: fetch as typeof globalThis.fetch
  });
  return { client: new HttpClient(settings), urls };
}

/** A subject's client (`CostClient`, `EnvClient`...) over `clientWith(handler)`. */
export function subjectClientWith<C>(
  Client: new (http: HttpClient) => C,
  handler: (url: URL, request: Request) => Response | Promise<Response>
): { client: C; urls: URL[] } {
  const { client, urls } = clientWith(handler);
  return { client: new Client(client), urls };
}

/** A JSON response, as the server sends it. */
export const json = (body: unknown, status = 200): Response =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });

/** A run summary with sensible defaults; override what the test is about. */
export function makeRun(
  id: string,
  overrides: Partial<IRunSummary> = {}
): IRunSummary {
  return {
    run_id: id,
    run_name: `run-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1_700_000_000_000,
    end_time: 1_700_000_060_000,
    duration_ms: 60_000,
    notebook: 'train.ipynb',
    project: 'demo',
    user: 'ada',
    params: {},
    metrics: {},
    tags: {},
    ...overrides
  };
}

/** A diff of two identical environments. */
export const EMPTY_DIFF: IEnvironmentDiff = {
  added: [],
  removed: [],
  changed: [],
  python: null,
  listed_only: false,
  drift: false
};
