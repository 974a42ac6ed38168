/**
 * The Cost view's chart: cost so far over time, stacked by notebook or
 * project, and the switch choosing which.
 *
 * Group labels reach chart.js as dataset labels; chart.js draws them on the
 * canvas, never as HTML.
 */
import type { ChartDataset } from 'chart.js';
import React, { useEffect } from 'react';

import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  legendLabels,
  type Point,
  useChart
} from '../common/chart';
import { seriesColor } from '../common/colors';
import { baseName, clockTime, formatMoney } from '../common/format';
import type { CostGroupBy, IStackedSeries } from './series';

function stackedDatasets(
  series: IStackedSeries
): ChartDataset<'line', Point[]>[] {
  return series.groups.map((group, index) => ({
    label: baseName(group.label),
    data: group.values.map((y, i) => ({ x: series.times[i], y })),
    borderColor: seriesColor(index),
    backgroundColor: `${seriesColor(index)}99`,
    borderWidth: 1,
    pointRadius: 0,
    fill: index === 0 ? 'origin' : '-1',
    tension: 0
  }));
}

/** Cost so far over time, stacked by notebook or project. */
export function CostChart(props: {
  series: IStackedSeries;
  currency: string;
  groupBy: CostGroupBy;
}): JSX.Element {
  const { series, currency, groupBy } = props;
  const { canvasRef, chartRef } = useChart(() => {
    const { grid } = axisColors();
    const tick = axisTicks(5);
    return {
      ...BASE_OPTIONS,
      plugins: {
        legend: {
          display: true,
          position: 'bottom',
          labels: legendLabels()
        },
        tooltip: { enabled: true }
      },
      scales: {
        x: {
          type: 'linear',
          ticks: tick,
          grid: { color: grid }
        },
        y: {
          type: 'linear',
          stacked: true,
          beginAtZero: true,
          ticks: tick,
          grid: { color: grid }
        }
      }
    };
  });

  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = stackedDatasets(series);
    const { x, y } = chart.options.scales ?? {};
    // Seconds on the time axis while the series spans less than ten minutes.
    const span = series.times.length
      ? series.times[series.times.length - 1] - series.times[0]
      : 0;
    if (x?.ticks) {
      x.ticks.callback = value =>
        clockTime(Number(value) / 1000, span < 600_000);
    }
    if (y?.ticks) {
      y.ticks.callback = value => formatMoney(Number(value), currency);
    }
    chart.update('none');
  }, [chartRef, series, currency]);

  const total = series.groups.reduce(
    (sum, g) => sum + (g.values[g.values.length - 1] ?? 0),
    0
  );
  return (
    <div
      className="jp-mlops-chart jp-mlops-cost-chart"
      data-testid="mlops-cost-chart"
      data-group-by={groupBy}
      data-points={series.times.length}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Cost over time by ${groupBy}: ${formatMoney(total, currency)} in all`}
        />
      </div>
    </div>
  );
}

/** Stack the chart by notebook or by project. */
export function GroupBySwitch(props: {
  value: CostGroupBy;
  onChange: (by: CostGroupBy) => void;
}): JSX.Element {
  const options: { id: CostGroupBy; label: string }[] = [
    { id: 'notebook', label: 'Notebook' },
    { id: 'project', label: 'Project' }
  ];
  return (
    <div
      className="jp-mlops-cost-groupby"
      role="radiogroup"
      aria-label="Stack the chart by"
      data-testid="mlops-cost-groupby"
    >
      {options.map(option => (
        <button
          key={option.id}
          role="radio"
          aria-checked={props.value === option.id}
          className={`jp-mlops-view-tab${props.value === option.id ? ' jp-mod-active' : ''}`}
          data-group-by={option.id}
          onClick={() => props.onChange(option.id)}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}
