import type { IMetricPoint } from '../../labextension/src/api/types';
import { diffMetrics } from '../../labextension/src/runs/logic';
import {
  formatElapsed,
  formatNumber,
  formatTicks
} from '../../labextension/src/common/format';
import {
  defaultXAxis,
  flagUserDifferences,
  isCostMetric,
  isOurMetric,
  isSystemMetric,
  layoutMetrics,
  logScaleRefusal,
  type IRunMetrics,
  seriesXY,
  singleValues,
  smooth,
  smoothXY,
  xAxisTitle
} from '../../labextension/src/runs/metricsView';

const T0 = 1_700_000_000_000;

/** Points at steps 1..n, one second apart from T0 + 1 s. */
function curve(values: (number | null)[], stepOf = (i: number) => i + 1) {
  return values.map((value, i) => ({
    step: stepOf(i),
    timestamp: T0 + (i + 1) * 1000,
    value
  }));
}

function run(
  histories: Record<string, IMetricPoint[]>,
  extra: Record<string, number | null> = {}
): IRunMetrics {
  const metrics: Record<string, number | null> = { ...extra };
  for (const [key, points] of Object.entries(histories)) {
    metrics[key] = points[points.length - 1]?.value ?? null;
  }
  return { metrics, histories: new Map(Object.entries(histories)) };
}

describe('what a metric is', () => {
  it('knows the cost metrics and system series jupyter-mlops logs', () => {
    for (const key of [
      'cost_usd',
      'idle_cost_usd',
      'cost_eur',
      'cpu_core_hours',
      'gpu_hours',
      'gpu_mem_gb_hours',
      'energy_kwh',
      'co2e_g'
    ]) {
      expect(isCostMetric(key)).toBe(true);
      expect(isOurMetric(key)).toBe(true);
    }
    expect(isSystemMetric('system/cpu_percent')).toBe(true);
    expect(isOurMetric('system/cost_so_far')).toBe(true);
    for (const key of ['loss', 'cost', 'cost_function', 'val/cost_usd', 'lr']) {
      expect(isOurMetric(key)).toBe(false);
    }
  });
});

describe('flagUserDifferences', () => {
  it('flags only the user metrics; ours follow, shown but not flagged', () => {
    const rows = diffMetrics([
      { metrics: { cost_usd: 0.01, loss: 0.5, 'system/rss_gb': 1, acc: 0.9 } },
      { metrics: { cost_usd: 0.02, loss: 0.4, 'system/rss_gb': 2, acc: 0.9 } }
    ]);
    expect(
      flagUserDifferences(rows).map(row => [row.key, row.differs, row.values])
    ).toEqual([
      ['acc', false, [0.9, 0.9]],
      ['loss', true, [0.5, 0.4]],
      ['cost_usd', false, [0.01, 0.02]],
      ['system/rss_gb', false, [1, 2]]
    ]);
  });
});

describe('layoutMetrics', () => {
  const detail = run(
    {
      'val/loss': curve([0.9, 0.5, 0.4]),
      loss: curve([1, 0.5]),
      lr: curve([2.2e-5]),
      accuracy: curve([0.91]),
      'system/cpu_percent': curve([10, 20, 30], () => 0),
      'system/rss_gb': curve([1.5]),
      cost_usd: curve([0.0042])
    },
    // A metric whose history is still loading.
    { epoch10: 3 }
  );

  it('puts the user curves first, then single values, then ours', () => {
    expect(layoutMetrics([detail])).toEqual({
      curves: ['loss', 'val/loss'],
      singles: ['accuracy', 'epoch10', 'lr'],
      systemCurves: ['system/cpu_percent'],
      systemSingles: ['cost_usd', 'system/rss_gb']
    });
  });

  it('makes a curve of a metric that has several points in any run', () => {
    const other = run({ accuracy: curve([0.5, 0.6]) });
    expect(layoutMetrics([detail, other]).curves).toEqual([
      'accuracy',
      'loss',
      'val/loss'
    ]);
  });

  it('gives single values their latest value and step', () => {
    expect(singleValues(detail, ['lr', 'epoch10'])).toEqual([
      { key: 'lr', value: 2.2e-5, step: 1 },
      { key: 'epoch10', value: 3, step: null }
    ]);
  });
});

describe('x axes', () => {
  const points = [
    { step: 2, timestamp: T0 + 3000, value: 0.3 },
    { step: 1, timestamp: T0 + 1000, value: 0.5 },
    { step: 2, timestamp: T0 + 4000, value: 0.25 },
    { step: 3, timestamp: T0 + 6500, value: null }
  ];
  const series = { label: 'r', points, start: T0 };

  it('places points by step, keeping the last value of a repeated step', () => {
    expect(seriesXY(series, 'step')).toEqual([
      { x: 1, y: 0.5 },
      { x: 2, y: 0.25 }
    ]);
    expect(xAxisTitle('step', [series])).toBe('step');
  });

  it('places points by wall time and by seconds since the run started', () => {
    expect(seriesXY(series, 'wall')).toEqual([
      { x: T0 + 1000, y: 0.5 },
      { x: T0 + 3000, y: 0.3 },
      { x: T0 + 4000, y: 0.25 }
    ]);
    expect(seriesXY(series, 'relative')).toEqual([
      { x: 1, y: 0.5 },
      { x: 3, y: 0.3 },
      { x: 4, y: 0.25 }
    ]);
    // Without a start time, relative time counts from the first point.
    expect(
      seriesXY({ ...series, start: null }, 'relative').map(p => p.x)
    ).toEqual([0, 2, 3]);
  });

  it('puts system series and histories without steps on time since start', () => {
    const system = curve([10, 20, 30], () => 0);
    expect(defaultXAxis('system/cpu_percent', [system])).toBe('relative');
    expect(defaultXAxis('throughput', [system])).toBe('relative');
    expect(defaultXAxis('loss', [curve([1, 0.5])])).toBe('step');
    expect(defaultXAxis('loss', [undefined])).toBe('step');
    // On the step axis a history without steps is placed by its order.
    const noSteps = { label: 's', points: system, start: T0 };
    expect(seriesXY(noSteps, 'step')).toEqual([
      { x: 0, y: 10 },
      { x: 1, y: 20 },
      { x: 2, y: 30 }
    ]);
    expect(xAxisTitle('step', [noSteps])).toBe('point (no steps logged)');
    expect(seriesXY(noSteps, 'relative').map(p => p.x)).toEqual([1, 2, 3]);
  });
});

