/**
 * The comparison's cost scatter: each run's cost (`cost_usd`) against a
 * chosen metric, the metric picker, and the runs that cannot be drawn ("no
 * cost recorded", or without the metric).
 *
 * Run names reach chart.js as dataset labels (drawn on the canvas) and the
 * lists as text, never as HTML.
 */
import type { ChartDataset, TooltipItem } from 'chart.js';
import React, { useEffect, useMemo, useState } from 'react';

import type { IRunSummary } from '../api/types';
import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  type LineChart,
  moneyTicks,
  type Point,
  useChart
} from '../common/chart';
import { Section } from '../common/components';
import { formatMetric, formatMoney } from '../common/format';
import {
  costScatter,
  defaultScatterMetric,
  type ICostScatter,
  type IScatterRun,
  scatterMetrics
} from './costScatter';

/** Cost is logged in US dollars (`cost_usd`). */
const CURRENCY = 'USD';

function datasets(
  scatter: ICostScatter,
  colors: readonly string[]
): ChartDataset<'line', Point[]>[] {
  return scatter.points.map(point => ({
    label: point.label,
    data: [{ x: point.cost, y: point.value }],
    showLine: false,
    borderColor: colors[point.index],
    backgroundColor: colors[point.index],
    pointRadius: 5,
    pointHoverRadius: 7
  }));
}

function ScatterChart(props: {
  scatter: ICostScatter;
  colors: readonly string[];
}): JSX.Element {
  const { scatter, colors } = props;
  const { canvasRef, chartRef } = useChart(() => {
    const { text, grid } = axisColors();
    const tick = axisTicks(5);
    const title = (label: string) => ({
      display: true,
      text: label,
      color: text,
      font: { size: 10 }
    });
    return {
      ...BASE_OPTIONS,
      interaction: { mode: 'nearest', intersect: true },
      plugins: { legend: { display: false }, tooltip: { enabled: true } },
      scales: {
        x: {
          type: 'linear',
          beginAtZero: true,
          title: title('cost'),
          ticks: { ...tick, callback: moneyTicks(CURRENCY) },
          grid: { color: grid }
        },
        y: {
          type: 'linear',
          title: title(scatter.metric),
          ticks: tick,
          grid: { color: grid }
        }
      }
    };
  });

  useEffect(() => {
    const chart: LineChart | null = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = datasets(scatter, colors);
    const y = chart.options.scales?.y;
    if (y && 'title' in y && y.title) {
      y.title.text = scatter.metric;
    }
    const tooltip = chart.options.plugins?.tooltip;
    if (tooltip) {
      tooltip.callbacks = {
        ...tooltip.callbacks,
        label: (item: TooltipItem<'line'>) =>
          `${item.dataset.label}: ${formatMoney(item.parsed.x, CURRENCY)}, ` +
          `${scatter.metric} ${formatMetric(item.parsed.y)}`
      };
    }
    chart.update('none');
  }, [chartRef, scatter, colors]);

  return (
    <div
      className="jp-mlops-chart jp-mlops-cost-scatter"
      data-testid="mlops-cost-scatter"
      data-metric={scatter.metric}
      data-points={scatter.points.length}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Cost against ${scatter.metric} of ${scatter.points.length} runs`}
        />
      </div>
    </div>
  );
}

/** The "Cost vs metric" section of the comparison. */
export function CostScatterSection(props: {
  runs: readonly IRunSummary[];
  colors: readonly string[];
}): JSX.Element {
  const { runs, colors } = props;
  // Recomputed when a run or a metric value changes, not on every render.
  const signature = runs
    .map(run => `${run.run_id}\u0000${JSON.stringify(run.metrics ?? {})}`)
    .join('\u0001');
  const metrics = useMemo(
    () => scatterMetrics(runs),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [signature]
  );
  const [chosen, setChosen] = useState<string | null>(null);
  const metric = defaultScatterMetric(metrics, chosen);
  const scatter = useMemo(
    () => (metric === null ? null : costScatter(runs, metric)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [signature, metric]
  );
  return (
    <Section title="Cost vs metric" count={scatter?.points.length ?? 0}>
      {metric === null || scatter === null ? (
        <div className="jp-mlops-muted" data-testid="mlops-cost-scatter-empty">
          No metric to plot the cost against.
        </div>
      ) : (
        <>
          <label className="jp-mlops-cost-scatter-picker">
            Cost against{' '}
            <select
              data-testid="mlops-cost-scatter-metric"
              value={metric}
              onChange={e => setChosen(e.target.value)}
            >
              {metrics.map(key => (
                <option key={key} value={key}>
                  {key}
                </option>
              ))}
            </select>
          </label>
          <ScatterChart scatter={scatter} colors={colors} />
          <ScatterList scatter={scatter} colors={colors} />
        </>
      )}
    </Section>
  );
}

/** One run of the list: its colour, its name, then what is known of it. */
function RunLine(props: {
  run: IScatterRun;
  color: string;
  testId: string;
  muted?: boolean;
  children: React.ReactNode;
}): JSX.Element {
  const { run } = props;
  return (
    <li
      className={props.muted ? 'jp-mlops-muted' : undefined}
      data-testid={props.testId}
      data-run-id={run.runId}
    >
      <span
        className="jp-mlops-swatch"
        style={{ backgroundColor: props.color }}
      />
      <span className="jp-mlops-cost-scatter-name" title={run.runId}>
        {run.label}
      </span>
      {props.children}
    </li>
  );
}

/** The runs cheapest first, then those the scatter cannot draw. */
function ScatterList(props: {
  scatter: ICostScatter;
  colors: readonly string[];
}): JSX.Element {
  const { scatter, colors } = props;
  return (
    <ul className="jp-mlops-cost-scatter-list">
      {scatter.points.map(point => (
        <RunLine
          key={point.runId}
          run={point}
          color={colors[point.index]}
          testId="mlops-cost-scatter-run"
        >
          <span className="jp-mlops-cost-money">
            {formatMoney(point.cost, CURRENCY)}
          </span>
          <span>
            {scatter.metric} {formatMetric(point.value)}
          </span>
        </RunLine>
      ))}
      {[
        ...scatter.noMetric.map(run => ({
          run,
          why: `no ${scatter.metric}`,
          testId: 'mlops-cost-scatter-no-metric'
        })),
        ...scatter.noCost.map(run => ({
          run,
          why: 'no cost recorded',
          testId: 'mlops-cost-scatter-no-cost'
        }))
      ].map(({ run, why, testId }) => (
        <RunLine
          key={run.runId}
          run={run}
          color={colors[run.index]}
          testId={testId}
          muted
        >
          <span>{why}</span>
        </RunLine>
      ))}
    </ul>
  );
}
