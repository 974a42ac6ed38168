/**
 * End to end: a notebook tracks runs with %mlops; the MLOps panel lists them,
 * shows one run's charts and compares two.
 */
import { expect, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';

import { FAST_REFRESH, openNotebook, openPanel } from './helpers';

test.use(FAST_REFRESH);

/** One tracked run as %mlops lines. */
function runCell(
  experiment: string,
  name: string,
  params: string,
  acc: number[],
  loss: number[]
): string {
  return [
    `%mlops start --experiment ${experiment} --run-name ${name}`,
    `%mlops param ${params}`,
    ...acc.map(
      (value, i) => `%mlops log acc=${value} loss=${loss[i]} --step ${i + 1}`
    ),
    '%mlops end'
  ].join('\n');
}

async function expectNoErrors(page: Page): Promise<void> {
  await expect(
    page.locator(
      '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    )
  ).toHaveCount(0);
}

async function expectCanvasDrawn(chart: Locator): Promise<void> {
  const canvas = chart.locator('canvas');
  await expect(canvas).toBeVisible();
  const box = await canvas.boundingBox();
  expect(box?.width ?? 0).toBeGreaterThan(50);
  expect(box?.height ?? 0).toBeGreaterThan(50);
  // chart.js sized the backing store too (it draws nothing into a 0x0 canvas).
  const size = await canvas.evaluate((el: HTMLCanvasElement) => [
    el.width,
    el.height
  ]);
  expect(size[0]).toBeGreaterThan(0);
  expect(size[1]).toBeGreaterThan(0);
}

test.describe('MLOps panel', () => {
  test('lists runs from a notebook, charts one and compares two', async ({
    page,
    tmpPath
  }) => {
    const panel = await openPanel(page);
    await expect(panel.locator('.jp-mlops-header-title')).toHaveText('MLOps');
    await expect(panel.getByTestId('mlops-server-missing')).toHaveCount(0);

    await openNotebook(page, tmpPath, 'e2e.ipynb', [
      '%load_ext jupyter_mlops',
      runCell('e2e', 'baseline', 'lr=0.1 depth=3', [0.5, 0.7], [0.9, 0.6]),
      runCell(
        'e2e',
        'tuned',
        'lr=0.01 depth=3 note=<b>bold</b>',
        [0.6, 0.8],
        [0.8, 0.4]
      )
    ]);
    await page.notebook.run();
    await expectNoErrors(page);

    // The runs appear (auto-refresh), newest first, in the e2e experiment.
    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'e2e' });
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0)).toHaveAttribute('data-run-name', 'tuned');
    await expect(rows.nth(1)).toHaveAttribute('data-run-name', 'baseline');
    await expect(rows.nth(0)).toHaveAttribute('data-status', 'FINISHED');
    await expect(rows.nth(1).locator('.jp-mlops-col-notebook')).toContainText(
      'e2e.ipynb'
    );

    // Server-side sort by run name.
    await panel.getByTestId('mlops-sort-run_name').click();
    await expect(rows.nth(0)).toHaveAttribute('data-run-name', 'baseline');

    // One run: details with a chart per metric.
    const baseline = panel.locator('[data-run-name="baseline"]');
    await baseline.locator('.jp-mlops-col-run_name').click();
    const details = panel.getByTestId('mlops-run-details');
    await expect(details.getByTestId('mlops-details-name')).toHaveText(
      'baseline'
    );
    await expect(
      details
        .getByTestId('mlops-params')
        .locator('tr[data-key="lr"] td.jp-mlops-kv-value')
    ).toHaveText('0.1');
    const accChart = details.locator(
      '[data-testid="mlops-chart"][data-metric="acc"]'
    );
    await expect(accChart.locator('.jp-mlops-chart-note')).toHaveText(
      'latest 0.7'
    );
    await expectCanvasDrawn(accChart);
    await expectCanvasDrawn(
      details.locator('[data-testid="mlops-chart"][data-metric="loss"]')
    );

    // Two runs: params side by side, the differing one highlighted, curves overlaid.
    await panel
      .locator('[data-run-name="tuned"]')
      .getByTestId('mlops-run-checkbox')
      .check();
    const compare = panel.getByTestId('mlops-compare');
    await expect(compare).toBeVisible();
    const lr = compare.locator(
      '[data-testid="mlops-compare-param-row"][data-key="lr"]'
    );
    await expect(lr).toHaveAttribute('data-differs', 'true');
    await expect(lr).toHaveClass(/jp-mlops-differs/);
    await expect(lr.locator('td')).toHaveText(['0.1', '0.01']);
    const depth = compare.locator(
      '[data-testid="mlops-compare-param-row"][data-key="depth"]'
    );
    await expect(depth).toHaveAttribute('data-differs', 'false');
    await expect(depth).not.toHaveClass(/jp-mlops-differs/);
    await expectCanvasDrawn(
      compare.locator('[data-testid="mlops-compare-chart"][data-metric="acc"]')
    );

    // Param text is shown as text, never parsed as HTML.
    const note = compare.locator(
      '[data-testid="mlops-compare-param-row"][data-key="note"]'
    );
    await expect(note.locator('td').nth(1)).toHaveText('<b>bold</b>');
    await expect(compare.locator('b')).toHaveCount(0);
  });

  test('shows a running run live, then its final state', async ({
    page,
    tmpPath
  }) => {
    const panel = await openPanel(page);
    await openNotebook(page, tmpPath, 'live.ipynb', [
      [
        '%load_ext jupyter_mlops',
        '%mlops start --experiment e2e-live --run-name live',
        '%mlops log acc=0.1 --step 1'
      ].join('\n'),
      '%mlops end'
    ]);
    await page.notebook.runCell(0);
    await expectNoErrors(page);

    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'e2e-live' });
    const row = panel.locator('[data-run-name="live"]');
    await expect(row).toHaveAttribute('data-status', 'RUNNING');
    await expect(row.getByTestId('mlops-run-status')).toHaveText('running');

    await page.notebook.runCell(1);
    await expect(row).toHaveAttribute('data-status', 'FINISHED');
    await expect(row.getByTestId('mlops-run-status')).toHaveText('finished');
  });

  test('tells the user how to fix a missing server extension', async ({
    page
  }) => {
    await page.route('**/jupyter-mlops/api/health*', route =>
      route.fulfill({ status: 404, body: '404: Not Found' })
    );
    const panel = await openPanel(page);
    const message = panel.getByTestId('mlops-server-missing');
    await expect(message).toContainText('pip install jupyter-mlops');
    await expect(message).toContainText('jupyter server extension list');
    await expect(panel.getByTestId('mlops-runs-table')).toHaveCount(0);
  });
});
