import { json, subjectClientWith } from './fixtures';
import {
  CostClient,
  type CostRange,
  type ICostClient,
  type ICostHistory,
  type ICostReport,
  type ICostStatus,
  type ICostTarget
} from '../../labextension/src/api/cost';
import { uniqueSuffixes } from '../../labextension/src/common/format';
import { CostModel } from '../../labextension/src/cost/model';
import { reportRows } from '../../labextension/src/cost/ReportTable';
import {
  CostTimeline,
  groupingParam,
  groupLabels,
  type ICostGrouping
} from '../../labextension/src/cost/series';

const BY_NOTEBOOK: ICostGrouping = { by: 'notebook', tagKey: '' };

/** A kernel of `notebook` whose cost so far is `soFar`. */
function kernel(id: string, notebook: string, soFar: number): ICostTarget {
  return {
    target_id: id,
    kernel_id: id,
    notebook,
    project: 'p',
    user: 'ana',
    time: 0,
    alive: true,
    cpu_percent: 10,
    rss_bytes: 1,
    gpus: [],
    cost: {
      target_id: id,
      time: 0,
      currency: 'USD',
      rate_per_hour: 1,
      cost_so_far: soFar
    }
  };
}

function status(time: number, targets: ICostTarget[]): ICostStatus {
  return {
    time,
    currency: 'USD',
    targets: Object.fromEntries(targets.map(t => [t.target_id, t])),
    alerts: []
  };
}

/**
 * One hour in minutes from 0 to 180 s: `a/train.ipynb` spent 1 in the first
 * minute and 2 in the third, `b/train.ipynb` 4 in the second.
 */
function history(overrides: Partial<ICostHistory> = {}): ICostHistory {
  return {
    range: '1h',
    by: 'notebook',
    step: 60,
    since: 0,
    until: 150,
    currency: 'USD',
    buckets: [0, 60, 120],
    series: [
      {
        key: 'b/train.ipynb',
        values: [0, 4, 0],
        total: 4
      },
      {
        key: 'a/train.ipynb',
        values: [1, 0, 2],
        total: 3
      }
    ],
    ...overrides
  };
}

describe('notebook labels', () => {
  it('keeps the shortest path suffix that tells notebooks apart', () => {
    const labels = uniqueSuffixes([
      'a/train.ipynb',
      'b/train.ipynb',
      'eval.ipynb',
      'x/deep/prep.ipynb',
      'y/deep/prep.ipynb',
      'a/train.ipynb'
    ]);
    expect([...labels]).toEqual([
      ['a/train.ipynb', 'a/train.ipynb'],
      ['b/train.ipynb', 'b/train.ipynb'],
      ['eval.ipynb', 'eval.ipynb'],
      ['x/deep/prep.ipynb', 'x/deep/prep.ipynb'],
      ['y/deep/prep.ipynb', 'y/deep/prep.ipynb']
    ]);
    expect(
      uniqueSuffixes(['nb/a/train.ipynb', 'c.ipynb']).get('nb/a/train.ipynb')
    ).toBe('train.ipynb');
    // A notebook at the root and one of the same name in a folder.
    const root = uniqueSuffixes(['train.ipynb', 'old/train.ipynb']);
    expect(root.get('train.ipynb')).toBe('train.ipynb');
    expect(root.get('old/train.ipynb')).toBe('old/train.ipynb');
  });

  it('names the groups of each grouping', () => {
    expect(groupingParam({ by: 'project', tagKey: 'x' })).toBe('project');
    expect(groupingParam({ by: 'tag', tagKey: ' epic ' })).toBe('tag:epic');
    expect(groupingParam({ by: 'tag', tagKey: ' ' })).toBeNull();
    const labels = groupLabels(
      ['deep/a.ipynb', '(none)', '(other)', 'b.ipynb'],
      'notebook'
    );
    expect(labels.get('deep/a.ipynb')).toBe('a.ipynb');
    expect(labels.get('(none)')).toBe('(no notebook)');
    expect(labels.get('(other)')).toBe('(other)');
    expect(groupLabels(['(none)', 'E-1'], 'tag').get('(none)')).toBe(
      '(no tag)'
    );
  });
});

