/**
 * The sweep view's model (runs/sweep.ts) and the launch table's swept values
 * and metrics (pipelines/logic.ts): which params vary, axes and positions,
 * the scatter's points, with numbers.
 */
import type { IRunSummary } from '../../labextension/src/api/types';
import {
  isSweep,
  metricsText,
  sweptKeys,
  sweptText
} from '../../labextension/src/pipelines/logic';
import {
  axisEnd,
  axisPosition,
  categoryText,
  fromExecutions,
  fromRunSummaries,
  isUserMetric,
  type ISweepRun,
  paramValue,
  pick,
  sweepAxes,
  sweepLines,
  sweepMetrics,
  sweepScatter,
  varyingParams
} from '../../labextension/src/runs/sweep';
import { execution } from './pipelineFixtures';

function run(
  id: string,
  params: Record<string, unknown>,
  metrics: Record<string, number | null> = {}
): ISweepRun {
  return { id, label: id, params, metrics };
}

const RUNS = [
  run('a', { lr: 0.1, opt: 'adam', seed: 1 }, { acc: 0.8, cost_usd: 0.01 }),
  run('b', { lr: 0.3, opt: 'sgd', seed: 1 }, { acc: 0.9, cost_usd: 0.02 }),
  run('c', { lr: 0.2, opt: 'adam', seed: 1 }, { acc: 0.85 }),
  run('d', { lr: 0.5, opt: 'sgd', seed: 1 }, { acc: null })
];

describe('varyingParams', () => {
  it('lists the params that differ, not the constant ones', () => {
    expect(varyingParams(RUNS.map(r => r.params))).toEqual(['lr', 'opt']);
  });

  it('counts a missing param as a value of its own', () => {
    expect(varyingParams([{ a: 1 }, { a: 1, b: 2 }])).toEqual(['b']);
  });

  it('has nothing to compare in one run', () => {
    expect(varyingParams([{ a: 1 }])).toEqual([]);
  });
});

describe('metrics', () => {
  it('keeps the user metrics with a number', () => {
    expect(sweepMetrics(RUNS)).toEqual(['acc']);
    expect(isUserMetric('system/cpu_percent')).toBe(false);
    expect(isUserMetric('idle_cost_eur')).toBe(false);
    expect(isUserMetric('energy_kwh')).toBe(false);
    expect(isUserMetric('val_loss')).toBe(true);
  });

  it('picks the chosen key, else the first', () => {
    expect(pick(['a', 'b'], 'b')).toBe('b');
    expect(pick(['a', 'b'], 'gone')).toBe('a');
    expect(pick([], null)).toBeNull();
  });
});

describe('axes', () => {
  const axes = sweepAxes(RUNS, ['lr', 'opt'], ['acc']);

  it('has its own min and max per axis', () => {
    expect(axes.map(a => [a.key, a.kind, a.numeric, a.min, a.max])).toEqual([
      ['lr', 'param', true, 0.1, 0.5],
      ['opt', 'param', false, 0, 1],
      ['acc', 'metric', true, 0.8, 0.9]
    ]);
    expect(axes[1].categories).toEqual(['"adam"', '"sgd"']);
    expect(axisEnd(axes[0], 'min', String)).toBe('0.1');
    expect(axisEnd(axes[1], 'max', String)).toBe('sgd');
  });

  it('places values between 0 (min) and 1 (max)', () => {
    expect(axisPosition(axes[0], 0.3)).toBeCloseTo(0.5);
    expect(axisPosition(axes[0], 0.5)).toBe(1);
    expect(axisPosition(axes[1], 'adam')).toBe(0);
    expect(axisPosition(axes[1], 'sgd')).toBe(1);
    expect(axisPosition(axes[2], null)).toBeNull();
    expect(axisPosition(axes[1], 'rmsprop')).toBeNull();
  });

  it('puts a flat axis in the middle', () => {
    const [flat] = sweepAxes(RUNS, ['seed'], []);
    expect(axisPosition(flat, 1)).toBe(0.5);
  });

  it('draws one line per run across the axes', () => {
    const lines = sweepLines(RUNS, axes);
    expect(lines).toHaveLength(4);
    expect(lines[1].positions[0]).toBeCloseTo(0.5);
    expect(lines[1].positions.slice(1)).toEqual([1, 1]);
    expect(lines[2].positions[2]).toBeCloseTo(0.5);
    expect(lines[3].positions[2]).toBeNull(); // no acc
  });
});

