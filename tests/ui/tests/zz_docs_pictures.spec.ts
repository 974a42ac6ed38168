/**
 * The README's pictures, from the real panel in Chromium (issue 14, item 10):
 *
 *   MLOPS_SCREENSHOTS=1 MLOPS_UI_WORKERS=1 npx playwright test \
 *     --config tests/ui/playwright.config.js zz_docs_pictures.spec.ts
 *
 * writes docs/panel.png and docs/panel-dark.png (a run's details in the
 * main-area tab, light and dark), docs/panel-compare.png (two runs compared),
 * docs/sweep.png (the sweep view of a learning-rate sweep), docs/pipelines.png
 * (that sweep's launch) and docs/cost.png (the Cost view).
 * The data is the project's own examples: examples/train_classifier.ipynb run
 * twice by papermill from a kernel, and a sweep of examples/pipeline/exported
 * launched from the Pipelines view. Skipped unless MLOPS_SCREENSHOTS is set.
 */
import type { Locator, Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { useTheme } from './contrast';
import { expect, test } from './fixtures';
import {
  FAST_REFRESH,
  type IApp,
  openNotebook,
  selectPipeline,
  switchTo
} from './helpers';

const REPO = path.resolve(__dirname, '..', '..', '..');
const DOCS = path.join(REPO, 'docs');
const EXAMPLES = path.join(REPO, 'examples');
const PIPELINE_FILES = [
  'pipeline.yaml',
  'params.yaml',
  'notebooks/prepare.ipynb',
  'notebooks/train.ipynb'
];

test.skip(
  !process.env.MLOPS_SCREENSHOTS,
  'MLOPS_SCREENSHOTS=1 writes the README pictures into docs/'
);
test.use({
  ...FAST_REFRESH,
  viewport: { width: 1400, height: 900 }
});

/** Two runs of the example training notebook, through papermill in a kernel. */
const RUNS_CELL = [
  'import os, subprocess, sys',
  'for lr in ("0.05", "0.3"):',
  '    subprocess.run(',
  '        [sys.executable, "-m", "papermill", "train_classifier.ipynb",',
  '         f"train-lr{lr}.ipynb", "-p", "learning_rate", lr, "--no-progress-bar"],',
  '        check=True, capture_output=True, env={**os.environ, "JUPYTER_MLOPS_NOTEBOOK": "train_classifier.ipynb"})',
  'print("runs done")'
].join('\n');

async function upload(page: Page, from: string, to: string): Promise<void> {
  await page.contents.uploadContent(fs.readFileSync(from, 'utf-8'), 'text', to);
}

async function openMainArea(page: Page): Promise<Locator> {
  await page.evaluate(async () => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    await app.commands.execute('jupyter-mlops:open-main');
  });
  const panel = page.locator('#jupyter-mlops-main-panel');
  await expect(panel).toBeVisible();
  return panel;
}

/** Wait until every chart canvas in `scope` has been drawn on. */
async function chartsDrawn(scope: Locator): Promise<void> {
  await expect
    .poll(() =>
      scope.locator('canvas').evaluateAll(canvases =>
        canvases.every(canvas => {
          const c = canvas as HTMLCanvasElement;
          const data = c
            .getContext('2d')
            ?.getImageData(0, 0, c.width, c.height);
          return !!data && data.data.some((v, i) => i % 4 === 3 && v > 0);
        })
      )
    )
    .toBe(true);
}

test('README pictures', async ({ page, tmpPath }) => {
  test.setTimeout(900_000);
  await upload(
    page,
    path.join(EXAMPLES, 'train_classifier.ipynb'),
    `${tmpPath}/train_classifier.ipynb`
  );
  const pipeline = `${tmpPath}/pipelines/breast-cancer`;
  for (const file of PIPELINE_FILES) {
    await upload(
      page,
      path.join(EXAMPLES, 'pipeline', 'exported', file),
      `${pipeline}/${file}`
    );
  }

  // The sweep, launched from the Pipelines view while the notebook runs.
  const { panel: sidebar, view } = await selectPipeline(page, pipeline);
  const form = view.getByTestId('mlops-pipeline-form');
  await form
    .locator('[data-testid="mlops-param"][data-key="train.learning_rate"]')
    .getByTestId('mlops-param-sweep')
    .fill('0.03, 0.1, 0.3, 0.6');
  await form.getByTestId('mlops-pipeline-workers').fill('2');
  await form.getByTestId('mlops-pipeline-run').click();
  const launch = view.getByTestId('mlops-launch');
  await expect(launch.getByTestId('mlops-execution')).toHaveCount(8); // prepare + train per trial

  await openNotebook(page, tmpPath, 'make_runs.ipynb', [RUNS_CELL]);
  await page.notebook.run();
  await expect(
    page
      .locator('.jp-Notebook .jp-OutputArea-output')
      .filter({ hasText: 'runs done' })
  ).toHaveCount(1, { timeout: 600_000 });
  await expect(
    launch.getByTestId('mlops-execution-status').filter({ hasText: 'FINISHED' })
  ).toHaveCount(8, { timeout: 600_000 });

  // The Pipelines view in the main-area tab: the sweep's launch, each trial's
  // swept value and metrics.
  await expect(sidebar).toBeVisible();
  const main = await openMainArea(page);
  await switchTo(main, 'pipelines');
  const mainLaunch = main.getByTestId('mlops-launch');
  await mainLaunch.scrollIntoViewIfNeeded();
  await main.screenshot({ path: path.join(DOCS, 'pipelines.png') });

  // The sweep view of the launch.
  await mainLaunch.getByTestId('mlops-launch-sweep-toggle').click();
  const mainSweep = mainLaunch.getByTestId('mlops-sweep-view');
  await expect(mainSweep.getByTestId('mlops-sweep-run')).toHaveCount(4);
  await chartsDrawn(mainSweep);
  await mainSweep.screenshot({ path: path.join(DOCS, 'sweep.png') });

  // Runs: one run's details, light and dark.
  await switchTo(main, 'runs');
  await main
    .getByTestId('mlops-experiment-select')
    .selectOption({ label: 'breast-cancer' });
  const rows = main.getByTestId('mlops-run-row');
  await expect(rows.first()).toBeVisible();
  const notebookRuns = rows.filter({ hasText: 'train_classifier.ipynb' });
  await expect(notebookRuns).toHaveCount(2);
  await notebookRuns.nth(0).locator('.jp-mlops-col-run_name').click();
  const details = main.getByTestId('mlops-run-details');
  await expect(details).toBeVisible();
  await chartsDrawn(details);
  await main.screenshot({ path: path.join(DOCS, 'panel.png') });
  await useTheme(page, 'dark');
  await chartsDrawn(details);
  await main.screenshot({ path: path.join(DOCS, 'panel-dark.png') });
  await useTheme(page, 'light');

  // Two runs compared.
  await notebookRuns.nth(1).getByTestId('mlops-run-checkbox').check();
  const compare = main.getByTestId('mlops-compare');
  await expect(compare).toBeVisible();
  await chartsDrawn(compare);
  await main.screenshot({ path: path.join(DOCS, 'panel-compare.png') });

  // Cost: this session's kernels and pipeline executions.
  await switchTo(main, 'cost');
  const cost = main.getByTestId('mlops-cost-view');
  await expect(cost.getByTestId('mlops-cost-row').first()).toBeVisible();
  await chartsDrawn(cost);
  await main.screenshot({ path: path.join(DOCS, 'cost.png') });
});
