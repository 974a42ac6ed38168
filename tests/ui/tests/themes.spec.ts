/**
 * Issue 14 (readable in every theme, usable at the sidebar's width, open in
 * the main area). In the light, dark and high-contrast themes, in the
 * sidebar at 300 px and in the main-area tab: every visible text of the runs
 * table with a selected row, of the run comparison with differing rows, of
 * the Cost view and of the Pipelines view reads at 4.5:1 or more (WCAG,
 * measured by contrast.ts); in the sidebar nothing scrolls sideways. A theme
 * switch re-colours the Cost chart without a reload.
 *
 * The lowest ratio per view is printed (`contrast <theme> <layout> <view>`);
 * `MLOPS_SHOTS=<folder>` saves screenshots there.
 */
import { expect, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';
import * as path from 'path';

import {
  expectNoSideScroll,
  expectReadableText,
  hasTheme,
  type ThemeId,
  useTheme
} from './contrast';
import {
  FAST_REFRESH,
  type IApp,
  openNotebook,
  openPanel,
  PANEL_ID,
  switchTo
} from './helpers';

const SHOTS = process.env.MLOPS_SHOTS ?? '';
const MAIN_AREA_ID = 'jupyter-mlops-main';
const MAIN_PANEL_ID = 'jupyter-mlops-main-panel';

test.use(FAST_REFRESH);

/** Two finished runs of `experiment` whose params differ (lr), through %mlops in a kernel. */
function runsCell(experiment: string): string {
  const run = (name: string, lr: string, acc: number): string[] => [
    `%mlops start --experiment ${experiment} --run-name ${name}`,
    `%mlops param lr=${lr} depth=3 optimizer=adam`,
    `%mlops log acc=${acc} loss=${1 - acc} --step 1`,
    `%mlops log acc=${acc + 0.1} loss=${0.9 - acc} --step 2`,
    '%mlops end'
  ];
  return [
    '%load_ext jupyter_mlops',
    ...run('baseline', '0.1', 0.5),
    ...run('tuned', '0.01', 0.6)
  ].join('\n');
}

/** Export a small notebook to a pipeline folder through the REST API; resolves to its path. */
async function addPipeline(page: Page, tmpPath: string): Promise<string> {
  const file = `${tmpPath}/step.ipynb`;
  const output = `${tmpPath}/pipelines/step`;
  const notebook = {
    cells: [
      {
        cell_type: 'code',
        execution_count: null,
        metadata: { tags: ['parameters'] },
        outputs: [],
        source: 'alpha = 0.5'
      }
    ],
    metadata: {
      kernelspec: {
        display_name: 'Python 3',
        language: 'python',
        name: 'python3'
      }
    },
    nbformat: 4,
    nbformat_minor: 5
  };
  await page.contents.uploadContent(JSON.stringify(notebook), 'text', file);
  const response = await page.request.post(
    '/jupyter-mlops/api/pipelines/export',
    { data: { notebooks: [file], output } }
  );
  expect(response.status()).toBe(201);
  return output;
}

/** Open the panel's main-area tab through its command; resolves to the panel in it. */
async function openMainArea(page: Page): Promise<Locator> {
  await page.evaluate(async () => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    await app.commands.execute('jupyter-mlops:open-main');
  });
  const panel = page.locator(`#${MAIN_PANEL_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

async function shot(page: Page, panel: Locator, name: string): Promise<void> {
  if (SHOTS) {
    await panel.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  }
}

/** Measure `view`: all text readable (logs the lowest ratio); in the sidebar, no sideways scroll. */
async function check(
  label: string,
  view: Locator,
  narrow: boolean
): Promise<void> {
  const lowest = await expectReadableText(view);
  console.log(`contrast ${label}: lowest ${lowest.toFixed(2)}`);
  if (narrow) {
    await expectNoSideScroll(view);
  }
}

const LAYOUTS = ['narrow', 'wide'] as const;
const THEME_IDS: ThemeId[] = ['light', 'dark', 'high-contrast'];

for (const theme of THEME_IDS) {
  for (const layout of LAYOUTS) {
    test(`readable in the ${theme} theme, ${layout}`, async ({
      page,
      tmpPath
    }) => {
      test.skip(
        !(await hasTheme(page, theme)),
        `the ${theme} theme is not installed in this JupyterLab`
      );
      if (theme !== 'light') {
        await useTheme(page, theme);
      }
      const narrow = layout === 'narrow';
      const experiment = `themes-${theme}-${layout}`;
      const pipeline = await addPipeline(page, tmpPath);
      await openNotebook(page, tmpPath, 'runs.ipynb', [runsCell(experiment)]);
      await page.notebook.run();

      let panel: Locator;
      if (narrow) {
        panel = await openPanel(page);
        await page.sidebar.setWidth(300);
      } else {
        panel = await openMainArea(page);
      }
      const name = `${theme}-${layout}`;

      // Runs: the table with a selected row.
      await panel
        .getByTestId('mlops-experiment-select')
        .selectOption({ label: experiment });
      const rows = panel.getByTestId('mlops-run-row');
      await expect(rows).toHaveCount(2);
      const baseline = panel.locator('[data-run-name="baseline"]');
      await baseline.locator('.jp-mlops-col-run_name').click();
      await expect(baseline).toHaveClass(/jp-mod-selected/);
      await expect(panel.getByTestId('mlops-run-details')).toBeVisible();
      await check(
        `${name} runs-selected`,
        panel.getByTestId('mlops-runs-table'),
        narrow
      );
      await check(
        `${name} run-details`,
        panel.getByTestId('mlops-run-details'),
        narrow
      );
      await shot(page, panel, `themes-${name}-selected`);

      // The comparison, with a differing row.
      await panel
        .locator('[data-run-name="tuned"]')
        .getByTestId('mlops-run-checkbox')
        .check();
      const compare = panel.getByTestId('mlops-compare');
      await expect(compare).toBeVisible();
      await expect(
        compare.locator('tr.jp-mlops-differs[data-key="lr"]')
      ).toBeVisible();
      await check(`${name} compare`, compare, narrow);
      await check(
        `${name} runs-compared`,
        panel.getByTestId('mlops-runs-table'),
        narrow
      );
      await shot(page, panel, `themes-${name}-compare`);

      // Cost: the notebook's kernel runs, so there is a row.
      await switchTo(panel, 'cost');
      const cost = panel.getByTestId('mlops-cost-view');
      await expect(cost.getByTestId('mlops-cost-row').first()).toBeVisible();
      await check(`${name} cost`, cost, narrow);
      await shot(page, panel, `themes-${name}-cost`);

      // Pipelines, with one selected.
      await switchTo(panel, 'pipelines');
      const pipelines = panel.getByTestId('mlops-pipelines-view');
      const item = pipelines.locator(
        `[data-testid="mlops-pipeline-item"][data-path="${pipeline}"]`
      );
      await item.click();
      await expect(item).toHaveAttribute('aria-pressed', 'true');
      await check(`${name} pipelines`, pipelines, narrow);
      await shot(page, panel, `themes-${name}-pipelines`);

      // The header (title, view switch with its active tab, buttons).
      await check(`${name} header`, panel.locator('.jp-mlops-header'), narrow);
    });
  }
}

test('the header button opens the panel in the main area; both share the selection', async ({
  page,
  tmpPath
}) => {
  const experiment = 'themes-main-area';
  await openNotebook(page, tmpPath, 'main.ipynb', [runsCell(experiment)]);
  await page.notebook.run();
  const side = await openPanel(page);
  await side
    .getByTestId('mlops-experiment-select')
    .selectOption({ label: experiment });
  await expect(side.getByTestId('mlops-run-row')).toHaveCount(2);

  await side.getByTestId('mlops-open-main').click();
  const tab = page.locator(`#${MAIN_AREA_ID}`);
  await expect(tab).toBeVisible();
  const main = tab.locator(`#${MAIN_PANEL_ID}`);
  // The main-area panel has no "open in main area" button of its own.
  await expect(main.getByTestId('mlops-open-main')).toHaveCount(0);
  // One set of models: the same experiment, the same runs.
  await expect(main.getByTestId('mlops-run-row')).toHaveCount(2);
  await main
    .locator('[data-run-name="tuned"]')
    .locator('.jp-mlops-col-run_name')
    .click();
  await expect(main.getByTestId('mlops-details-name')).toHaveText('tuned');
  await expect(side.locator('[data-run-name="tuned"]')).toHaveClass(
    /jp-mod-selected/
  );
  // The sidebar is still there, and opening again activates the same tab.
  await expect(page.locator(`#${PANEL_ID}`)).toBeVisible();
  await side.getByTestId('mlops-open-main').click();
  await expect(page.locator(`#${MAIN_AREA_ID}`)).toHaveCount(1);

  // Closed, the sidebar panel keeps working; the command opens a new tab.
  await page.evaluate(async () => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    await app.commands.execute('application:close', {});
  });
  await expect(page.locator(`#${MAIN_AREA_ID}`)).toHaveCount(0);
  await switchTo(side, 'cost');
  await expect(side.getByTestId('mlops-cost-view')).toBeVisible();
  const reopened = await openMainArea(page);
  await expect(reopened.getByTestId('mlops-view-switch')).toBeVisible();
  // A palette item too.
  await page.keyboard.press('Control+Shift+C');
  await page.locator('#modal-command-palette input').fill('MLOps in Main Area');
  await expect(
    page.locator('#modal-command-palette .lm-CommandPalette-item', {
      hasText: 'Open MLOps in Main Area'
    })
  ).toHaveCount(1);
  await page.keyboard.press('Escape');

  // An open tab comes back after a reload, on the view it showed.
  await switchTo(reopened, 'pipelines');
  await expect.poll(() => savedMainAreaView(page)).toBe('pipelines');
  // The notebook is restored in place of the launcher that galata's ready
  // check waits for: wait for the splash screen instead.
  await page.reload({ waitForIsReady: false });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  const restored = page.locator(`#${MAIN_AREA_ID} #${MAIN_PANEL_ID}`);
  await expect(restored).toBeVisible();
  await expect(
    restored.getByTestId('mlops-view-switch').locator('[data-view="pipelines"]')
  ).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator(`#${MAIN_AREA_ID}`)).toHaveCount(1);
});