describe('smoothing', () => {
  it('is the debiased exponential moving average (hand-computed)', () => {
    // w = 0.5: last = 0.5, 1.25, 2.125; debias 0.5, 0.75, 0.875.
    const out = smooth([1, 2, 3], 0.5);
    expect(out[0]).toBeCloseTo(1, 12);
    expect(out[1]).toBeCloseTo(5 / 3, 12);
    expect(out[2]).toBeCloseTo(2.125 / 0.875, 12);
    // w = 0.9 on 10, 0: last = 1, 0.9; debias 0.1, 0.19.
    const [a, b] = smooth([10, 0], 0.9);
    expect(a).toBeCloseTo(10, 12);
    expect(b).toBeCloseTo(0.9 / 0.19, 12);
  });

  it('returns the values at 0, clamps the weight and skips non-finite values', () => {
    expect(smooth([3, 1, 2], 0)).toEqual([3, 1, 2]);
    expect(smooth([1, 2], 5)).toEqual(smooth([1, 2], 0.99));
    const out = smooth([1, NaN, 3], 0.5);
    expect(out[1]).toBeNaN();
    // As [1, 3]: last = 0.5, 1.75; debias 0.5, 0.75.
    expect(out[2]).toBeCloseTo(1.75 / 0.75, 12);
  });

  it('keeps x and smooths y of chart points', () => {
    const out = smoothXY(
      [
        { x: 1, y: 1 },
        { x: 5, y: 2 }
      ],
      0.5
    );
    expect(out.map(p => p.x)).toEqual([1, 5]);
    expect(out[1].y).toBeCloseTo(5 / 3, 12);
  });
});

describe('log scale', () => {
  it('is refused with the reason when a value is zero or negative', () => {
    expect(
      logScaleRefusal([
        [
          { x: 1, y: 0.5 },
          { x: 2, y: 0 }
        ]
      ])
    ).toBe('Log scale needs values above 0; this chart has 0.');
    expect(logScaleRefusal([[{ x: 1, y: 1 }], [{ x: 1, y: -1500 }]])).toBe(
      'Log scale needs values above 0; this chart has -1.5k.'
    );
    expect(logScaleRefusal([[{ x: 1, y: 2.2e-5 }], []])).toBeNull();
  });
});

describe('readable numbers', () => {
  it('formats in fixed notation, SI above 1000, short scientific below 0.001', () => {
    expect(formatNumber(2.2e-5)).toBe('2.2e-5');
    expect(formatNumber(1234567, 3)).toBe('1.23M');
    expect(formatNumber(1234567)).toBe('1.235M');
    expect(formatNumber(0.5)).toBe('0.5');
    expect(formatNumber(0.91234)).toBe('0.9123');
    expect(formatNumber(123.456)).toBe('123.5');
    expect(formatNumber(1500)).toBe('1.5k');
    expect(formatNumber(-1500)).toBe('-1.5k');
    expect(formatNumber(999_999, 3)).toBe('1M');
    expect(formatNumber(0.00099999, 3)).toBe('0.001');
    expect(formatNumber(20)).toBe('20');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(3e21)).toBe('3e21');
    expect(formatNumber(null)).toBe('\u2014');
    expect(formatNumber(Infinity)).toBe('Infinity');
  });

  it('labels ticks with as few digits as tell them apart', () => {
    expect(formatTicks([0, 0.2, 0.4, 0.6])).toEqual(['0', '0.2', '0.4', '0.6']);
    expect(formatTicks([0.9812, 0.9814, 0.9816])).toEqual([
      '0.9812',
      '0.9814',
      '0.9816'
    ]);
    expect(formatTicks([1e-5, 1.5e-5, 2e-5])).toEqual([
      '1e-5',
      '1.5e-5',
      '2e-5'
    ]);
    expect(formatTicks([1_000_000, 1_500_000, 2_000_000])).toEqual([
      '1M',
      '1.5M',
      '2M'
    ]);
  });

  it('labels only 1, 2 and 5 on a log axis', () => {
    expect(formatTicks([0.1, 0.2, 0.3, 0.5, 0.7, 1], true)).toEqual([
      '0.1',
      '0.2',
      '',
      '0.5',
      '',
      '1'
    ]);
    expect(formatTicks([0.3, 0.4], true)).toEqual(['0.3', '0.4']);
  });

  it('writes elapsed time compactly', () => {
    expect(formatElapsed(0)).toBe('0s');
    expect(formatElapsed(4.5)).toBe('4.5s');
    expect(formatElapsed(45)).toBe('45s');
    expect(formatElapsed(125)).toBe('2m 05s');
    expect(formatElapsed(3900)).toBe('1h 05m');
  });
});
