import { EMPTY_DIFF, json, subjectClientWith } from './fixtures';
import { ApiError, isRouteMissing } from '../../labextension/src/api/client';
import {
  ENV_ROUTE_MISSING_MESSAGE,
  EnvClient,
  envError,
  type IEnvClient
} from '../../labextension/src/api/env';
import {
  diffKey,
  EnvCompareModel,
  EnvironmentModel,
  RequestCache
} from '../../labextension/src/env/model';
import type {
  ICurrentEnvironment,
  IEnvironmentDiff,
  IRunEnvironment
} from '../../labextension/src/api/env';

const httpClient = (
  handler: (url: URL) => Response
): { client: EnvClient; urls: URL[] } => subjectClientWith(EnvClient, handler);

function environment(
  kernelId: string | null,
  names: string[] = ['mlflow', 'numpy']
): ICurrentEnvironment {
  return {
    kernel_id: kernelId,
    python: '3.11.7',
    prefix: '/opt/env',
    hash: 'sha256:abcdef0123',
    packages: names.map(name => ({
      name,
      version: '1.0',
      source: 'pip',
      requested: true,
      origin: null
    })),
    platform: {}
  };
}

/** An in-memory environment API; `fail` makes the next answers reject. */
class FakeEnvClient implements IEnvClient {
  calls: string[] = [];
  fail: ApiError | null = null;
  gates = new Map<string, Promise<void>>();

  async currentEnvironment(
    kernelId?: string | null
  ): Promise<ICurrentEnvironment> {
    this.calls.push(`current:${kernelId ?? ''}`);
    await this.gates.get(kernelId ?? '');
    if (this.fail) {
      throw this.fail;
    }
    return environment(kernelId ?? null, [`pkg-of-${kernelId ?? 'server'}`]);
  }

  async runEnvironment(runId: string): Promise<IRunEnvironment> {
    this.calls.push(`run:${runId}`);
    if (this.fail) {
      throw this.fail;
    }
    return {
      run_id: runId,
      hash: 'sha256:1',
      environment_yml: 'name: x\n',
      snapshot: {}
    };
  }

  async environmentDiff(a: string, b: string): Promise<IEnvironmentDiff> {
    this.calls.push(`diff:${a}:${b}`);
    if (this.fail) {
      throw this.fail;
    }
    return EMPTY_DIFF;
  }
}

const flush = (): Promise<void> => new Promise(resolve => setTimeout(resolve));

describe('EnvClient', () => {
  it('requests the documented routes', async () => {
    const { client, urls } = httpClient(url =>
      url.pathname.endsWith('/diff')
        ? json(EMPTY_DIFF)
        : json(environment('k1'))
    );
    await client.currentEnvironment('k1');
    await client.currentEnvironment();
    await client.runEnvironment('r/1');
    await client.environmentDiff('a1', 'b2');
    expect(urls[0].pathname).toBe(
      '/lab-base/jupyter-mlops/api/environment/current'
    );
    expect(urls[0].searchParams.get('kernel_id')).toBe('k1');
    expect(urls[1].searchParams.has('kernel_id')).toBe(false);
    expect(urls[2].pathname).toBe(
      '/lab-base/jupyter-mlops/api/runs/r%2F1/environment'
    );
    expect(urls[3].pathname).toBe(
      '/lab-base/jupyter-mlops/api/environment/diff'
    );
    expect(urls[3].searchParams.get('a')).toBe('a1');
    expect(urls[3].searchParams.get('b')).toBe('b2');
  });

  it('explains a server without the environment routes', async () => {
    const { client } = httpClient(
      () => new Response('<html>404: Not Found</html>', { status: 404 })
    );
    const error = await client.currentEnvironment().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(isRouteMissing(error)).toBe(true);
    expect(error.message).toBe(ENV_ROUTE_MISSING_MESSAGE);
    expect(error.message).toContain('pip install -U jupyter-mlops');
  });

  it('keeps the server message for a run without a snapshot', async () => {
    const { client } = httpClient(() =>
      json(
        {
          error: 'NotFoundError',
          message:
            'Run r1 has no environment snapshot (environment/environment.yml).',
          hint: 'runs started with jupyter-mlops record one'
        },
        404
      )
    );
    const error = await client.runEnvironment('r1').catch(e => e);
    expect(isRouteMissing(error)).toBe(false);
    expect(error.message).toContain('has no environment snapshot');
    expect(error.hint).toContain('record one');
  });

  it('leaves other errors alone', () => {
    const network = new ApiError({ kind: 'network', message: 'down' });
    expect(envError(network)).toBe(network);
    expect(envError(new Error('boom')).message).toBe('boom');
    expect(isRouteMissing(null)).toBe(false);
  });
});

