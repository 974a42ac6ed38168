/**
 * What the metric charts, the cost chart and the cost scatter share:
 * chart.js registration, base options, the JupyterLab theme's axis, grid and
 * legend colours (read from its CSS variables, and read again whenever the
 * theme changes), and `useChart` (a chart created once on a canvas, re-themed
 * live, destroyed on unmount).
 */
import {
  Chart,
  type ChartConfiguration,
  Decimation,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LogarithmicScale,
  LineElement,
  PointElement,
  Tooltip
} from 'chart.js';
import { type RefObject, useEffect, useRef } from 'react';

import { onThemeChange, themeColor } from './colors';
import { clockTime, formatElapsed, formatMoney, formatTicks } from './format';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
  Filler,
  Decimation
);

/** `{x, y}` points: what every chart here draws. */
export type Point = { x: number; y: number };

/** A line chart of `{x, y}` points. */
export type LineChart = Chart<'line', Point[]>;

/**
 * After each update, write the colours chart.js draws the y axis and the
 * legend with onto the canvas (`data-text-color`, `data-grid-color`,
 * `data-legend-color`): what UI tests read.
 */
const THEME_MARK = {
  id: 'jp-mlops-theme-mark',
  afterUpdate: (chart: LineChart) => markTheme(chart)
};

/**
 * After each update, write what the chart shows onto the canvas, for UI
 * tests to read: `data-y-scale` (`linear`, `logarithmic`), `data-x-ticks` and
 * `data-y-ticks` (the tick labels, `|`-separated) and `data-lines` (JSON: per
 * drawn dataset its label, point count and first and last points).
 */
const DATA_MARK = {
  id: 'jp-mlops-data-mark',
  afterUpdate: (chart: LineChart) => markData(chart)
};

/**
 * A line chart on the returned canvas, created once from `options` on mount
 * and destroyed on unmount; `chartRef` holds it meanwhile (for an effect that
 * keeps its data current). When the JupyterLab theme changes, its axis, grid
 * and legend colours are read again and the chart redrawn.
 */
export function useChart(
  options: () => ChartConfiguration<'line', Point[]>['options']
): {
  canvasRef: RefObject<HTMLCanvasElement>;
  chartRef: RefObject<LineChart | null>;
} {
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
      options: options(),
      plugins: [THEME_MARK, DATA_MARK]
    });
    chartRef.current = chart;
    const stop = onThemeChange(() => {
      applyTheme(chart.options, chartTheme());
      chart.update('none');
    });
    return () => {
      stop();
      chart.destroy();
      chartRef.current = null;
    };
    // The chart is created once; the caller's effect keeps its data current.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return { canvasRef, chartRef };
}

/** Options every chart here starts from: no animation, pre-parsed {x, y} points. */
export const BASE_OPTIONS = {
  animation: false,
  responsive: true,
  maintainAspectRatio: false,
  parsing: false,
  normalized: true,
  interaction: { mode: 'nearest', intersect: false, axis: 'x' }
} as const;

/** The colours a chart takes from the JupyterLab theme. */
export interface IChartTheme {
  /** Tick labels and axis titles. */
  text: string;
  /** Grid lines. */
  grid: string;
  /** Legend labels. */
  legend: string;
}

/** The chart colours of the current theme, from its CSS variables. */
export function chartTheme(): IChartTheme {
  return {
    text: themeColor('--jp-ui-font-color2', '#616161'),
    grid: themeColor('--jp-border-color2', '#e0e0e0'),
    legend: themeColor('--jp-ui-font-color1', '#212121')
  };
}

/** Axis text and grid-line colors of the current theme. */
export function axisColors(): { text: string; grid: string } {
  const { text, grid } = chartTheme();
  return { text, grid };
}

/** The parts of chart options that carry theme colours. */
interface IThemedOptions {
  scales?: Record<
    string,
    | {
        ticks?: { color?: unknown };
        grid?: { color?: unknown };
        title?: { color?: unknown };
      }
    | undefined
  >;
  plugins?: { legend?: { labels?: { color?: unknown } } };
}

/**
 * Recolour chart options with `theme` in place: every scale's ticks, grid and
 * title, and the legend labels. The caller redraws (`chart.update`).
 */
