/**
 * What the metric charts and the cost chart share: chart.js base options and
 * the JupyterLab theme's axis, grid and legend styles.
 */
import { themeColor } from './colors';

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