describe('sweepScatter', () => {
  it('plots a numeric param against a metric; runs without it are listed', () => {
    const scatter = sweepScatter(RUNS, 'lr', 'acc');
    expect(scatter.categories).toBeNull();
    expect(scatter.points.map(p => [p.x, p.y])).toEqual([
      [0.1, 0.8],
      [0.3, 0.9],
      [0.2, 0.85]
    ]);
    expect(scatter.missing.map(r => r.id)).toEqual(['d']);
  });

  it('places a text param by its index', () => {
    const scatter = sweepScatter(RUNS, 'opt', 'acc');
    expect(scatter.categories).toEqual(['"adam"', '"sgd"']);
    expect(scatter.points.map(p => p.x)).toEqual([0, 1, 0]);
    expect(categoryText(scatter.categories![1])).toBe('sgd');
    expect(categoryText('[1,2]')).toBe('[1,2]');
  });
});

describe('the runs of a sweep', () => {
  it('reads MLflow param text as numbers where it is one', () => {
    expect(paramValue('0.3')).toBe(0.3);
    expect(paramValue('1e-4')).toBe(0.0001);
    expect(paramValue('adam')).toBe('adam');
    expect(paramValue('True')).toBe('True');
    const summary = {
      run_id: 'r1',
      run_name: 'train-t1',
      params: { lr: '0.3', opt: 'sgd' },
      metrics: { acc: 0.9 }
    } as unknown as IRunSummary;
    expect(fromRunSummaries([summary])).toEqual([
      {
        id: 'r1',
        label: 'train-t1',
        params: { lr: 0.3, opt: 'sgd' },
        metrics: { acc: 0.9 }
      }
    ]);
  });

  it('takes one step of a launch, labelled by trial', () => {
    const executions = [
      execution(0, { trial: 0, step: 'prep', run_id: 'p0' }),
      execution(1, {
        trial: 0,
        step: 'train',
        run_id: 't0',
        parameters: { lr: 0.1 },
        metrics: { acc: 0.8 }
      }),
      execution(2, { trial: 1, step: 'train', parameters: { lr: 0.3 } })
    ];
    const runs = fromExecutions(executions, 'train');
    expect(runs.map(r => [r.id, r.label, r.params.lr])).toEqual([
      ['t0', 't0', 0.1],
      ['execution-2', 't1', 0.3]
    ]);
    expect(runs[1].metrics).toEqual({});
    expect(fromExecutions(executions).map(r => r.label)).toEqual([
      'prep t0',
      'train t0',
      'train t1'
    ]);
  });
});

describe('the launch table', () => {
  const executions = [
    execution(0, { trial: 0, step: 'prep', parameters: { rows: 3 } }),
    execution(1, {
      trial: 0,
      step: 'train',
      parameters: { lr: 0.1, seed: 1 },
      metrics: { loss: 0.25, acc: 0.812345, zeta: 1, beta: 2 }
    }),
    execution(2, { trial: 1, step: 'prep', parameters: { rows: 3 } }),
    execution(3, {
      trial: 1,
      step: 'train',
      parameters: { lr: 0.3, seed: 1 }
    })
  ];

  it('shows the swept values, not every parameter', () => {
    expect(sweptKeys(executions)).toEqual(['lr']);
    expect(sweptText(executions[3], ['lr'])).toBe('lr=0.3');
    expect(sweptText(executions[0], ['lr'])).toBe('');
  });

  it('shows the first metrics by name, readable', () => {
    expect(metricsText(executions[1])).toBe('acc=0.8123, beta=2, loss=0.25');
    expect(metricsText(executions[1], Infinity)).toContain('zeta=1');
    expect(metricsText(executions[3])).toBe('');
  });

  it('knows a sweep by its trials', () => {
    const launch = { executions } as Parameters<typeof isSweep>[0];
    expect(isSweep(launch)).toBe(true);
    expect(isSweep({ ...launch, executions: executions.slice(0, 2) })).toBe(
      false
    );
  });
});