export function applyTheme(options: unknown, theme: IChartTheme): void {
  const themed = (options ?? {}) as IThemedOptions;
  for (const scale of Object.values(themed.scales ?? {})) {
    if (!scale) {
      continue;
    }
    scale.ticks = { ...scale.ticks, color: theme.text };
    scale.grid = { ...scale.grid, color: theme.grid };
    if (scale.title) {
      scale.title.color = theme.text;
    }
  }
  const labels = themed.plugins?.legend?.labels;
  if (labels) {
    labels.color = theme.legend;
  }
}

function markTheme(chart: LineChart): void {
  const scale = chart.scales?.y ?? Object.values(chart.scales ?? {})[0];
  const canvas = chart.canvas;
  if (!scale || !canvas) {
    return;
  }
  // The resolved options chart.js drew with (the scale's, after `update`).
  const resolved = scale.options as {
    ticks?: { color?: unknown };
    grid?: { color?: unknown };
  };
  const text = resolved.ticks?.color;
  const grid = resolved.grid?.color;
  canvas.dataset.textColor = typeof text === 'string' ? text : '';
  canvas.dataset.gridColor = typeof grid === 'string' ? grid : '';
  const legend = chart.legend?.legendItems?.[0]?.fontColor;
  canvas.dataset.legendColor = typeof legend === 'string' ? legend : '';
}

/** Tick labels in the theme's axis color. */
export function axisTicks(maxTicksLimit: number): {
  color: string;
  font: { size: number };
  maxTicksLimit: number;
} {
  return { color: axisColors().text, font: { size: 10 }, maxTicksLimit };
}

/** Legend labels (drawn on the canvas by chart.js, never as HTML). */
export function legendLabels(): {
  boxWidth: number;
  font: { size: number };
  color: string;
} {
  return {
    boxWidth: 10,
    font: { size: 10 },
    color: themeColor('--jp-ui-font-color1', '#212121')
  };
}

/**
 * Tick labels of a money axis (`formatMoney`, the one money format); a label
 * that repeats the one before it (`<$0.0001` twice) is left blank.
 */
export function moneyTicks(
  currency: string
): (
  value: number | string,
  index: number,
  ticks: { value: number }[]
) => string {
  return (value, index, ticks) => {
    const label = formatMoney(Number(value), currency);
    const before = index > 0 ? ticks[index - 1] : undefined;
    return before && formatMoney(before.value, currency) === label ? '' : label;
  };
}

function markData(chart: LineChart): void {
  const canvas = chart.canvas;
  if (!canvas) {
    return;
  }
  const labels = (id: string): string =>
    (chart.scales?.[id]?.ticks ?? []).map(tick => String(tick.label)).join('|');
  canvas.dataset.yScale = chart.scales?.y?.type ?? '';
  canvas.dataset.xTicks = labels('x');
  canvas.dataset.yTicks = labels('y');
  canvas.dataset.lines = JSON.stringify(
    chart.data.datasets.map(dataset => ({
      label: dataset.label ?? '',
      points: dataset.data.length,
      first: dataset.data[0] ?? null,
      last: dataset.data[dataset.data.length - 1] ?? null
    }))
  );
}

/** A tick callback of chart.js: the label of the tick at `index` of `ticks`. */
export type TickLabels = (
  value: number | string,
  index: number,
  ticks: { value: number }[]
) => string;

/**
 * Tick labels of a numeric axis (`formatTicks`: `0.25`, `1.5k`, `2.2e-5`, as
 * few digits as tell the ticks apart; on a log axis 1, 2 and 5 only).
 */
export function numberTicks(log = false): TickLabels {
  return (_value, index, ticks) =>
    formatTicks(
      ticks.map(tick => tick.value),
      log
    )[index] ?? '';
}

/** Tick labels of a time axis: clock time of epoch ms (`wall`) or elapsed seconds (`relative`). */
export function timeTicks(kind: 'wall' | 'relative'): TickLabels {
  return value =>
    kind === 'wall'
      ? clockTime(Number(value) / 1000, true)
      : formatElapsed(Number(value));
}