describe('EnvironmentModel', () => {
  it('loads the server interpreter once shown, and filters its packages', async () => {
    const client = new FakeEnvClient();
    const model = new EnvironmentModel({ client });
    expect(client.calls).toEqual([]);
    model.setActive(true);
    await flush();
    expect(client.calls).toEqual(['current:']);
    expect(model.env?.kernel_id).toBeNull();
    expect(model.isFallback).toBe(true);
    expect(model.packages.map(p => p.name)).toEqual(['pkg-of-server']);
    model.setFilter({ query: 'nope' });
    expect(model.packages).toEqual([]);
    // Shown again: nothing stale, no new request.
    model.setActive(false);
    model.setActive(true);
    await flush();
    expect(client.calls).toEqual(['current:']);
  });

  it('follows the kernel, never showing one kernel under another', async () => {
    const client = new FakeEnvClient();
    const model = new EnvironmentModel({ client });
    model.setKernel({ id: 'k1', name: 'Python 3', path: 'a.ipynb' });
    model.setActive(true);
    await flush();
    expect(model.env?.kernel_id).toBe('k1');
    expect(model.isFallback).toBe(false);

    let release = (): void => undefined;
    client.gates.set(
      'k2',
      new Promise<void>(resolve => {
        release = resolve;
      })
    );
    model.setKernel({ id: 'k2', name: 'Python 3', path: 'b.ipynb' });
    expect(model.env).toBeNull();
    expect(model.loading).toBe(true);
    release();
    await flush();
    expect(model.env?.kernel_id).toBe('k2');
    expect(model.packages.map(p => p.name)).toEqual(['pkg-of-k2']);

    // Same kernel, other path (renamed notebook): no new request.
    model.setKernel({ id: 'k2', name: 'Python 3', path: 'c.ipynb' });
    expect(model.kernel?.path).toBe('c.ipynb');
    await flush();
    expect(client.calls).toEqual(['current:k1', 'current:k2']);
  });

  it('drops an answer for a kernel that is no longer current', async () => {
    const client = new FakeEnvClient();
    const model = new EnvironmentModel({ client });
    let release = (): void => undefined;
    client.gates.set(
      'slow',
      new Promise<void>(resolve => {
        release = resolve;
      })
    );
    model.setKernel({ id: 'slow' });
    model.setActive(true);
    model.setKernel({ id: 'fast' });
    await flush();
    release();
    await flush();
    expect(model.env?.kernel_id).toBe('fast');
    expect(model.loading).toBe(false);
  });

  it('waits while hidden and loads the new kernel when shown', async () => {
    const client = new FakeEnvClient();
    const model = new EnvironmentModel({ client });
    model.setKernel({ id: 'k1' });
    await flush();
    expect(client.calls).toEqual([]);
    model.setActive(true);
    await flush();
    expect(client.calls).toEqual(['current:k1']);
  });

  it('shows the friendly message when the server has no environment route', async () => {
    const client = new FakeEnvClient();
    client.fail = envError(
      new ApiError({
        kind: 'http',
        status: 404,
        message: 'Request failed: 404'
      })
    );
    const model = new EnvironmentModel({ client });
    model.setActive(true);
    await flush();
    expect(model.env).toBeNull();
    expect(isRouteMissing(model.error)).toBe(true);
    expect(model.error?.message).toBe(ENV_ROUTE_MISSING_MESSAGE);
    expect(model.loading).toBe(false);
  });
});

describe('RequestCache and EnvCompareModel', () => {
  it('fetches each pair once and caches the answer', async () => {
    const client = new FakeEnvClient();
    const model = new EnvCompareModel({ client });
    const seen: string[] = [];
    model.diffs.changed.connect((_, key) => seen.push(key));
    const key = diffKey('a', 'b');
    model.diffs.request(key);
    expect(model.diffs.get(key)?.status).toBe('loading');
    model.diffs.request(key);
    await flush();
    expect(model.diffs.get(key)).toEqual({
      status: 'ready',
      value: EMPTY_DIFF
    });
    model.diffs.request(key);
    expect(client.calls).toEqual(['diff:a:b']);
    expect(seen).toEqual([key, key]);
    // A run's environment recorded or replaced: another key, read again.
    expect(diffKey('a', 'b', 'h1', 'h2')).not.toBe(
      diffKey('a', 'b', 'h1', 'h3')
    );
    model.diffs.request(diffKey('a', 'b', 'h1', 'h2'));
    await flush();
    expect(client.calls).toEqual(['diff:a:b', 'diff:a:b']);
    model.dispose();
    expect(model.isDisposed).toBe(true);
  });

  it('keeps an error until retried', async () => {
    const client = new FakeEnvClient();
    client.fail = new ApiError({
      kind: 'http',
      status: 404,
      error: 'NotFoundError',
      message: 'Run r1 has no environment snapshot.'
    });
    const model = new EnvCompareModel({ client });
    model.snapshots.request('r1');
    await flush();
    const state = model.snapshots.get('r1');
    expect(state?.status).toBe('error');
    expect(state?.error?.message).toBe('Run r1 has no environment snapshot.');
    model.snapshots.request('r1');
    expect(client.calls).toEqual(['run:r1']);
    client.fail = null;
    await model.snapshots.retry('r1');
    expect(model.snapshots.get('r1')?.status).toBe('ready');
    expect(client.calls).toEqual(['run:r1', 'run:r1']);
  });

  it('forgets the oldest answers beyond its limit', async () => {
    const cache = new RequestCache<string>({
      fetch: async key => key.toUpperCase(),
      limit: 2
    });
    cache.request('a');
    cache.request('b');
    cache.request('c');
    await flush();
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')?.value).toBe('B');
    expect(cache.get('c')?.value).toBe('C');
  });
});
