import { json, subjectClientWith } from './fixtures';
import {
  budgetList,
  COST_ROUTE_MISSING_MESSAGE,
  CostClient,
  type IBudgetStatus,
  type ICostAdvice,
  type ICostClient,
  type ICostStatus,
  type ICostTarget,
  normalizeStatus
} from '../../labextension/src/api/cost';
import { isRouteMissing } from '../../labextension/src/api/client';
import {
  clockTime,
  formatBytes,
  formatMoney,
  formatPercent,
  formatRate
} from '../../labextension/src/common/format';
import {
  adviceSentence,
  budgetBar,
  costRows,
  costTotals,
  kernelRow,
  statusText,
  wasteItems
} from '../../labextension/src/cost/logic';
import { CostModel } from '../../labextension/src/cost/model';

const httpClient = (
  handler: (url: URL) => Response
): { client: CostClient; urls: URL[] } =>
  subjectClientWith(CostClient, handler);

function target(
  id: string,
  options: Partial<ICostTarget> & { rate?: number; soFar?: number } = {}
): ICostTarget {
  const { rate, soFar, ...rest } = options;
  return {
    target_id: id,
    kernel_id: id,
    notebook: `${id}.ipynb`,
    project: 'p',
    user: 'ana',
    time: 100,
    alive: true,
    cpu_percent: 50,
    rss_bytes: 1024 * 1024 * 300,
    gpus: [],
    cost:
      rate === undefined
        ? undefined
        : {
            target_id: id,
            time: 100,
            currency: 'USD',
            rate_per_hour: rate,
            cost_so_far: soFar ?? 0
          },
    ...rest
  };
}

function status(
  time: number | null,
  targets: ICostTarget[],
  extra: Partial<ICostStatus> = {}
): ICostStatus {
  return {
    time,
    currency: 'USD',
    targets: Object.fromEntries(targets.map(t => [t.target_id, t])),
    alerts: [],
    ...extra
  };
}

describe('formatting', () => {
  it('formats money with symbols, grouping and small amounts', () => {
    expect(formatMoney(0.42)).toBe('$0.42');
    expect(formatMoney(1234.5, 'EUR')).toBe('€1,234.50');
    expect(formatMoney(12.4, 'chf')).toBe('12.40 CHF');
    expect(formatMoney(0)).toBe('$0.00');
    expect(formatMoney(0.0042)).toBe('$0.0042');
    expect(formatMoney(0.000314)).toBe('$0.00031');
    expect(formatMoney(-2)).toBe('-$2.00');
    expect(formatMoney(null)).toBe('—');
    expect(formatMoney(NaN)).toBe('—');
  });

  it('formats rates, bytes and percentages', () => {
    expect(formatRate(2.1)).toBe('$2.10/h');
    expect(formatRate(undefined)).toBe('—');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(200 * 1024 ** 2)).toBe('200 MiB');
    expect(formatBytes(null)).toBe('—');
    expect(formatPercent(37.4)).toBe('37%');
    expect(formatPercent(0.5)).toBe('0.5%');
    expect(formatPercent(null)).toBe('—');
  });

  it('writes clock times in the browser zone', () => {
    const epoch = new Date(2026, 0, 2, 14, 2, 30).getTime() / 1000;
    expect(clockTime(epoch)).toBe('14:02');
    expect(clockTime(epoch, true)).toBe('14:02:30');
  });
});

