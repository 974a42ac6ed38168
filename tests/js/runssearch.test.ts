import { ApiError } from '../../labextension/src/api/client';
import type { IRunsClient } from '../../labextension/src/api/runs';
import type {
  IChildrenSummary,
  IExperiment,
  IHealth,
  IMetricHistory,
  IRunSummary,
  IRunsPage,
  IRunsQuery
} from '../../labextension/src/api/types';
import {
  bestClause,
  columnPriority,
  describeFilter,
  formatChildStatuses,
  isNested,
  parseUserColumn,
  userColumn,
  userColumnIds,
  userColumnValue
} from '../../labextension/src/runs/columns';
import {
  DEFAULT_FILTER,
  DEFAULT_SORT,
  visibleColumns
} from '../../labextension/src/runs/logic';
import { RunsModel } from '../../labextension/src/runs/model';
import { parseSettings } from '../../labextension/src/settings';
import { makeRun } from './fixtures';

const PARENT = 'mlflow.parentRunId';

/** A store behind `IRunsClient` that knows parents, children and a bad search. */
class NestingClient implements IRunsClient {
  runs: IRunSummary[] = [];
  queries: IRunsQuery[] = [];

  async health(): Promise<IHealth> {
    return { version: '0', tracking_uri: 'sqlite:///x.db', project: 'p' };
  }

  async experiments(): Promise<IExperiment[]> {
    return [{ experiment_id: '1', name: 'e' }];
  }

  async searchRuns(query: IRunsQuery): Promise<IRunsPage> {
    this.queries.push(query);
    if (query.q?.includes('=>')) {
      throw new ApiError({
        kind: 'http',
        status: 400,
        error: 'UsageError',
        message: 'The search does not parse',
        hint: 'Type lr=0.3'
      });
    }
    const runs = this.runs.filter(run => {
      const parent = run.tags[PARENT];
      if (query.parent) {
        return parent === query.parent;
      }
      if (query.top_level && parent) {
        return false;
      }
      return !query.q || run.run_name.includes(query.q);
    });
    const page: IRunsPage = { runs, next_page_token: null };
    if (query.top_level) {
      page.children = {};
      for (const run of runs) {
        const kids = this.runs.filter(r => r.tags[PARENT] === run.run_id);
        if (kids.length) {
          page.children[run.run_id] = {
            count: kids.length,
            statuses: { FINISHED: kids.length },
            best: null
          };
        }
      }
    }
    return page;
  }

  async getRun(runId: string): Promise<IRunSummary> {
    const run = this.runs.find(r => r.run_id === runId);
    if (!run) {
      throw new ApiError({ kind: 'http', status: 404, message: 'no run' });
    }
    return run;
  }

  async metricHistory(runId: string, key: string): Promise<IMetricHistory> {
    return { run_id: runId, key, points: [] };
  }
}

function seeded(): NestingClient {
  const client = new NestingClient();
  client.runs = [
    makeRun('sweep', { run_name: 'sweep' }),
    makeRun('t1', { run_name: 'trial-1', tags: { [PARENT]: 'sweep' } }),
    makeRun('t2', { run_name: 'trial-2', tags: { [PARENT]: 'sweep' } }),
    makeRun('solo', { run_name: 'baseline', metrics: { accuracy: 0.9 } })
  ];
  return client;
}

describe('user columns', () => {
  it('parses metrics., params. and tags. ids and nothing else', () => {
    expect(parseUserColumn('metrics.val/loss')).toEqual({
      kind: 'metrics',
      key: 'val/loss'
    });
    expect(parseUserColumn('params.lr')?.kind).toBe('params');
    expect(parseUserColumn('status')).toBeNull();
    expect(parseUserColumn('metrics.')).toBeNull();
    expect(userColumnIds(['params.lr', 'x', 'params.lr', 'tags.epic'])).toEqual(
      ['params.lr', 'tags.epic']
    );
    expect(userColumn('metrics.acc')?.sortKey).toBe('metrics.acc');
  });

  it('come right after the run name, sortable by their id', () => {
    const ids = visibleColumns(['status', 'start_time', 'metrics.acc']).map(
      c => c.id
    );
    expect(ids).toEqual(['status', 'run_name', 'metrics.acc', 'start_time']);
  });

  it('read the value of their kind', () => {
    const run = makeRun('a', {
      metrics: { acc: 0.5, nan: null },
      params: { lr: '0.1' },
      tags: { epic: 'X' }
    });
    expect(userColumnValue(run, { kind: 'metrics', key: 'acc' })).toBe(0.5);
    expect(userColumnValue(run, { kind: 'metrics', key: 'nan' })).toBeNull();
    expect(userColumnValue(run, { kind: 'params', key: 'lr' })).toBe('0.1');
    expect(userColumnValue(run, { kind: 'tags', key: 'no' })).toBeUndefined();
  });

  it('collapse by priority: status, name and sort column last', () => {
    const [status, name, acc, start, notebook] = visibleColumns([
      'status',
      'metrics.acc',
      'start_time',
      'notebook'
    ]);
    const byStart = [status, name, acc, start, notebook].map(c =>
      columnPriority(c, 'start_time')
    );
    expect(byStart).toEqual([1, 1, 2, 1, 4]);
    const byAcc = [status, name, acc, start, notebook].map(c =>
      columnPriority(c, 'metrics.acc')
    );
    expect(byAcc).toEqual([1, 1, 1, 3, 4]);
    const [envHash] = visibleColumns(['env_hash']).filter(
      c => c.id === 'env_hash'
    );
    expect(columnPriority(envHash, 'start_time')).toBe(2); // opted in
    expect(columnPriority(envHash, envHash.sortKey ?? '')).toBe(1);
  });

  it('come from the settings as well as the built-in columns', () => {
    const settings = parseSettings({
      visibleColumns: ['status', 'run_name'],
      columns: ['metrics.accuracy', 'bogus', 'params.lr']
    });
    expect(settings.columns).toEqual(['metrics.accuracy', 'params.lr']);
    expect(settings.visibleColumns).toEqual([
      'status',
      'run_name',
      'metrics.accuracy',
      'params.lr'
    ]);
  });
});

