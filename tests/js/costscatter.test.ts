import {
  applyTheme,
  type IChartTheme,
  moneyTicks
} from '../../labextension/src/common/chart';
import {
  COST_METRIC,
  costScatter,
  defaultScatterMetric,
  scatterMetrics
} from '../../labextension/src/runs/costScatter';
import { makeRun } from './fixtures';

describe('cost scatter of compared runs', () => {
  // Three runs that reached an accuracy, each at its own cost, one without a cost.
  const runs = [
    makeRun('r1', {
      run_name: 'big',
      metrics: { [COST_METRIC]: 1.2, accuracy: 0.93, loss: 0.2 }
    }),
    makeRun('r2', {
      run_name: 'small',
      metrics: { [COST_METRIC]: 0.04, accuracy: 0.91, energy_kwh: 0.1 }
    }),
    makeRun('r3', { run_name: 'old', metrics: { accuracy: 0.8 } }),
    makeRun('r4', {
      run_name: '',
      metrics: { [COST_METRIC]: 0.5, loss: Number.NaN, f1: null }
    })
  ];

  it('offers every finite metric except the cost ones', () => {
    expect(scatterMetrics(runs)).toEqual(['accuracy', 'loss']);
    expect(scatterMetrics([])).toEqual([]);
  });

  it('picks a quality metric first, and keeps the chosen one', () => {
    expect(defaultScatterMetric(['loss', 'val_accuracy'])).toBe('val_accuracy');
    expect(defaultScatterMetric(['loss', 'step_time'])).toBe('loss');
    expect(defaultScatterMetric(['accuracy', 'loss'], 'loss')).toBe('loss');
    expect(defaultScatterMetric(['accuracy'], 'gone')).toBe('accuracy');
    expect(defaultScatterMetric([])).toBeNull();
  });

  it('plots cost against the metric, cheapest first', () => {
    const scatter = costScatter(runs, 'accuracy');
    expect(scatter.points).toEqual([
      { runId: 'r2', label: 'small', index: 1, cost: 0.04, value: 0.91 },
      { runId: 'r1', label: 'big', index: 0, cost: 1.2, value: 0.93 }
    ]);
    expect(scatter.noCost.map(r => r.runId)).toEqual(['r3']);
    // r4 has a cost but no accuracy; its empty name falls back to the id.
    expect(scatter.noMetric).toEqual([{ runId: 'r4', label: 'r4', index: 3 }]);
  });

  it('lists a run whose metric is not finite as without it', () => {
    const scatter = costScatter(runs, 'loss');
    expect(scatter.points.map(p => p.runId)).toEqual(['r1']);
    expect(scatter.noMetric.map(r => r.runId)).toEqual(['r2', 'r4']);
    expect(scatter.noCost.map(r => r.runId)).toEqual(['r3']);
  });
});

describe('chart theme', () => {
  const dark: IChartTheme = {
    text: 'rgba(255, 255, 255, 0.54)',
    grid: '#424242',
    legend: 'rgba(255, 255, 255, 1)'
  };

  it('recolours every scale, its title and the legend', () => {
    const options = {
      scales: {
        x: { ticks: { color: '#616161', maxTicksLimit: 5 }, grid: {} },
        y: { title: { display: true, color: '#616161' } },
        none: undefined
      },
      plugins: { legend: { labels: { color: '#212121', boxWidth: 10 } } }
    };
    applyTheme(options, dark);
    expect(options.scales.x).toEqual({
      ticks: { color: dark.text, maxTicksLimit: 5 },
      grid: { color: dark.grid }
    });
    expect(options.scales.y).toEqual({
      title: { display: true, color: dark.text },
      ticks: { color: dark.text },
      grid: { color: dark.grid }
    });
    expect(options.plugins.legend.labels).toEqual({
      color: dark.legend,
      boxWidth: 10
    });
  });

  it('leaves options without scales or legend alone', () => {
    const options = { plugins: {} };
    applyTheme(options, dark);
    expect(options).toEqual({ plugins: {} });
    expect(() => applyTheme(undefined, dark)).not.toThrow();
  });
});

describe('money axis ticks', () => {
  it('writes the one money format and blanks a repeated label', () => {
    const ticks = [0, 0.00002, 0.00004, 0.0002, 1234.5].map(value => ({
      value
    }));
    const label = moneyTicks('USD');
    expect(ticks.map((t, i) => label(t.value, i, ticks))).toEqual([
      '$0.00',
      '<$0.0001',
      '',
      '$0.00020',
      '$1,234.50'
    ]);
    expect(moneyTicks('CHF')(12.4, 0, [{ value: 12.4 }])).toBe('12.40 CHF');
  });
});
