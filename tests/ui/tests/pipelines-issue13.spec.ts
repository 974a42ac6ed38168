/**
 * End to end (issue 13), in the light and the dark theme at the default
 * sidebar width: a schedule is added from the Pipelines view (a cron the
 * server refuses is shown next to its input), listed with its next firing
 * in local time, paused and removed (after JupyterLab's dialog); a pipeline
 * whose cells sleep is run with "Force re-run" and its running execution
 * shows `cell k/n` and its last output lines until it finishes. The new
 * text is checked for readable contrast and the view for horizontal
 * overflow.
 *
 * `MLOPS_SHOTS=<folder>` saves screenshots there.
 */
import { expect, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';
import * as path from 'path';

import {
  exportPipeline,
  FAST_REFRESH,
  notebook,
  selectPipeline,
  useDarkTheme
} from './helpers';

const SHOTS = process.env.MLOPS_SHOTS ?? '';

test.use(FAST_REFRESH);

/** A notebook with a tagged parameters cell and `cells` cells that print, then sleep. */
function slowNotebook(cells: number): string {
  const body = Array.from({ length: cells }, (_, i) =>
    [
      'import time',
      `print("tick ${i + 1} of ${cells}", flush=True)`,
      'time.sleep(pause)'
    ].join('\n')
  );
  const json = JSON.parse(notebook(['pause = 1.5', ...body]));
  json.cells[0].metadata.tags = ['parameters'];
  return JSON.stringify(json);
}

/**
 * WCAG contrast of each element's text against the first opaque
 * background behind it (at least 4.5 for normal text).
 */
async function contrasts(locator: Locator): Promise<number[]> {
  return locator.evaluateAll(elements => {
    const parse = (text: string): number[] | null => {
      const m = text.match(/rgba?\(([^)]+)\)/);
      if (!m) {
        return null;
      }
      const parts = m[1]
        .split(/[\s,/]+/)
        .filter(Boolean)
        .map(Number);
      return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
    };
    const luminance = ([r, g, b]: number[]): number => {
      const c = [r, g, b].map(v => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
      });
      return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    };
    const background = (element: Element): number[] => {
      for (let e: Element | null = element; e; e = e.parentElement) {
        const color = parse(getComputedStyle(e).backgroundColor);
        if (color && color[3] > 0.5) {
          return color;
        }
      }
      return [255, 255, 255, 1];
    };
    return elements.map(element => {
      const bg = background(element);
      const [r, g, b, alpha] = parse(getComputedStyle(element).color) ?? [
        0, 0, 0, 1
      ];
      // A translucent text colour (JupyterLab's font-color2, 3) shows blended.
      const fg = [r, g, b].map((v, i) => v * alpha + bg[i] * (1 - alpha));
      const [l1, l2] = [luminance(fg), luminance(bg)];
      return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    });
  });
}

/** Every element of `locator` has readable contrast. */
async function expectReadable(locator: Locator): Promise<void> {
  await expect(locator.first()).toBeVisible();
  for (const ratio of await contrasts(locator)) {
    expect(ratio).toBeGreaterThanOrEqual(4.5);
  }
}

/** The Pipelines view does not scroll sideways at the sidebar's width. */
async function expectNoSideScroll(panel: Locator): Promise<void> {
  const widget = panel.locator('.jp-mlops-pipelines-widget');
  const { scroll, client } = await widget.evaluate(e => ({
    scroll: e.scrollWidth,
    client: e.clientWidth
  }));
  expect(scroll).toBeLessThanOrEqual(client + 1);
}

async function shot(page: Page, panel: Locator, name: string): Promise<void> {
  if (SHOTS) {
    await panel.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  }
}