describe('kernel rows', () => {
  const s = status(100, [
    target('a', { rate: 0.5, soFar: 1 }),
    target('b', {
      rate: 2.1,
      soFar: 0.42,
      gpus: [
        {
          key: '0',
          index: 0,
          model: 'H100',
          memory_total: 80e9,
          mem_bytes: 1000,
          util_pct: 3
        },
        {
          key: '1',
          index: 1,
          model: 'H100',
          memory_total: 80e9,
          mem_bytes: 500,
          util_pct: null
        }
      ]
    }),
    target('c')
  ]);

  it('sorts by rate and sums GPUs', () => {
    const rows = costRows(s);
    expect(rows.map(r => r.kernelId)).toEqual(['b', 'a', 'c']);
    expect(rows[0].gpuUtil).toBe(3);
    expect(rows[0].gpuMemBytes).toBe(1500);
    expect(rows[0].gpuCount).toBe(2);
    expect(rows[1].gpuUtil).toBeNull();
    expect(rows[2].rate).toBeNull();
    expect(costTotals(rows)).toEqual({ rate: 2.6, soFar: 1.42 });
    expect(costRows(null)).toEqual([]);
  });

  it('finds a kernel by target id or kernel id', () => {
    expect(statusText(kernelRow(s, 'b')!)).toBe('$0.42 · $2.10/h');
    const other = status(1, [
      { ...target('t1', { rate: 1 }), kernel_id: 'k9' }
    ]);
    expect(kernelRow(other, 'k9')?.targetId).toBe('t1');
    expect(kernelRow(other, 'nope')).toBeNull();
    expect(kernelRow(null, 'k9')).toBeNull();
  });
});

describe('waste', () => {
  it('lists alerts, most burned first, with browser-time messages', () => {
    const since = new Date(2026, 0, 2, 14, 2).getTime() / 1000;
    const s = status(100, [target('a'), target('b')], {
      alerts: [
        {
          kind: 'idle-gpu',
          target_id: 'a',
          since,
          burned: 0.5,
          currency: 'USD',
          actions: ['interrupt', 'shutdown', 'dismiss']
        },
        {
          kind: 'idle-gpu',
          target_id: 'b',
          since,
          burned: 3.2,
          currency: 'USD',
          actions: ['shutdown']
        }
      ]
    });
    const items = wasteItems(s);
    expect(items.map(i => i.kernelId)).toEqual(['b', 'a']);
    expect(items[0].message).toBe('idle GPU: $3.20 burned since 14:02');
    expect(items[0].notebook).toBe('b.ipynb');
    expect(items[0].canInterrupt).toBe(false);
    expect(items[1].canInterrupt).toBe(true);
    expect(costRows(s).every(r => r.wasting)).toBe(true);
  });
});

describe('budgets', () => {
  const budget = (spent: number, amount = 50): IBudgetStatus => ({
    project: 'p',
    amount,
    period: 'month',
    spent,
    fraction: spent / amount,
    currency: 'USD'
  });

  it('turns spend into bar width and level', () => {
    expect(budgetBar(budget(10))).toMatchObject({ width: 20, level: 'ok' });
    expect(budgetBar(budget(42))).toMatchObject({
      level: 'warn',
      label: '$42.00 of $50.00 this month (84%)'
    });
    expect(budgetBar(budget(75))).toMatchObject({ width: 100, level: 'over' });
    expect(budgetBar(budget(10), 0.1).level).toBe('warn');
    expect(budgetBar(budget(1, 0))).toMatchObject({
      width: 100,
      level: 'over'
    });
  });

  it('accepts a list or an object', () => {
    expect(budgetList([budget(1)])).toHaveLength(1);
    expect(budgetList({ budgets: [budget(1)] })).toHaveLength(1);
    expect(budgetList(null)).toEqual([]);
  });
});