describe('CostTimeline', () => {
  it('draws the ledger cumulatively, ending at the last bucket at until', () => {
    const timeline = new CostTimeline();
    timeline.setHistory(history());
    const series = timeline.stacked(BY_NOTEBOOK);
    expect(series.times).toEqual([0, 60_000, 120_000, 150_000]);
    expect(series.liveFrom).toBe(150_000);
    expect(series.groups).toEqual([
      { key: 'b/train.ipynb', label: 'b/train.ipynb', values: [0, 0, 4, 4] },
      { key: 'a/train.ipynb', label: 'a/train.ipynb', values: [0, 1, 1, 3] }
    ]);
  });

  it('appends the live cost that arrives after the ledger', () => {
    const timeline = new CostTimeline();
    timeline.setHistory(history());
    // Before `until`: only a baseline (the ledger has that minute).
    expect(timeline.add(status(140, [kernel('k1', 'a/train.ipynb', 10)]))).toBe(
      true
    );
    timeline.add(status(160, [kernel('k1', 'a/train.ipynb', 10.5)]));
    timeline.add(
      status(170, [
        kernel('k1', 'a/train.ipynb', 11),
        kernel('k2', 'c.ipynb', 7) // first seen: its baseline
      ])
    );
    timeline.add(
      status(180, [
        kernel('k1', 'a/train.ipynb', 11),
        kernel('k2', 'c.ipynb', 7.25)
      ])
    );
    expect(timeline.add(status(180, []))).toBe(false); // same tick
    const series = timeline.stacked(BY_NOTEBOOK);
    expect(series.times).toEqual([
      0, 60_000, 120_000, 150_000, 160_000, 170_000, 180_000
    ]);
    const values = Object.fromEntries(
      series.groups.map(g => [g.key, g.values])
    );
    expect(values['a/train.ipynb']).toEqual([0, 1, 1, 3, 3.5, 4, 4]);
    expect(values['b/train.ipynb']).toEqual([0, 0, 4, 4, 4, 4, 4]);
    expect(values['c.ipynb']).toEqual([0, 0, 0, 0, 0, 0, 0.25]);
    expect(series.groups.map(g => g.key)).toEqual([
      'a/train.ipynb',
      'b/train.ipynb',
      'c.ipynb'
    ]);

    // A newer history covers those ticks: they are dropped, not counted twice.
    timeline.setHistory(history({ until: 175 }));
    const again = timeline.stacked(BY_NOTEBOOK);
    expect(again.times[again.times.length - 1]).toBe(180_000);
    expect(again.times.filter(t => t > 175_000)).toHaveLength(1);
  });

  it('adds live cost of unnamed groups to (other), and none for tags', () => {
    const timeline = new CostTimeline();
    const withOther = history();
    withOther.series.push({
      key: '(other)',
      values: [0.5, 0, 0],
      total: 0.5
    });
    timeline.setHistory(withOther);
    timeline.add(status(151, [kernel('k9', 'z.ipynb', 1)]));
    timeline.add(status(152, [kernel('k9', 'z.ipynb', 3)]));
    const byNotebook = timeline.stacked(BY_NOTEBOOK);
    const other = byNotebook.groups.find(g => g.key === '(other)');
    expect(other?.values[other.values.length - 1]).toBe(2.5);
    expect(byNotebook.groups.map(g => g.key)).not.toContain('z.ipynb');

    const byTag = timeline.stacked({ by: 'tag', tagKey: 'epic' });
    expect(byTag.times).toEqual([0, 60_000, 120_000, 150_000]);
  });

  it('is live only without a history, grouped by project or user', () => {
    const timeline = new CostTimeline({ limit: 3 });
    for (let t = 1; t <= 5; t++) {
      timeline.add(status(t, [kernel('k', 'n.ipynb', t)]));
    }
    expect(timeline.length).toBe(3);
    const series = timeline.stacked({ by: 'project', tagKey: '' });
    expect(series.liveFrom).toBeNull();
    expect(series.times).toEqual([3000, 4000, 5000]);
    expect(series.groups).toEqual([
      { key: 'p', label: 'p', values: [1, 2, 3] }
    ]);
    timeline.clear();
    expect(timeline.stacked(BY_NOTEBOOK).groups).toEqual([]);
  });
});

