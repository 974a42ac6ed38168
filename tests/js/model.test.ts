import {
  appendPage,
  buildRunsQuery,
  DEFAULT_FILTER,
  DEFAULT_SORT,
  diffMetrics,
  diffParams,
  mergeHead,
  mergeHistories,
  metricKeys,
  normalizeHistory,
  orderByClause,
  paramKeys,
  replaceRuns,
  seriesPoints,
  toggleSort,
  visibleColumns
} from '../../labextension/src/runs/logic';
import type { IMetricPoint } from '../../labextension/src/api/types';
import { makeRun } from './fixtures';

const points = (...pairs: [number, number | null, number?][]): IMetricPoint[] =>
  pairs.map(([step, value, timestamp]) => ({
    step,
    value,
    timestamp: timestamp ?? step * 1000
  }));

describe('visibleColumns', () => {
  it('keeps table order, drops unknown ids and always shows the run name', () => {
    const ids = visibleColumns(['metrics', 'bogus', 'status']).map(c => c.id);
    expect(ids).toEqual(['status', 'run_name', 'metrics']);
  });

  it('marks only server-sortable columns with a sort key', () => {
    const sortable = visibleColumns(['status', 'start_time', 'duration'])
      .filter(c => c.sortKey)
      .map(c => c.sortKey);
    expect(sortable).toEqual(['status', 'run_name', 'start_time']);
  });
});

describe('sorting', () => {
  it('flips the direction when the same column is chosen again', () => {
    const once = toggleSort(DEFAULT_SORT, 'start_time');
    expect(once).toEqual({ key: 'start_time', direction: 'ASC' });
    expect(toggleSort(once, 'start_time').direction).toBe('DESC');
  });

  it('starts names ascending and metrics descending', () => {
    expect(toggleSort(DEFAULT_SORT, 'run_name')).toEqual({
      key: 'run_name',
      direction: 'ASC'
    });
    expect(toggleSort(DEFAULT_SORT, 'metrics.acc').direction).toBe('DESC');
    expect(toggleSort(DEFAULT_SORT, 'params.lr').direction).toBe('ASC');
  });

  it('writes order_by, quoting keys that are not identifiers', () => {
    expect(orderByClause({ key: 'start_time', direction: 'DESC' })).toBe(
      'start_time DESC'
    );
    expect(orderByClause({ key: 'metrics.acc', direction: 'ASC' })).toBe(
      'metrics.acc ASC'
    );
    expect(orderByClause({ key: 'metrics.val loss', direction: 'DESC' })).toBe(
      'metrics.`val loss` DESC'
    );
    expect(orderByClause({ key: 'params.a/b', direction: 'ASC' })).toBe(
      'params.`a/b` ASC'
    );
  });
});

describe('buildRunsQuery', () => {
  it('sends only the filters that are set', () => {
    expect(buildRunsQuery(DEFAULT_FILTER, DEFAULT_SORT, 100)).toEqual({
      order_by: 'start_time DESC',
      max_results: 100
    });
  });

  it('maps every filter, the sort and the page token', () => {
    const query = buildRunsQuery(
      { experimentId: '7', search: '  resnet  ', status: 'RUNNING' },
      { key: 'metrics.acc', direction: 'DESC' },
      50,
      'tok-2'
    );
    expect(query).toEqual({
      experiment_id: '7',
      status: 'RUNNING',
      q: 'resnet',
      order_by: 'metrics.acc DESC',
      max_results: 50,
      page_token: 'tok-2'
    });
  });

  it('keeps search and page size within the server limits', () => {
    const query = buildRunsQuery(
      { ...DEFAULT_FILTER, search: 'x'.repeat(1500) },
      DEFAULT_SORT,
      5000
    );
    expect(query.q).toHaveLength(1000);
    expect(query.max_results).toBe(1000);
    expect(buildRunsQuery(DEFAULT_FILTER, DEFAULT_SORT, 0).max_results).toBe(1);
  });
});

describe('paging merges', () => {
  const a = makeRun('a');
  const b = makeRun('b');
  const c = makeRun('c');
  const d = makeRun('d');

  it('appends a page without duplicating runs already loaded', () => {
    expect(appendPage([a, b], [b, c]).map(r => r.run_id)).toEqual([
      'a',
      'b',
      'c'
    ]);
  });

  it('puts a new run at the head and keeps the loaded tail', () => {
    const merged = mergeHead([a, b, c, d], [makeRun('new'), a], false);
    expect(merged.map(r => r.run_id)).toEqual(['new', 'a', 'c', 'd']);
  });

  it('replaces everything when the fresh page is the whole result', () => {
    expect(mergeHead([a, b, c], [c], true).map(r => r.run_id)).toEqual(['c']);
  });

  it('replaces runs by id with their newer versions', () => {
    const finished = makeRun('b', { status: 'FINISHED', run_name: 'done' });
    const list = replaceRuns(
      [a, makeRun('b', { status: 'RUNNING' })],
      [finished]
    );
    expect(list[1]).toBe(finished);
    expect(list[0]).toBe(a);
  });
});

