/**
 * The charts of the sweep view (`SweepView.tsx`), drawn with chart.js
 * (`common/chart`): parallel coordinates (one line per run across an axis
 * per varying parameter and per metric, each axis's min and max drawn at its
 * ends) and a scatter of one parameter against one metric. Run colours come
 * from JupyterLab's CSS variables and follow theme changes; labels are drawn
 * on the canvas, never as HTML.
 */
import { type Chart, Chart as ChartJS, type TooltipItem } from 'chart.js';
import React, { useEffect, useMemo, useState } from 'react';

import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  type LineChart,
  useChart
} from '../common/chart';
import { onThemeChange, themeColor } from '../common/colors';
import { formatMetric } from '../common/format';
import {
  axisEnd,
  axisValue,
  categoryText,
  type IAxis,
  type ISweepLine,
  type ISweepScatter,
  valueKey
} from './sweep';

/** The theme colours runs are drawn in, by index (JupyterLab CSS variables). */
const RUN_COLORS: readonly [string, string][] = [
  ['--jp-brand-color1', '#1976d2'],
  ['--jp-warn-color1', '#f57c00'],
  ['--jp-error-color1', '#d32f2f'],
  ['--jp-accent-color1', '#388e3c'],
  ['--jp-info-color1', '#0097a7'],
  ['--jp-brand-color3', '#90caf9'],
  ['--jp-warn-color3', '#ffcc80'],
  ['--jp-error-color3', '#ef9a9a']
];

function runColors(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const [name, fallback] = RUN_COLORS[i % RUN_COLORS.length];
    return themeColor(name, fallback);
  });
}

/** The run colours of the current theme, read again when it changes. */
export function useRunColors(count: number): string[] {
  const [theme, setTheme] = useState(0);
  useEffect(() => onThemeChange(() => setTheme(n => n + 1)), []);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  return useMemo(() => runColors(count), [count, theme]);
}

/** A parameter or metric value as a label: a readable number, or text. */
export function valueText(value: unknown): string {
  return typeof value === 'number'
    ? formatMetric(value)
    : categoryText(valueKey(value));
}

/** The axes of each parallel-coordinates chart, read by `AXIS_ENDS`. */
const CHART_AXES = new WeakMap<Chart, readonly IAxis[]>();

/**
 * Each axis's min at its foot and max at its head, drawn on the canvas of the
 * charts in `CHART_AXES` (registered once; other charts are left alone).
 */
const AXIS_ENDS = {
  id: 'jp-mlops-axis-ends',
  afterDatasetsDraw(chart: Chart) {
    const list = CHART_AXES.get(chart);
    const x = chart.scales.x;
    if (!list || !x) {
      return;
    }
    const area = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.fillStyle = axisColors().text;
    ctx.font = '10px sans-serif';
    list.forEach((axis, i) => {
      const px = x.getPixelForValue(i);
      ctx.textAlign =
        list.length > 1 && i === 0
          ? 'left'
          : list.length > 1 && i === list.length - 1
            ? 'right'
            : 'center';
      ctx.textBaseline = 'top';
      ctx.fillText(axisEnd(axis, 'max', formatMetric), px, area.top);
      ctx.textBaseline = 'bottom';
      ctx.fillText(axisEnd(axis, 'min', formatMetric), px, area.bottom);
      ctx.fillRect(px, area.top + 12, 1, area.bottom - area.top - 24);
    });
    ctx.restore();
  }
};
ChartJS.register(AXIS_ENDS);

