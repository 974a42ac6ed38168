/**
 * Series colors, theme colors for charts, and the JupyterLab theme's changes.
 */

/** A categorical palette that reads on light and dark themes (Tableau 10). */
export const SERIES_COLORS = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac'
];

/** The color of the `index`-th compared run. */
export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length];
}

/** The value of a JupyterLab CSS variable, or `fallback` outside a themed page. */
export function themeColor(name: string, fallback: string): string {
  if (typeof document === 'undefined') {
    return fallback;
  }
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

const themeListeners = new Set<() => void>();
let themeObserver: MutationObserver | null = null;

/**
 * Call `listener` whenever the JupyterLab theme changes; returns the
 * unsubscribe function. JupyterLab sets `data-jp-theme-name` and
 * `data-jp-theme-light` on the body once the new theme's CSS is loaded, so its
 * variables are current when the listener runs. One observer serves every
 * listener; a page without a DOM never calls back.
 */
export function onThemeChange(listener: () => void): () => void {
  themeListeners.add(listener);
  if (
    themeObserver === null &&
    typeof MutationObserver !== 'undefined' &&
    typeof document !== 'undefined'
  ) {
    themeObserver = new MutationObserver(() => {
      themeListeners.forEach(call => call());
    });
    themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light']
    });
  }
  return () => {
    themeListeners.delete(listener);
    if (themeListeners.size === 0 && themeObserver !== null) {
      themeObserver.disconnect();
      themeObserver = null;
    }
  };
}