describe('CostClient', () => {
  it('reads the status and normalizes it', async () => {
    const { client, urls } = httpClient(() =>
      json({ time: 5, currency: 'EUR', targets: { k: target('k') } })
    );
    const s = await client.status();
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/cost');
    expect(s.alerts).toEqual([]);
    expect(s.currency).toBe('EUR');
    expect(normalizeStatus(null)).toMatchObject({ time: null, targets: {} });
  });

  it('asks for a JSON report', async () => {
    const { client, urls } = httpClient(() => json({ rows: [] }));
    await client.report({ by: 'project', since: '7d' });
    expect(urls).toHaveLength(1);
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/cost/report');
    expect(urls[0].searchParams.get('by')).toBe('project');
    expect(urls[0].searchParams.get('since')).toBe('7d');
    expect(urls[0].searchParams.get('format')).toBe('json');
  });

  it('tells a missing route from a JSON 404', async () => {
    const html = httpClient(
      () => new Response('<html>404: Not Found</html>', { status: 404 })
    );
    await expect(html.client.status()).rejects.toMatchObject({
      message: COST_ROUTE_MISSING_MESSAGE
    });
    const missing = httpClient(() =>
      json({ error: 'NotFoundError', message: 'no such budget' }, 404)
    );
    await expect(missing.client.budgets()).rejects.toMatchObject({
      error: 'NotFoundError',
      message: 'no such budget'
    });
    // Cost turned off on the server: a JSON 404, still "unavailable".
    const off = new CostModel({ client: missing.client });
    await expect(off.load()).rejects.toBeTruthy();
    expect(off.unavailable).toBe(true);
    expect(isRouteMissing(off.error)).toBe(false);
    expect(off.error?.message).toBe('no such budget');
  });
});

describe('CostModel', () => {
  function fake(
    statuses: (ICostStatus | Error)[],
    budgets: IBudgetStatus[] = []
  ) {
    const calls = { status: 0, budgets: 0 };
    const client: ICostClient = {
      status: async () => {
        const next = statuses[Math.min(calls.status++, statuses.length - 1)];
        if (next instanceof Error) {
          throw next;
        }
        return next;
      },
      budgets: async () => {
        calls.budgets++;
        return budgets;
      },
      report: async () => ({
        by: 'project',
        since: null,
        until: null,
        currency: 'USD',
        rows: [],
        total: {}
      })
    };
    return { client, calls };
  }

  it('loads, accumulates the series and reads budgets sparingly', async () => {
    const { client, calls } = fake(
      [
        status(1, [target('k', { rate: 2.1, soFar: 0.1 })]),
        status(2, [target('k', { rate: 2.1, soFar: 0.2 })]),
        status(3, [target('k', { rate: 2.1, soFar: 0.3 })])
      ],
      [
        {
          project: 'p',
          amount: 10,
          period: 'month',
          spent: 9,
          fraction: 0.9,
          currency: 'USD'
        }
      ]
    );
    const model = new CostModel({ client });
    let emitted = 0;
    model.changed.connect(() => emitted++);
    await model.load();
    await model.load();
    expect(emitted).toBeGreaterThan(0);
    expect(model.kernel('k')?.soFar).toBe(0.2);
    expect(model.timeline.length).toBe(2);
    expect(calls.budgets).toBe(1);
    expect(calls.budgets).toBe(1);
    model.invalidateBudgets();
    await model.load();
    expect(calls.budgets).toBe(2);
    expect(model.budgetBars[0].level).toBe('warn');
    expect(model.rows).toHaveLength(1);
    model.groupBy = 'project';
    expect(model.groupBy).toBe('project');
    model.dispose();
    expect(model.isDisposed).toBe(true);
  });

  it('uses the budgets of the status when it has them', async () => {
    const inStatus: IBudgetStatus = {
      project: 'q',
      amount: 1,
      period: 'day',
      spent: 2,
      fraction: 2,
      currency: 'USD'
    };
    const { client, calls } = fake([status(1, [], { budgets: [inStatus] })]);
    const model = new CostModel({ client });
    await model.load();
    expect(calls.budgets).toBe(0);
    expect(model.budgetBars[0].level).toBe('over');
  });

  it('keeps the error and rejects so that a poll backs off', async () => {
    const html = httpClient(() => new Response('nope', { status: 404 }));
    const model = new CostModel({ client: html.client });
    await expect(model.load()).rejects.toBeTruthy();
    expect(model.unavailable).toBe(true);
    expect(isRouteMissing(model.error)).toBe(true);
    expect(model.loading).toBe(false);
  });
});