describe('parent summaries and filters in words', () => {
  it('counts child statuses and names the best metric', () => {
    const summary: IChildrenSummary = {
      count: 4,
      statuses: { FINISHED: 3, FAILED: 1 },
      best: null
    };
    expect(formatChildStatuses(summary)).toBe('3 \u2713 1 \u2717');
    expect(bestClause(DEFAULT_SORT, ['params.lr', 'metrics.acc'])).toBe(
      'metrics.acc DESC'
    );
    expect(bestClause(DEFAULT_SORT, ['metrics.val_loss'])).toBe(
      'metrics.val_loss ASC'
    );
    expect(
      bestClause({ key: 'metrics.acc', direction: 'DESC' }, ['metrics.f1'])
    ).toBeUndefined();
    expect(bestClause(DEFAULT_SORT, ['metrics.a b'])).toBe(
      'metrics.`a b` DESC'
    );
  });

  it('nests only an unfiltered list and describes the filters', () => {
    expect(isNested(DEFAULT_FILTER)).toBe(true);
    const filtered = {
      ...DEFAULT_FILTER,
      search: 'lr=0.3',
      status: 'FAILED' as const
    };
    expect(isNested(filtered)).toBe(false);
    expect(describeFilter(filtered)).toBe('lr=0.3, status failed');
    expect(describeFilter(DEFAULT_FILTER)).toBe('');
  });
});

describe('RunsModel search, nesting and columns', () => {
  it('keeps the list and explains a refused search, then recovers', async () => {
    const client = seeded();
    const model = new RunsModel({ client });
    await model.start();
    await model.setFilter({ search: 'base' });
    expect(model.runs.map(r => r.run_id)).toEqual(['solo']);
    await model.setFilter({ search: 'lr=>1' });
    expect(model.searchError?.message).toBe('The search does not parse');
    expect(model.searchError?.hint).toBe('Type lr=0.3');
    expect(model.error).toBeNull();
    expect(model.runs.map(r => r.run_id)).toEqual(['solo']);
    expect(model.searchInput).toBe('lr=>1');
    expect(model.filter.search).toBe('base');
    await model.refresh();
    expect(client.queries.at(-1)?.q).toBe('base');
    await model.setFilter({ search: 'trial' });
    expect(model.searchError).toBeNull();
    expect(model.runs.map(r => r.run_id)).toEqual(['t1', 't2']);
  });

  it('unselects a run the new filter no longer lists', async () => {
    const client = seeded();
    const model = new RunsModel({ client });
    await model.start();
    await model.select('solo');
    expect(model.selectedDetails).toHaveLength(1);
    await model.setFilter({ search: 'nothing-matches' });
    expect(model.runs).toEqual([]);
    expect(model.selection).toEqual([]);
    expect(model.selectedDetails).toEqual([]);
  });

  it('lists top-level runs and expands a parent to its children', async () => {
    const client = seeded();
    const model = new RunsModel({ client });
    await model.start();
    expect(model.runs.map(r => r.run_id)).toEqual(['sweep', 'solo']);
    expect(model.nesting.summaries.get('sweep')?.count).toBe(2);
    expect(model.nesting.summaries.has('solo')).toBe(false);
    await model.nesting.toggle('sweep', 'start_time DESC');
    expect(model.nesting.isExpanded('sweep')).toBe(true);
    expect(model.nesting.runs.get('sweep')?.map(r => r.run_id)).toEqual([
      't1',
      't2'
    ]);
    expect(client.queries.at(-1)).toMatchObject({ parent: 'sweep' });
    client.runs.push(
      makeRun('t3', { run_name: 'trial-3', tags: { [PARENT]: 'sweep' } })
    );
    await model.refresh();
    expect(model.nesting.runs.get('sweep')).toHaveLength(3);
    expect(model.nesting.summaries.get('sweep')?.count).toBe(3);
    await model.nesting.toggle('sweep', 'start_time DESC');
    expect(model.nesting.isExpanded('sweep')).toBe(false);
    // a search lists flat: children and all, no summaries
    await model.setFilter({ search: 'trial' });
    expect(client.queries.at(-1)?.top_level).toBeUndefined();
    expect(model.nesting.summaries.size).toBe(0);
  });

  it('adds and removes columns and asks for the best of the first metric column', async () => {
    const client = seeded();
    const model = new RunsModel({ client });
    let changes = 0;
    model.changed.connect(() => changes++);
    model.setBaseColumns(['params.lr', 'status']);
    expect(model.columns).toEqual(['params.lr']);
    expect(model.addColumn('metrics.accuracy')).toBe(true);
    expect(model.addColumn('metrics.accuracy')).toBe(true);
    expect(model.addColumn('accuracy')).toBe(false);
    expect(model.columns).toEqual(['params.lr', 'metrics.accuracy']);
    expect(changes).toBe(2);
    await model.start();
    expect(client.queries.at(-1)?.best).toBe('metrics.accuracy DESC');
    model.removeColumn('metrics.accuracy');
    expect(model.columns).toEqual(['params.lr']);
  });
});
