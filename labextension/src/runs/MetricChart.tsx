/**
 * A line chart of one metric's history, for one run or several overlaid (chart.js).
 *
 * Run names reach chart.js as dataset labels; chart.js draws them on the canvas,
 * never as HTML.
 */
import {
  Chart,
  type ChartDataset,
  Decimation,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip
} from 'chart.js';
import React, { useEffect, useRef } from 'react';

import { type IOverlay, seriesPoints } from './logic';
import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  legendLabels
} from '../common/chart';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  Tooltip,
  Legend,
  Decimation
);

type Point = { x: number; y: number };
type LineChart = Chart<'line', Point[]>;

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
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const chartRef = useRef<LineChart | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) {
      return;
    }
    const chart: LineChart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        ...BASE_OPTIONS,
        plugins: {
          decimation: { enabled: true, algorithm: 'lttb', samples: 500 },
          legend: { display: false },
          tooltip: { enabled: true }
        },
        scales: scales(overlay)
      }
    });
    chartRef.current = chart;
    return () => {
      chart.destroy();
      chartRef.current = null;
    };
    // The chart is created once; the effect below keeps its data current.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

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
  }, [overlay, colors, legend]);

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