/** The view of the main-area tab in the saved layout (galata keeps the workspace). */
async function savedMainAreaView(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const app = (
      window as unknown as {
        jupyterapp: { serviceManager: { serverSettings: { baseUrl: string } } };
      }
    ).jupyterapp;
    const base = app.serviceManager.serverSettings.baseUrl;
    const response = await fetch(`${base}lab/api/workspaces/default`);
    const workspace = (await response.json()) as {
      data?: Record<string, { data?: { view?: string } }>;
    };
    return (
      workspace.data?.['jupyter-mlops-main:mlops-main']?.data?.view ?? null
    );
  });
}

test('a theme switch re-colours the Cost chart without a reload', async ({
  page,
  tmpPath
}) => {
  // A running kernel: the chart has a group, so a legend.
  await openNotebook(page, tmpPath, 'cost.ipynb', ['1 + 1']);
  await page.notebook.run();
  const panel = await openPanel(page);
  await switchTo(panel, 'cost');
  const canvas = panel.getByTestId('mlops-cost-chart').locator('canvas');
  await expect(canvas).toHaveAttribute('data-legend-color', /./);
  const drawn = async () => ({
    text: await canvas.getAttribute('data-text-color'),
    grid: await canvas.getAttribute('data-grid-color'),
    legend: await canvas.getAttribute('data-legend-color')
  });
  const themeColors = () =>
    page.evaluate(() => {
      const style = getComputedStyle(document.body);
      return {
        text: style.getPropertyValue('--jp-ui-font-color2').trim(),
        grid: style.getPropertyValue('--jp-border-color2').trim(),
        legend: style.getPropertyValue('--jp-ui-font-color1').trim()
      };
    });
  /**
   * The ink of what is drawn, not only the options: among the pixels of
   * the y axis labels (the canvas's left eighth), are light or dark ones
   * the most? Light text on a dark theme, dark text on a light one.
   */
  const ink = () =>
    canvas.evaluate((c: HTMLCanvasElement) => {
      const context = c.getContext('2d');
      if (!context) {
        return 'none';
      }
      const width = Math.max(1, Math.floor(c.width / 8));
      const data = context.getImageData(0, 0, width, c.height).data;
      let [light, dark] = [0, 0];
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 60) {
          const value = (data[i] + data[i + 1] + data[i + 2]) / 3;
          light += value > 160 ? 1 : 0;
          dark += value < 96 ? 1 : 0;
        }
      }
      return light > dark ? 'light' : dark > light ? 'dark' : 'none';
    });
  const light = await themeColors();
  await expect.poll(drawn).toEqual(light);
  await expect.poll(ink).toBe('dark');

  // Switched while the Cost view shows.
  await useTheme(page, 'dark');
  const dark = await themeColors();
  expect(dark.text).not.toBe(light.text);
  await expect.poll(drawn).toEqual(dark);
  await expect.poll(ink).toBe('light');

  // Switched while another view shows: the chart has the theme when shown again.
  await switchTo(panel, 'runs');
  await useTheme(page, 'light');
  await switchTo(panel, 'cost');
  await expect.poll(drawn).toEqual(light);
  await expect.poll(ink).toBe('dark');

  // Switched while the panel is closed (the chart is not even laid out).
  await page.sidebar.close('left');
  await useTheme(page, 'dark');
  await openPanel(page);
  await expect.poll(drawn).toEqual(dark);
  await expect.poll(ink).toBe('light');
});
