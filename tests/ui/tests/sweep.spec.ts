/**
 * End to end (issue 14, items 6 and 7): a 4-trial sweep of a small notebook
 * launched from the Pipelines view; the launch table shows each execution's
 * swept value and its metric, and fits the default sidebar width (no
 * sideways scroll); the launch's sweep view draws one line per
 * trial across the parallel coordinates (each axis with its own min and max)
 * and a scatter of the swept parameter against the metric with 4 points.
 *
 * `MLOPS_SHOTS=<folder>` saves a screenshot of the launch there.
 */
import { expect, test } from './fixtures';
import * as path from 'path';

import {
  expectNoSideScroll,
  expectReadableText,
  hasTheme,
  useTheme
} from './contrast';
import {
  exportPipeline,
  FAST_REFRESH,
  notebook,
  selectPipeline,
  switchTo
} from './helpers';

const SHOTS = process.env.MLOPS_SHOTS ?? '';

test.use(FAST_REFRESH);

/** `score = lr * 10 + epochs`, logged as a metric of the execution's run. */
function sweepNotebook(): string {
  const json = JSON.parse(
    notebook([
      'lr = 0.1\nepochs = 2',
      'import jupyter_mlops\njupyter_mlops.log_metric("score", lr * 10 + epochs)'
    ])
  );
  json.cells[0].metadata.tags = ['parameters'];
  return JSON.stringify(json);
}

test('a sweep shows its swept values, metrics and sweep view', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(300_000); // four kernels, on a machine other tests share
  const file = `${tmpPath}/sweep.ipynb`;
  const output = `${tmpPath}/pipelines/sweep`;
  await page.contents.uploadContent(sweepNotebook(), 'text', file);
  await exportPipeline(page, file, output);

  const { panel, view } = await selectPipeline(page, output);
  const form = view.getByTestId('mlops-pipeline-form');
  await form
    .locator('[data-testid="mlops-param"][data-key="sweep.lr"]')
    .getByTestId('mlops-param-sweep')
    .fill('0.1, 0.2, 0.3, 0.4');
  await expect(form.getByTestId('mlops-pipeline-trials')).toHaveText(
    '4 trials'
  );
  await form.getByTestId('mlops-pipeline-workers').fill('2');
  await form.getByTestId('mlops-pipeline-run').click();

  const launch = view.getByTestId('mlops-launch');
  const rows = launch.getByTestId('mlops-execution');
  await expect(rows).toHaveCount(4);
  await expect(rows.getByTestId('mlops-execution-status')).toHaveText(
    ['FINISHED', 'FINISHED', 'FINISHED', 'FINISHED'],
    { timeout: 240_000 }
  );
  // The swept value only (epochs is the same in every trial), and the metric.
  await expect(rows.getByTestId('mlops-execution-swept')).toHaveText([
    'lr=0.1',
    'lr=0.2',
    'lr=0.3',
    'lr=0.4'
  ]);
  await expect(rows.getByTestId('mlops-execution-metrics')).toHaveText([
    'score=3',
    'score=4',
    'score=5',
    'score=6'
  ]);
  // At the default sidebar width the launch table fits: no sideways scroll,
  // the swept value and the metric shown as text.
  const table = launch.locator(
    '.jp-mlops-table-wrapper:has([data-testid="mlops-executions"])'
  );
  for (const box of [table, launch, panel]) {
    const { scroll, client } = await box.evaluate(el => ({
      scroll: el.scrollWidth,
      client: el.clientWidth
    }));
    expect(client).toBeGreaterThan(0);
    expect(scroll).toBeLessThanOrEqual(client);
  }
  const width = await panel.evaluate(el => el.getBoundingClientRect().width);
  expect(width).toBeLessThan(400); // the sidebar as it opens, not widened
  await expect(rows.first().getByTestId('mlops-execution-swept')).toBeVisible();
  await expect(
    rows.first().getByTestId('mlops-execution-metrics')
  ).toBeVisible();
  await expectNoSideScroll(panel);
  // Its chips and lines read at 4.5:1 or more, in the light and dark themes.
  const executions = launch.getByTestId('mlops-executions');
  await expectReadableText(executions);
  if (await hasTheme(page, 'dark')) {
    await useTheme(page, 'dark');
    await expectReadableText(executions);
    await useTheme(page, 'light');
  }

  // The sweep view of the launch.
  await launch.getByTestId('mlops-launch-sweep-toggle').click();
  const sweep = launch.getByTestId('mlops-sweep-view');
  await expect(sweep).toBeVisible();
  const parallel = sweep.getByTestId('mlops-sweep-parallel');
  await expect(parallel).toHaveAttribute('data-lines', '4');
  await expect(parallel).toHaveAttribute('data-axes', '2');
  await expect(parallel.locator('canvas')).toHaveAttribute('data-lines', '4');
  const axes = sweep.getByTestId('mlops-sweep-axis');
  await expect(axes).toHaveCount(2);
  await expect(axes.nth(0)).toHaveText(['lr', '0.1', '0.4'].join(''));
  await expect(axes.nth(1)).toHaveText(['score', '3', '6'].join(''));
  const scatter = sweep.getByTestId('mlops-sweep-scatter');
  await expect(scatter).toHaveAttribute('data-points', '4');
  await expect(scatter).toHaveAttribute('data-param', 'lr');
  await expect(scatter).toHaveAttribute('data-metric', 'score');
  await expect(scatter.locator('canvas')).toHaveAttribute('data-points', '4');
  await expect(sweep.getByTestId('mlops-sweep-run')).toHaveCount(4);
  // Drawn: the canvas is not blank.
  const inked = await parallel.locator('canvas').evaluate(canvas => {
    const c = canvas as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 3; i < data.data.length; i += 4) {
      n += data.data[i] > 0 ? 1 : 0;
    }
    return n;
  });
  expect(inked).toBeGreaterThan(100);
  if (SHOTS) {
    await launch.screenshot({ path: path.join(SHOTS, 'sweep-view.png') });
  }

  // The same sweep from the Runs view: its parent row expands to the four
  // trials; ticking them compares them, with a sweep view of those runs.
  await switchTo(panel, 'runs');
  const parent = panel
    .getByTestId('mlops-run-row')
    .filter({ has: page.getByTestId('mlops-expand') })
    .first();
  await parent.getByTestId('mlops-expand').click();
  const trials = panel.locator(
    '.jp-mlops-child-row[data-testid="mlops-run-row"]'
  );
  await expect(trials).toHaveCount(4);
  for (let i = 0; i < 4; i++) {
    await trials.nth(i).getByTestId('mlops-run-checkbox').check();
  }
  const compare = panel.getByTestId('mlops-compare');
  await expect(compare).toBeVisible();
  await compare.getByTestId('mlops-sweep-toggle').click();
  const compared = compare.getByTestId('mlops-sweep-view');
  await expect(compared.getByTestId('mlops-sweep-run')).toHaveCount(4);
  await expect(
    compared.getByTestId('mlops-sweep-parallel').locator('canvas')
  ).toHaveAttribute('data-lines', '4');
  await expect(
    compared.getByTestId('mlops-sweep-scatter').locator('canvas')
  ).toHaveAttribute('data-points', '4');
  await expect(compared.getByTestId('mlops-sweep-scatter')).toHaveAttribute(
    'data-param',
    'lr'
  );
});