describe('right-sizing advice', () => {
  const GIB = 1024 ** 3;

  function advice(overrides: Partial<ICostAdvice> = {}): ICostAdvice {
    return {
      target_id: 'k',
      peaks: {
        cpu_cores: 1,
        rss_bytes: 1.2 * GIB,
        gpu_mem_bytes: 0,
        gpus: 0,
        gpu_mem_per_gpu: 0
      },
      machine: { cpu_cores: 2, memory_bytes: 23 * GIB, gpus: [] },
      currency: 'USD',
      current_hourly: 0.5,
      headroom: 1.2,
      gpu: null,
      instance: {
        kind: 'instance',
        name: 'm7i.large',
        hourly: 0.1,
        current_hourly: 0.5,
        saving_per_hour: 0.4,
        detail: '2 cores, 8 GiB'
      },
      lines: [],
      ...overrides
    };
  }

  it('phrases peaks, the cheapest fit and the saving', () => {
    expect(adviceSentence(advice())).toBe(
      'peak RAM 1.2 GiB of 23 GiB, CPU peak 1.0 cores of 2, no GPU used → ' +
        'cheapest fitting: m7i.large at $0.10/h, saving $0.40/h vs current pricing'
    );
  });

  it('says when nothing is cheaper or nothing fits, and the GPU saving', () => {
    const same = advice({
      currency: 'EUR',
      instance: {
        kind: 'instance',
        name: 'big',
        hourly: 2,
        current_hourly: 2,
        saving_per_hour: 0,
        detail: ''
      }
    });
    // Never a dearer (or equal) machine: already the cheapest fit.
    expect(adviceSentence(same)).toContain(
      '→ already the cheapest fit: nothing catalogued that fits costs less than the current €0.50/h'
    );
    expect(
      adviceSentence(advice({ instance: null, verdict: 'cheapest' }))
    ).toContain('→ already the cheapest fit');
    // The server's own sentence wins (the same words as %mlops cost --advice).
    expect(adviceSentence(advice({ sentence: 'peak RAM 1.0 GiB → x' }))).toBe(
      'peak RAM 1.0 GiB → x'
    );
    const gpu = advice({
      peaks: {
        cpu_cores: 0.5,
        rss_bytes: GIB,
        gpu_mem_bytes: 8 * GIB,
        gpus: 1,
        gpu_mem_per_gpu: 8 * GIB
      },
      machine: {
        cpu_cores: 8,
        memory_bytes: 64 * GIB,
        gpus: [{ model: 'H100', memory_bytes: 80 * GIB }]
      },
      instance: null,
      gpu: {
        kind: 'GPU',
        name: 'l4',
        hourly: 0.8,
        current_hourly: 3,
        saving_per_hour: 2.2,
        detail: ''
      }
    });
    expect(adviceSentence(gpu)).toBe(
      'peak RAM 1.0 GiB of 64 GiB, CPU peak 0.5 cores of 8, GPU memory peak ' +
        '8.0 GiB of 80 GiB on 1 GPU(s) → no catalogued instance fits; GPU: l4 ' +
        'would save $2.20/h'
    );
  });

  it('asks the advice route for one kernel', async () => {
    const { client, urls } = httpClient(() => json(advice()));
    const body = await client.advice('k 1');
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/cost/advice');
    expect(urls[0].searchParams.get('kernel_id')).toBe('k 1');
    expect(body.instance?.name).toBe('m7i.large');
  });

  it('passes an unknown kernel on as a JSON 404', async () => {
    const { client } = httpClient(() =>
      json({ error: 'NotFoundError', message: 'No cost figures' }, 404)
    );
    await expect(client.advice('gone')).rejects.toMatchObject({
      status: 404,
      message: 'No cost figures'
    });
  });
});