describe('report table rows', () => {
  const report: ICostReport = {
    by: 'tag:epic',
    groups: ['tag:epic'],
    since: null,
    until: null,
    currency: 'USD',
    rows: [
      { 'tag:epic': 'E-12', cost: 2.5, used_cost: 1, waste: 1.5, hours: 3 },
      { 'tag:epic': '(none)', cost: 0.5, cpu_core_hours: 0.25 }
    ],
    total: { cost: 3 }
  };

  it('reads each group under its grouping key', () => {
    const rows = reportRows(report, { by: 'tag', tagKey: 'epic' });
    expect(rows).toEqual([
      {
        key: 'E-12',
        label: 'E-12',
        cost: 2.5,
        used: 1,
        waste: 1.5,
        cpuCoreHours: 0,
        hours: 3,
        co2eG: 0
      },
      {
        key: '(none)',
        label: '(no tag)',
        cost: 0.5,
        used: 0,
        waste: 0,
        cpuCoreHours: 0.25,
        hours: 0,
        co2eG: 0
      }
    ]);
    expect(reportRows(null, BY_NOTEBOOK)).toEqual([]);
    // Without `groups` (an older server), the key named by `by`.
    const old = { ...report, groups: undefined, by: 'notebook' };
    old.rows = [{ notebook: 'x/a.ipynb', cost: 1 }];
    expect(reportRows(old, BY_NOTEBOOK)[0].label).toBe('a.ipynb');
  });
});

describe('cost history client and model', () => {
  it('asks the history route for a range and grouping', async () => {
    const { client, urls } = subjectClientWith(CostClient, () =>
      json(history())
    );
    const answer = await client.history({ range: '7d', by: 'tag:epic' });
    expect(answer.step).toBe(60);
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/cost/history');
    expect(urls[0].searchParams.get('range')).toBe('7d');
    expect(urls[0].searchParams.get('by')).toBe('tag:epic');
  });

  function fake() {
    const asked: { history: string[]; report: string[] } = {
      history: [],
      report: []
    };
    let fail = false;
    const client: ICostClient = {
      status: async () => status(200, [kernel('k', 'a/train.ipynb', 1)]),
      budgets: async () => [],
      report: async ({ by, since }) => {
        asked.report.push(`${by}@${since}`);
        return {
          by: by ?? '',
          groups: [by ?? ''],
          since: null,
          until: null,
          currency: 'USD',
          rows: [{ [by ?? '']: 'x', cost: 1 }],
          total: {}
        };
      },
      history: async ({ range, by }: { range: CostRange; by: string }) => {
        asked.history.push(`${by}@${range}`);
        if (fail) {
          throw new Error('ledger locked');
        }
        return history({ range, by });
      }
    };
    return { client, asked, failNext: () => (fail = true) };
  }

  it('reads the history with the status, and again when the choice changes', async () => {
    const { client, asked, failNext } = fake();
    const model = new CostModel({ client });
    await model.load();
    await model.loadHistory(); // settles the one the load started
    expect(asked.history).toEqual(['notebook@1h', 'notebook@1h']);
    expect(asked.report).toEqual(['notebook@1h', 'notebook@1h']);
    expect(model.timeline.history?.until).toBe(150);
    expect(model.report?.rows).toHaveLength(1);

    // Not due again within the history interval.
    await model.load();
    expect(asked.history).toHaveLength(2);

    model.range = '30d';
    expect(model.timeline.history).toBeNull(); // never drawn as another range
    model.grouping = { by: 'tag', tagKey: '' }; // no key yet: nothing asked
    model.grouping = { by: 'tag', tagKey: ' epic ' };
    await model.loadHistory();
    expect(asked.history.slice(2)).toEqual([
      'notebook@30d',
      'tag:epic@30d',
      'tag:epic@30d'
    ]);
    expect(model.grouping).toEqual({ by: 'tag', tagKey: 'epic' });
    expect(model.timeline.history?.by).toBe('tag:epic');

    failNext();
    await model.loadHistory();
    expect(model.historyError?.message).toContain('ledger locked');
    expect(model.historyLoading).toBe(false);
    model.dispose();
  });
});
