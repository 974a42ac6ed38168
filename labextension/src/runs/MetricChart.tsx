/**
 * A line chart of one metric's history, for one run or several overlaid (chart.js).
 *
 * Run names reach chart.js as dataset labels; chart.js draws them on the canvas,
 * never as HTML.
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
import { type IOverlay, seriesPoints } from './logic';

export interface IMetricChartProps {
  metric: string;
  overlay: IOverlay;
  /** One color per overlay series. */
  colors: readonly string[];
  /** Show the legend (comparison charts). */
  legend?: boolean;
  /** A note under the title (latest value, load error...). */
  note?: string;
  testId?: string;
}

function datasets(
  overlay: IOverlay,
  colors: readonly string[]
): ChartDataset<'line', Point[]>[] {
  return overlay.series.map((series, index) => {
    const data = seriesPoints(overlay, index);
    return {
      label: series.label,
      data,
      borderColor: colors[index],
      backgroundColor: colors[index],
      borderWidth: 1.5,
      pointRadius: data.length <= 40 ? 2 : 0,
      pointHoverRadius: 3,
      tension: 0,
      spanGaps: true
    };
  });
}

function scales(overlay: IOverlay) {
  const { text, grid } = axisColors();
  const tick = axisTicks(6);
  return {
    x: {
      type: 'linear' as const,
      title: {
        display: true,
        text: overlay.xAxis === 'step' ? 'step' : 'point',
        color: text,
        font: { size: 10 }
      },
      ticks: { ...tick, precision: 0 },
      grid: { color: grid }
    },
    y: {
      type: 'linear' as const,
      ticks: tick,
      grid: { color: grid }
    }
  };
}

export function MetricChart(props: IMetricChartProps): JSX.Element {
  const { metric, overlay, colors, legend = false, note, testId } = props;
  const { canvasRef, chartRef } = useChart(() => ({
    ...BASE_OPTIONS,
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb', samples: 500 },
      legend: { display: false },
      tooltip: { enabled: true }
    },
    scales: scales(overlay)
  }));

  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = datasets(overlay, colors);
    chart.options.scales = scales(overlay);
    chart.options.plugins = {
      ...chart.options.plugins,
      legend: {
        display: legend,
        position: 'bottom',
        labels: legendLabels()
      }
    };
    chart.update('none');
  }, [chartRef, overlay, colors, legend]);

  return (
    <div
      className="jp-mlops-chart"
      data-testid={testId ?? 'mlops-chart'}
      data-metric={metric}
    >
      <div className="jp-mlops-chart-header">
        <span className="jp-mlops-chart-title" title={metric}>
          {metric}
        </span>
        {note ? <span className="jp-mlops-chart-note">{note}</span> : null}
      </div>
      <div className="jp-mlops-chart-body">
        <canvas ref={canvasRef} role="img" aria-label={`Chart of ${metric}`} />
      </div>
    </div>
  );
}
