/**
 * A line chart of one metric's history, for one run or several overlaid
 * (chart.js), with its own controls: x axis (step, wall time, time since the
 * run started), log scale (refused, with the reason, when a value is not above
 * zero) and smoothing (an exponential moving average; the raw line stays,
 * faint).
 *
 * Run names reach chart.js as dataset labels; chart.js draws them on the canvas,
 * never as HTML.
 */
import type { ChartDataset } from 'chart.js';
import React, { useEffect, useId, useMemo, useState } from 'react';

import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  legendLabels,
  numberTicks,
  type Point,
  timeTicks,
  useChart
} from '../common/chart';
import { clockTime, formatElapsed, formatNumber } from '../common/format';
import {
  type IRunSeries,
  type IXY,
  logScaleRefusal,
  MAX_SMOOTHING,
  seriesXY,
  smoothXY,
  type XAxis,
  X_AXES,
  xAxisTitle
} from './metricsView';

export interface IMetricChartProps {
  metric: string;
  /** One history per run (one for a run's details, several in a comparison). */
  series: readonly IRunSeries[];
  /** One color per series (`#rrggbb`). */
  colors: readonly string[];
  /** The x axis the chart starts on (`defaultXAxis`). */
  xAxis?: XAxis;
  /** Show the legend (comparison charts). */
  legend?: boolean;
  /** A note under the title (latest value, load error...). */
  note?: string;
  testId?: string;
}

/** The drawn lines: one per series, smoothed; with smoothing, the raw lines after them, faint. */
function datasets(
  lines: readonly IXY[][],
  labels: readonly string[],
  colors: readonly string[],
  smoothing: number
): ChartDataset<'line', Point[]>[] {
  const line = (
    data: IXY[],
    index: number,
    faint: boolean
  ): ChartDataset<'line', Point[]> => ({
    label: faint ? `${labels[index]} (raw)` : labels[index],
    data,
    borderColor: faint ? `${colors[index]}55` : colors[index],
    backgroundColor: faint ? `${colors[index]}55` : colors[index],
    borderWidth: faint ? 1 : 1.5,
    pointRadius: !faint && smoothing === 0 && data.length <= 40 ? 2 : 0,
    pointHoverRadius: faint ? 0 : 3,
    tension: 0,
    spanGaps: true
  });
  if (smoothing === 0) {
    return lines.map((data, index) => line(data, index, false));
  }
  return [
    ...lines.map((data, index) =>
      line(smoothXY(data, smoothing), index, false)
    ),
    ...lines.map((data, index) => line(data, index, true))
  ];
}

function xLabel(axis: XAxis, x: number): string {
  if (axis === 'wall') {
    return clockTime(x / 1000, true);
  }
  return axis === 'relative' ? formatElapsed(x) : `step ${x}`;
}

function options(
  axis: XAxis,
  title: string,
  log: boolean,
  legend: boolean,
  drawn: number
) {
  const { text, grid } = axisColors();
  const tick = axisTicks(6);
  return {
    ...BASE_OPTIONS,
    plugins: {
      decimation: { enabled: true, algorithm: 'lttb' as const, samples: 500 },
      legend: {
        display: legend,
        position: 'bottom' as const,
        labels: {
          ...legendLabels(),
          // The faint raw lines (after the smoothed ones) have no legend entry.
          filter: (item: { datasetIndex?: number }) =>
            (item.datasetIndex ?? 0) < drawn
        }
      },
      tooltip: {
        enabled: true,
        callbacks: {
          title: (items: { parsed: { x: number | null } }[]) =>
            items.length ? xLabel(axis, items[0].parsed.x ?? 0) : '',
          label: (item: {
            dataset: { label?: string };
            parsed: { y: number | null };
          }) => `${item.dataset.label ?? ''}: ${formatNumber(item.parsed.y)}`
        }
      }
    },
    scales: {
      x: {
        type: 'linear' as const,
        title: { display: true, text: title, color: text, font: { size: 10 } },
        ticks: {
          ...tick,
          ...(axis === 'step' ? { precision: 0 } : {}),
          callback: axis === 'step' ? numberTicks() : timeTicks(axis)
        },
        grid: { color: grid }
      },
      y: {
        type: log ? ('logarithmic' as const) : ('linear' as const),
        ticks: { ...tick, callback: numberTicks(log) },
        grid: { color: grid }
      }
    }
  };
}

export function MetricChart(props: IMetricChartProps): JSX.Element {
  const { metric, series, colors, legend = false, note, testId } = props;
  const [axis, setAxis] = useState<XAxis>(props.xAxis ?? 'step');
  const [logWanted, setLog] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const controlId = useId();

  const lines = useMemo(
    () => series.map(s => seriesXY(s, axis)),
    [series, axis]
  );
  const refusal = useMemo(() => logScaleRefusal(lines), [lines]);
  const log = logWanted && refusal === null;
  const title = xAxisTitle(axis, series);
  const labels = useMemo(() => series.map(s => s.label), [series]);

  const { canvasRef, chartRef } = useChart(() =>
    options(axis, title, log, legend, series.length)
  );

  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = datasets(lines, labels, colors, smoothing);
    const next = options(axis, title, log, legend, lines.length);
    chart.options.plugins = next.plugins;
    chart.options.scales = next.scales;
    chart.update('none');
  }, [chartRef, lines, labels, colors, smoothing, axis, title, log, legend]);

  return (
    <div
      className="jp-mlops-chart"
      data-testid={testId ?? 'mlops-chart'}
      data-metric={metric}
      data-x-axis={axis}
      data-log={log ? 'true' : 'false'}
      data-smoothing={smoothing}
    >
      <div className="jp-mlops-chart-header">
        <span className="jp-mlops-chart-title" title={metric}>
          {metric}
        </span>
        {note ? <span className="jp-mlops-chart-note">{note}</span> : null}
      </div>
      <div className="jp-mlops-chart-controls">
        <select
          aria-label={`x axis of ${metric}`}
          data-testid="mlops-chart-x"
          value={axis}
          onChange={e => setAxis(e.target.value as XAxis)}
        >
          {X_AXES.map(option => (
            <option key={option.id} value={option.id}>
              {option.label}
            </option>
          ))}
        </select>
        <label
          className="jp-mlops-chart-log"
          title={refusal ?? 'Logarithmic y axis'}
        >
          <input
            type="checkbox"
            data-testid="mlops-chart-log"
            checked={log}
            disabled={refusal !== null}
            aria-describedby={refusal ? `${controlId}-refusal` : undefined}
            onChange={e => setLog(e.target.checked)}
          />
          log
          {refusal ? (
            <span
              id={`${controlId}-refusal`}
              className="jp-mlops-visually-hidden"
              data-testid="mlops-chart-log-refusal"
            >
              {refusal}
            </span>
          ) : null}
        </label>
        <label
          className="jp-mlops-chart-smoothing"
          title="Smoothing: exponential moving average (0 = raw)"
        >
          smooth
          <input
            type="range"
            min={0}
            max={MAX_SMOOTHING}
            step={0.01}
            value={smoothing}
            data-testid="mlops-chart-smoothing"
            aria-label={`smoothing of ${metric}`}
            onChange={e => setSmoothing(Number(e.target.value))}
          />
          <output>{smoothing.toFixed(2)}</output>
        </label>
      </div>
      <div className="jp-mlops-chart-body">
        <canvas ref={canvasRef} role="img" aria-label={`Chart of ${metric}`} />
      </div>
    </div>
  );
}
