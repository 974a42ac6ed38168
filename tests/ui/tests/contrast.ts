/**
 * Text contrast as WCAG 2 defines it, measured in the page: for every visible
 * text element under a locator, the relative luminance of its computed text
 * colour against the background it is drawn on (the element's own background
 * composited over its ancestors', up to the first opaque one), and the ratio
 * `(L1 + 0.05) / (L2 + 0.05)`. Translucent text colours (JupyterLab's
 * `--jp-ui-font-color1..3` are black or white with alpha) are blended over
 * that background first. Colours may be `rgb()`, `rgba()` or `color(srgb ...)`
 * (what Chromium computes for `color-mix`).
 *
 * A text element is one with a text node of its own that is not blank, or a
 * text input or select with a value; hidden, visually hidden (clipped to
 * 1 px) and disabled elements are left out (WCAG exempts inactive controls).
 *
 * Also here: the themes' names, switching theme, and "nothing scrolls
 * sideways".
 */
import { expect } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';

/** The contrast of one text element. */
export interface ITextContrast {
  /** (L1 + 0.05) / (L2 + 0.05), 1 to 21. */
  ratio: number;
  /** The element's own text (its first 60 characters). */
  text: string;
  /** Tag and classes of the element, e.g. `td.jp-mlops-col-run_name`. */
  element: string;
  /** Computed text colour and the effective background, as `rgb(r, g, b)`. */
  color: string;
  background: string;
}

/** WCAG's minimum for normal-size text (level AA). */
export const MIN_CONTRAST = 4.5;

/** The JupyterLab themes measured, by the name `apputils:change-theme` takes. */
export const THEMES = {
  light: 'JupyterLab Light',
  dark: 'JupyterLab Dark',
  'high-contrast': 'JupyterLab Dark High Contrast'
} as const;

export type ThemeId = keyof typeof THEMES;

/** The contrast of every visible text element in `locator` (each of its matches). */
export async function textContrasts(
  locator: Locator
): Promise<ITextContrast[]> {
  const all = await locator.evaluateAll(roots => {
    type RGBA = [number, number, number, number];
    const parse = (text: string): RGBA | null => {
      if (!text || text === 'transparent') {
        return [0, 0, 0, 0];
      }
      const srgb = text.match(/^color\(srgb\s+([^)]+)\)$/);
      if (srgb) {
        const [rgb, alpha] = srgb[1].split('/');
        const [r, g, b] = rgb.trim().split(/\s+/).map(Number);
        return [r * 255, g * 255, b * 255, alpha ? Number(alpha) : 1];
      }
      const m = text.match(/^rgba?\(([^)]+)\)$/);
      if (!m) {
        return null;
      }
      const parts = m[1]
        .split(/[\s,/]+/)
        .filter(Boolean)
        .map(Number);
      return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
    };
    /** `top` (with alpha) over an opaque `bottom`. */
    const over = (top: RGBA, bottom: RGBA): RGBA => [
      top[0] * top[3] + bottom[0] * (1 - top[3]),
      top[1] * top[3] + bottom[1] * (1 - top[3]),
      top[2] * top[3] + bottom[2] * (1 - top[3]),
      1
    ];
    const luminance = ([r, g, b]: RGBA): number => {
      const [R, G, B] = [r, g, b].map(v => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const background = (element: Element): RGBA => {
      const layers: RGBA[] = [];
      for (let e: Element | null = element; e; e = e.parentElement) {
        const color = parse(getComputedStyle(e).backgroundColor);
        if (color && color[3] > 0) {
          layers.push(color);
          if (color[3] >= 1) {
            break;
          }
        }
      }
      // The page under everything: white, as a browser draws it.
      let result: RGBA = [255, 255, 255, 1];
      for (const layer of layers.reverse()) {
        result = over(layer, result);
      }
      return result;
    };
    const hasOwnText = (e: Element): boolean =>
      Array.from(e.childNodes).some(
        n => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim()
      ) ||
      ((e instanceof HTMLInputElement &&
        ['text', 'search', 'number', ''].includes(e.type)) ||
      e instanceof HTMLSelectElement ||
      e instanceof HTMLTextAreaElement
        ? !!(e as HTMLInputElement).value
        : false);
    const shown = (e: Element): boolean => {
      const box = e.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) {
        return false;
      }
      if (
        typeof (e as HTMLElement).checkVisibility === 'function' &&
        !(e as HTMLElement).checkVisibility({
          checkOpacity: true,
          checkVisibilityCSS: true
        } as object)
      ) {
        return false;
      }
      return !e.closest(':disabled, [aria-hidden="true"]');
    };
    const rgb = (c: RGBA): string =>
      `rgb(${c
        .slice(0, 3)
        .map(v => Math.round(v))
        .join(', ')})`;
    const results: {
      ratio: number;
      text: string;
      element: string;
      color: string;
      background: string;
    }[] = [];
    const seen = new Set<Element>();
    for (const root of roots) {
      for (const e of [root, ...Array.from(root.querySelectorAll('*'))]) {
        if (seen.has(e) || !hasOwnText(e) || !shown(e)) {
          continue;
        }
        seen.add(e);
        const bg = background(e);
        const fg = over(parse(getComputedStyle(e).color) ?? [0, 0, 0, 1], bg);
        const [l1, l2] = [luminance(fg), luminance(bg)];
        const own =
          e instanceof HTMLInputElement ||
          e instanceof HTMLSelectElement ||
          e instanceof HTMLTextAreaElement
            ? e.value
            : Array.from(e.childNodes)
                .filter(n => n.nodeType === Node.TEXT_NODE)
                .map(n => n.textContent ?? '')
                .join('')
                .trim();
        results.push({
          ratio: (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05),
          text: own.slice(0, 60),
          element: [e.tagName.toLowerCase(), ...Array.from(e.classList)].join(
            '.'
          ),
          color: rgb(fg),
          background: rgb(bg)
        });
      }
    }
    return results;
  });
  return all;
}