describe('diffParams', () => {
  const runs = [
    makeRun('1', { params: { lr: '0.1', depth: '3', seed: '1' } }),
    makeRun('2', { params: { lr: '0.01', depth: '3', seed: '1' } }),
    makeRun('3', { params: { lr: '0.1', depth: '3' } })
  ];

  it('lists every param once, values in run order, differing rows flagged', () => {
    const rows = diffParams(runs);
    expect(rows.map(r => r.key)).toEqual(['depth', 'lr', 'seed']);
    expect(rows.find(r => r.key === 'lr')).toEqual({
      key: 'lr',
      values: ['0.1', '0.01', '0.1'],
      differs: true
    });
    expect(rows.find(r => r.key === 'depth')?.differs).toBe(false);
  });

  it('counts a param missing from one run as a difference', () => {
    const seed = diffParams(runs).find(r => r.key === 'seed');
    expect(seed?.values).toEqual(['1', '1', undefined]);
    expect(seed?.differs).toBe(true);
  });

  it('can keep only the differing rows', () => {
    expect(diffParams(runs, true).map(r => r.key)).toEqual(['lr', 'seed']);
  });

  it('does not mistake an empty string for a missing value', () => {
    const rows = diffParams([
      makeRun('x', { params: { tag: '' } }),
      makeRun('y', { params: {} })
    ]);
    expect(rows[0].differs).toBe(true);
  });

  it('compares latest metrics the same way', () => {
    const rows = diffMetrics([
      makeRun('1', { metrics: { acc: 0.5 } }),
      makeRun('2', { metrics: { acc: 0.5, loss: 1 } })
    ]);
    expect(rows).toEqual([
      { key: 'acc', values: [0.5, 0.5], differs: false },
      { key: 'loss', values: [undefined, 1], differs: true }
    ]);
  });

  it('collects metric and param keys in natural order', () => {
    const list = [
      makeRun('1', { metrics: { loss10: 1, loss2: 2 }, params: { b: '1' } }),
      makeRun('2', { metrics: { acc: 1 }, params: { a: '1' } })
    ];
    expect(metricKeys(list)).toEqual(['acc', 'loss2', 'loss10']);
    expect(paramKeys(list)).toEqual(['a', 'b']);
  });
});

describe('metric histories', () => {
  it('orders points by step and keeps the last value of a repeated step', () => {
    const normalized = normalizeHistory(
      points([2, 0.7], [1, 0.5, 100], [1, 0.55, 200])
    );
    expect(normalized.map(p => [p.step, p.value])).toEqual([
      [1, 0.55],
      [2, 0.7]
    ]);
  });

  it('aligns the curves of several runs on the union of their steps', () => {
    const overlay = mergeHistories([
      { runId: 'a', label: 'A', points: points([1, 0.5], [2, 0.7]) },
      { runId: 'b', label: 'B', points: points([2, 0.6], [3, 0.8]) }
    ]);
    expect(overlay.xAxis).toBe('step');
    expect(overlay.x).toEqual([1, 2, 3]);
    expect(overlay.series).toEqual([
      { runId: 'a', label: 'A', values: [0.5, 0.7, null] },
      { runId: 'b', label: 'B', values: [null, 0.6, 0.8] }
    ]);
    expect(seriesPoints(overlay, 1)).toEqual([
      { x: 2, y: 0.6 },
      { x: 3, y: 0.8 }
    ]);
  });

  it('places metrics logged without steps by their order in time', () => {
    const overlay = mergeHistories([
      {
        runId: 'a',
        label: 'A',
        points: points([0, 3, 30], [0, 1, 10], [0, 2, 20])
      }
    ]);
    expect(overlay.xAxis).toBe('index');
    expect(overlay.x).toEqual([0, 1, 2]);
    expect(overlay.series[0].values).toEqual([1, 2, 3]);
  });

  it('drops non-finite values (sent as null) from the curves', () => {
    const overlay = mergeHistories([
      { runId: 'a', label: 'A', points: points([1, 0.5], [2, null], [3, 0.9]) }
    ]);
    expect(overlay.x).toEqual([1, 3]);
    expect(seriesPoints(overlay, 0)).toEqual([
      { x: 1, y: 0.5 },
      { x: 3, y: 0.9 }
    ]);
  });

  it('keeps a run without points as an empty series', () => {
    const overlay = mergeHistories([
      { runId: 'a', label: 'A', points: points([5, 1]) },
      { runId: 'b', label: 'B', points: [] }
    ]);
    expect(overlay.series[1].values).toEqual([null]);
    expect(seriesPoints(overlay, 1)).toEqual([]);
  });
});
