import { ApiError } from '../../labextension/src/api/client';
import type { IRunsClient } from '../../labextension/src/api/runs';
import { MAX_COMPARE, RunsModel } from '../../labextension/src/runs/model';
import type {
  IExperiment,
  IHealth,
  IMetricHistory,
  IRunSummary,
  IRunsPage,
  IRunsQuery
} from '../../labextension/src/api/types';
import { mapLimit } from '../../labextension/src/common/async';
import { makeRun } from './fixtures';

/** An in-memory store behind the `IRunsClient` interface. */
class FakeClient implements IRunsClient {
  runs: IRunSummary[] = [];
  histories = new Map<string, IMetricHistory>();
  queries: IRunsQuery[] = [];
  getRunCalls: string[] = [];
  healthError: ApiError | null = null;
  /** When set, searchRuns waits for this before answering. */
  gate: Promise<void> | null = null;

  async health(): Promise<IHealth> {
    if (this.healthError) {
      throw this.healthError;
    }
    return { version: '0.1.0', tracking_uri: 'sqlite:///x.db', project: 'p' };
  }

  async experiments(): Promise<IExperiment[]> {
    return [{ experiment_id: '1', name: 'e2e' }];
  }

  async searchRuns(query: IRunsQuery): Promise<IRunsPage> {
    this.queries.push(query);
    const gate = this.gate;
    const selected = this.runs.filter(
      run =>
        (!query.status || run.status === query.status) &&
        (!query.q || run.run_name.includes(query.q))
    );
    if (gate) {
      await gate;
    }
    const start = Number(query.page_token ?? 0);
    const size = query.max_results ?? 100;
    const end = start + size;
    return {
      runs: selected.slice(start, end),
      next_page_token: end < selected.length ? String(end) : null
    };
  }

  async getRun(runId: string): Promise<IRunSummary> {
    this.getRunCalls.push(runId);
    const run = this.runs.find(r => r.run_id === runId);
    if (!run) {
      throw new ApiError({ kind: 'http', status: 404, message: 'no run' });
    }
    return run;
  }

  async metricHistory(runId: string, key: string): Promise<IMetricHistory> {
    return (
      this.histories.get(`${runId}/${key}`) ?? {
        run_id: runId,
        key,
        points: []
      }
    );
  }
}

function seed(client: FakeClient, count: number): void {
  client.runs = Array.from({ length: count }, (_, i) => makeRun(`r${i}`));
}