/**
 * Every visible text of `locator` reads at `min` (4.5) or more; resolves to
 * the lowest ratio seen. A failure lists every element under the minimum.
 */
export async function expectReadableText(
  locator: Locator,
  min = MIN_CONTRAST
): Promise<number> {
  await expect(locator.first()).toBeVisible();
  const measured = await textContrasts(locator);
  expect(measured.length, 'no visible text measured').toBeGreaterThan(0);
  const low = measured
    .filter(m => m.ratio < min)
    .map(
      m =>
        `${m.ratio.toFixed(2)} ${m.element} "${m.text}" ${m.color} on ${m.background}`
    );
  expect.soft(low, `text under ${min}:1`).toEqual([]);
  return Math.min(...measured.map(m => m.ratio));
}

/** Switch JupyterLab to `theme`; resolves once the body carries its name. */
export async function useTheme(page: Page, theme: ThemeId): Promise<void> {
  const name = THEMES[theme];
  await page.evaluate(async themeName => {
    const app = (
      window as unknown as {
        jupyterapp: {
          commands: { execute(id: string, args?: object): Promise<unknown> };
        };
      }
    ).jupyterapp;
    await app.commands.execute('apputils:change-theme', { theme: themeName });
  }, name);
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-name',
    name
  );
}

/** The extension that ships each theme (its CSS is served under lab/api/themes/). */
const THEME_PACKAGES: Record<ThemeId, string> = {
  light: '@jupyterlab/theme-light-extension',
  dark: '@jupyterlab/theme-dark-extension',
  'high-contrast': '@jupyterlab/theme-dark-high-contrast-extension'
};

/** Whether this JupyterLab serves `theme` (the high-contrast one is optional). */
export async function hasTheme(page: Page, theme: ThemeId): Promise<boolean> {
  const response = await page.request.get(
    `lab/api/themes/${THEME_PACKAGES[theme]}/index.css`
  );
  return response.ok();
}

/**
 * Nothing under `locator` scrolls sideways: neither the element itself nor
 * any descendant that could (overflow-x auto or scroll). Lists the offenders.
 */
export async function expectNoSideScroll(locator: Locator): Promise<void> {
  const wide = await locator.evaluateAll(roots =>
    roots.flatMap(root =>
      [root, ...Array.from(root.querySelectorAll('*'))]
        .filter(e => {
          const style = getComputedStyle(e);
          const scrolls =
            e === root || ['auto', 'scroll'].includes(style.overflowX);
          return (
            scrolls &&
            e.getBoundingClientRect().width > 0 &&
            e.scrollWidth > e.clientWidth + 1
          );
        })
        .map(
          e =>
            `${[e.tagName.toLowerCase(), ...Array.from(e.classList)].join('.')}: ${e.scrollWidth} > ${e.clientWidth}`
        )
    )
  );
  expect.soft(wide, 'scrolls sideways').toEqual([]);
}
