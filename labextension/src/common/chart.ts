/**
 * What the metric charts and the cost chart share: chart.js registration,
 * base options, the JupyterLab theme's axis, grid and legend styles, and
 * `useChart` (a chart created once on a canvas, destroyed on unmount).
 */
import {
  Chart,
  type ChartConfiguration,
  Decimation,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip
} from 'chart.js';
import { type RefObject, useEffect, useRef } from 'react';

import { themeColor } from './colors';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
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
 * A line chart on the returned canvas, created once from `options` on mount
 * and destroyed on unmount; `chartRef` holds it meanwhile (for an effect that
 * keeps its data current).
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
      options: options()
    });
    chartRef.current = chart;
    return () => {
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

/** Axis text and grid-line colors of the current theme. */
export function axisColors(): { text: string; grid: string } {
  return {
    text: themeColor('--jp-ui-font-color2', '#616161'),
    grid: themeColor('--jp-border-color2', '#e0e0e0')
  };
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