for (const theme of ['light', 'dark'] as const) {
  test(`schedules and live progress in the ${theme} theme`, async ({
    page,
    tmpPath
  }) => {
    if (theme === 'dark') {
      await useDarkTheme(page);
    }
    const file = `${tmpPath}/slow.ipynb`;
    const output = `${tmpPath}/pipelines/slow`;
    await page.contents.uploadContent(slowNotebook(4), 'text', file);
    await exportPipeline(page, file, output);

    const { panel, view, item } = await selectPipeline(page, output);
    await expectReadable(item.locator('span'));

    // -- a schedule: added from the view --------------------------------
    const section = view.getByTestId('mlops-schedules-view');
    await section.getByTestId('mlops-schedule-add-open').click();
    const form = section.getByTestId('mlops-schedule-form');
    const zone = await page.evaluate(
      () => Intl.DateTimeFormat().resolvedOptions().timeZone
    );
    await expect(form.getByTestId('mlops-schedule-timezone')).toHaveValue(zone);
    const cron = form.getByTestId('mlops-schedule-cron-input');
    const cronError = form.locator(
      '[data-testid="mlops-schedule-field-error"][data-field="cron"]'
    );
    // Five fields, but hour 25: the server refuses it, shown at the input.
    await cron.fill('0 25 * * *');
    await form.getByTestId('mlops-schedule-add').click();
    await expect(cronError).toContainText('does not parse');
    await expectReadable(cronError);
    await expect(section.getByTestId('mlops-schedule')).toHaveCount(0);
    await shot(page, panel, `issue13-${theme}-cron-error`);

    const name = `every-30-min-${theme}`;
    await form.getByTestId('mlops-schedule-name').fill(name);
    await cron.fill('*/30 * * * *');
    await form.getByTestId('mlops-schedule-add').click();
    await expect(form).toHaveCount(0);
    const row = section.getByTestId('mlops-schedule').filter({ hasText: name });
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('mlops-schedule-cron')).toHaveText(
      `*/30 * * * * (${zone})`
    );
    await expect(row.getByTestId('mlops-schedule-next')).toHaveText(
      /^next (today|tomorrow) \d\d:[03]0 \(in \d+ (s|min)\)$/
    );
    await expectReadable(
      row.locator(
        '.jp-mlops-pipeline-name, [data-testid="mlops-schedule-cron"], [data-testid="mlops-schedule-next"]'
      )
    );
    await expectNoSideScroll(panel);
    await shot(page, panel, `issue13-${theme}-schedule`);

    // Paused: no next firing.
    await row.getByTestId('mlops-schedule-pause').click();
    await expect(row).toHaveAttribute('data-paused', 'true');
    await expect(row.getByTestId('mlops-schedule-next')).toHaveText('paused');
    await expectReadable(row.getByTestId('mlops-schedule-paused'));
    await expect(row.getByTestId('mlops-schedule-resume')).toBeVisible();

    // Removed after JupyterLab's dialog.
    await row.getByTestId('mlops-schedule-remove').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Remove the schedule?');
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
    await expect(row).toHaveCount(0);

    // -- a run: cell k/n and the last output lines while it runs ---------
    const runForm = view.getByTestId('mlops-pipeline-form');
    await runForm.getByTestId('mlops-pipeline-force').check();
    await runForm.getByTestId('mlops-pipeline-retries').fill('1');
    await runForm.getByTestId('mlops-pipeline-run').click();
    const launch = view.getByTestId('mlops-launch');
    const running = launch.getByTestId('mlops-running-execution');
    await expect(running.getByTestId('mlops-running-cell')).toHaveText(
      /^cell \d+\/\d+$/,
      { timeout: 60_000 }
    );
    await expect(running.getByTestId('mlops-running-output')).toContainText(
      /tick \d of 4/
    );
    await expectReadable(
      running.locator(
        '[data-testid="mlops-running-cell"], [data-testid="mlops-running-output"] > div'
      )
    );
    await expectNoSideScroll(panel);
    await shot(page, panel, `issue13-${theme}-running`);

    // A later cell replaces the earlier one while it runs.
    await expect(running.getByTestId('mlops-running-output')).toContainText(
      'tick 3 of 4',
      { timeout: 30_000 }
    );
    await expect(launch.getByTestId('mlops-launch-status')).toHaveAttribute(
      'data-status',
      'FINISHED',
      { timeout: 90_000 }
    );
    await expect(running).toHaveCount(0);
    const watched = view.locator(
      '[data-testid="mlops-launch-item"].jp-mod-selected'
    );
    await expectReadable(watched.locator('span'));
    await shot(page, panel, `issue13-${theme}-finished`);
  });
}