describe('RunsModel', () => {
  it('checks the server, then loads experiments and the first page', async () => {
    const client = new FakeClient();
    seed(client, 250);
    const model = new RunsModel({ client, pageSize: 100 });
    let changes = 0;
    model.changed.connect(() => changes++);
    await model.start();
    expect(model.health?.project).toBe('p');
    expect(model.experiments).toHaveLength(1);
    expect(model.runs).toHaveLength(100);
    expect(model.nextPageToken).toBe('100');
    expect(client.queries[0]).toEqual({
      order_by: 'start_time DESC',
      max_results: 100,
      top_level: 'true'
    });
    expect(changes).toBeGreaterThan(0);
  });

  it('shows the missing server extension instead of an empty list', async () => {
    const client = new FakeClient();
    client.healthError = new ApiError({
      kind: 'server-missing',
      status: 404,
      message: 'missing'
    });
    const model = new RunsModel({ client });
    await model.start();
    expect(model.serverMissing).toBe(true);
    expect(client.queries).toHaveLength(0);
    // Refresh keeps failing (so a Poll backs off) until the server is back.
    await expect(model.refresh()).rejects.toBeInstanceOf(ApiError);
    client.healthError = null;
    seed(client, 3);
    await model.refresh();
    expect(model.serverMissing).toBe(false);
    expect(model.runs).toHaveLength(3);
  });

  it('pages through 10,000 runs with load more', async () => {
    const client = new FakeClient();
    seed(client, 10_000);
    const model = new RunsModel({ client, pageSize: 1000 });
    await model.start();
    while (model.nextPageToken) {
      await model.loadMore();
    }
    expect(model.runs).toHaveLength(10_000);
    expect(new Set(model.runs.map(r => r.run_id)).size).toBe(10_000);
    expect(client.queries.at(-1)?.page_token).toBe('9000');
  });

  it('sends filter and sort changes to the server and starts from the first page', async () => {
    const client = new FakeClient();
    seed(client, 10);
    client.runs[3] = makeRun('r3', { run_name: 'special', status: 'RUNNING' });
    const model = new RunsModel({ client, pageSize: 5 });
    await model.start();
    await model.loadMore();
    await model.setFilter({ search: 'spec', status: 'RUNNING' });
    expect(model.runs.map(r => r.run_id)).toEqual(['r3']);
    expect(client.queries.at(-1)).toMatchObject({
      q: 'spec',
      status: 'RUNNING'
    });
    expect(client.queries.at(-1)?.page_token).toBeUndefined();
    await model.sortBy('run_name');
    expect(client.queries.at(-1)?.order_by).toBe('run_name ASC');
    await model.sortBy('run_name');
    expect(client.queries.at(-1)?.order_by).toBe('run_name DESC');
  });

  it('drops a slow answer to a request that a newer one replaced', async () => {
    const client = new FakeClient();
    seed(client, 3);
    const model = new RunsModel({ client });
    await model.start();
    let open: () => void = () => undefined;
    client.gate = new Promise(resolve => (open = resolve));
    const slow = model.setFilter({ search: 'run-r0' });
    client.gate = null;
    await model.setFilter({ search: 'run-r2' });
    open();
    await slow;
    expect(model.runs.map(r => r.run_id)).toEqual(['r2']);
  });

  it('shows a new run and the final state of a running one on refresh', async () => {
    const client = new FakeClient();
    seed(client, 6);
    client.runs[5] = makeRun('r5', { status: 'RUNNING', end_time: null });
    const model = new RunsModel({ client, pageSize: 2 });
    await model.start();
    while (model.nextPageToken) {
      await model.loadMore();
    }
    expect(model.runs.find(r => r.run_id === 'r5')?.status).toBe('RUNNING');

    // A new run starts (newest first) and r5, beyond the first page, finishes.
    client.runs = [
      makeRun('new', { status: 'RUNNING' }),
      ...client.runs.map(r =>
        r.run_id === 'r5' ? { ...r, status: 'FINISHED' as const } : r
      )
    ];
    await model.refresh();
    expect(model.runs[0].run_id).toBe('new');
    expect(model.runs.find(r => r.run_id === 'r5')?.status).toBe('FINISHED');
    expect(client.getRunCalls).toContain('r5');
    expect(new Set(model.runs.map(r => r.run_id)).size).toBe(model.runs.length);
  });

  it('loads a selected run with its metric histories', async () => {
    const client = new FakeClient();
    client.runs = [makeRun('a', { metrics: { acc: 0.7, loss: 0.3 } })];
    client.histories.set('a/acc', {
      run_id: 'a',
      key: 'acc',
      points: [
        { step: 1, timestamp: 1, value: 0.5 },
        { step: 2, timestamp: 2, value: 0.7 }
      ]
    });
    const model = new RunsModel({ client });
    await model.start();
    await model.select('a');
    const [detail] = model.selectedDetails;
    expect(detail.run.run_id).toBe('a');
    expect(detail.histories.get('acc')?.map(p => p.value)).toEqual([0.5, 0.7]);
    expect(detail.histories.get('loss')).toEqual([]);
  });

  it('builds a comparison from checked runs and caps it', async () => {
    const client = new FakeClient();
    seed(client, MAX_COMPARE + 2);
    const model = new RunsModel({ client });
    await model.start();
    await model.select('r0');
    await model.select('r1', true);
    expect(model.selection).toEqual(['r0', 'r1']);
    expect(model.selectedDetails.map(d => d.run.run_id)).toEqual(['r0', 'r1']);
    await model.select('r0', true);
    expect(model.selection).toEqual(['r1']);
    await model.setSelection(client.runs.map(r => r.run_id));
    expect(model.selection).toHaveLength(MAX_COMPARE);
    await model.select('r0');
    expect(model.selection).toEqual(['r0']);
    expect(model.selectedDetails).toHaveLength(1);
  });

  it('re-reads a running selected run until it has finished', async () => {
    const client = new FakeClient();
    client.runs = [makeRun('a', { status: 'RUNNING', metrics: { acc: 1 } })];
    const model = new RunsModel({ client });
    await model.start();
    await model.select('a');
    client.runs = [makeRun('a', { status: 'FINISHED', metrics: { acc: 2 } })];
    await model.refresh();
    expect(model.selectedDetails[0].run.status).toBe('FINISHED');
    const calls = client.getRunCalls.length;
    await model.refresh();
    expect(client.getRunCalls).toHaveLength(calls);
  });
});

describe('mapLimit', () => {
  it('keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6], 2, async n => {
      running++;
      peak = Math.max(peak, running);
      await new Promise(resolve => setTimeout(resolve, 5));
      running--;
      return n * 10;
    });
    expect(out).toEqual([10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(2);
  });
});

describe('RunsModel experiments', () => {
  it('picks up experiments created after the panel started', async () => {
    const client = new FakeClient();
    const model = new RunsModel({ client });
    await model.start();
    client.experiments = async () => [
      { experiment_id: '1', name: 'e2e' },
      { experiment_id: '2', name: 'new' }
    ];
    await model.refresh();
    expect(model.experiments.map(e => e.name)).toEqual(['e2e', 'new']);
  });
});