export function ParallelChart(props: {
  axes: IAxis[];
  lines: ISweepLine[];
  colors: string[];
}): JSX.Element {
  const { axes, lines, colors } = props;
  const { canvasRef, chartRef } = useChart(() => ({
    ...BASE_OPTIONS,
    interaction: { mode: 'nearest', intersect: true },
    layout: { padding: { left: 8, right: 8 } },
    plugins: { legend: { display: false }, tooltip: { enabled: true } },
    scales: {
      x: {
        type: 'linear',
        ticks: { ...axisTicks(20), stepSize: 1 },
        grid: { display: false }
      },
      y: { type: 'linear', min: -0.2, max: 1.2, display: false }
    }
  }));

  useEffect(() => {
    const chart: LineChart | null = chartRef.current;
    if (!chart) {
      return;
    }
    CHART_AXES.set(chart as unknown as Chart, axes);
    chart.data.datasets = lines.map(line => ({
      label: line.run.label,
      data: line.positions.map((y, x) => ({ x, y: y === null ? NaN : y })),
      borderColor: colors[line.index],
      backgroundColor: colors[line.index],
      borderWidth: 2,
      pointRadius: 3,
      spanGaps: false
    }));
    const x = chart.options.scales?.x;
    if (x) {
      x.min = axes.length > 1 ? 0 : -0.5;
      x.max = axes.length > 1 ? axes.length - 1 : 0.5;
      x.ticks = {
        ...x.ticks,
        callback: value => axes[Number(value)]?.key ?? ''
      };
    }
    const tooltip = chart.options.plugins?.tooltip;
    if (tooltip) {
      tooltip.callbacks = {
        ...tooltip.callbacks,
        label: (item: TooltipItem<'line'>) => {
          const axis = axes[item.dataIndex];
          const run = lines[item.datasetIndex]?.run;
          return axis && run
            ? `${run.label}: ${axis.key} ${valueText(axisValue(axis, run))}`
            : '';
        }
      };
    }
    chart.update('none');
    chart.canvas.dataset.lines = String(chart.data.datasets.length);
  }, [chartRef, axes, lines, colors]);

  return (
    <div
      className="jp-mlops-chart jp-mlops-sweep-parallel"
      data-testid="mlops-sweep-parallel"
      data-lines={lines.length}
      data-axes={axes.length}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Parallel coordinates of ${lines.length} runs over ${axes.length} axes`}
        />
      </div>
    </div>
  );
}

export function ScatterChart(props: {
  scatter: ISweepScatter;
  colors: string[];
}): JSX.Element {
  const { scatter, colors } = props;
  const { canvasRef, chartRef } = useChart(() => {
    const { text, grid } = axisColors();
    const title = { display: true, text: '', color: text, font: { size: 10 } };
    return {
      ...BASE_OPTIONS,
      interaction: { mode: 'nearest', intersect: true },
      plugins: { legend: { display: false }, tooltip: { enabled: true } },
      scales: {
        x: {
          type: 'linear',
          title: { ...title },
          ticks: axisTicks(6),
          grid: { color: grid }
        },
        y: {
          type: 'linear',
          title: { ...title },
          ticks: axisTicks(5),
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
    const { categories } = scatter;
    chart.data.datasets = scatter.points.map(point => ({
      label: point.run.label,
      data: [{ x: point.x, y: point.y }],
      showLine: false,
      borderColor: colors[point.index],
      backgroundColor: colors[point.index],
      pointRadius: 5,
      pointHoverRadius: 7
    }));
    const { x, y } = chart.options.scales ?? {};
    if (x && y && 'title' in x && 'title' in y && x.title && y.title) {
      x.title.text = scatter.param;
      y.title.text = scatter.metric;
      x.min = categories ? -0.5 : undefined;
      x.max = categories ? categories.length - 0.5 : undefined;
      x.ticks = {
        ...x.ticks,
        stepSize: categories ? 1 : undefined,
        callback: value =>
          categories
            ? categoryText(categories[Number(value)] ?? '')
            : formatMetric(Number(value))
      };
      y.ticks = { ...y.ticks, callback: value => formatMetric(Number(value)) };
    }
    const tooltip = chart.options.plugins?.tooltip;
    if (tooltip) {
      tooltip.callbacks = {
        ...tooltip.callbacks,
        label: (item: TooltipItem<'line'>) => {
          const point = scatter.points[item.datasetIndex];
          return point
            ? `${point.run.label}: ${scatter.param} ${valueText(point.run.params[scatter.param])}, ` +
                `${scatter.metric} ${formatMetric(point.y)}`
            : '';
        }
      };
    }
    chart.update('none');
    chart.canvas.dataset.points = String(
      chart.data.datasets.reduce((n, set) => n + set.data.length, 0)
    );
  }, [chartRef, scatter, colors]);

  return (
    <div
      className="jp-mlops-chart jp-mlops-sweep-scatter"
      data-testid="mlops-sweep-scatter"
      data-points={scatter.points.length}
      data-param={scatter.param}
      data-metric={scatter.metric}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`${scatter.metric} against ${scatter.param} of ${scatter.points.length} runs`}
        />
      </div>
    </div>
  );
}
