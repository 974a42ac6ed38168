/**
 * End to end: a notebook without a `parameters` cell is exported from its
 * toolbar ("Export to pipeline", tagging the cell in the dialog); the
 * Pipelines view shows the pipeline's run form, a changed parameter is run
 * with papermill, and the execution's links open its MLflow run and its
 * output notebook.
 */
import { expect, test } from './fixtures';
import type { Page } from '@playwright/test';

import { FAST_REFRESH, type IApp, openNotebook, openPanel } from './helpers';

test.use(FAST_REFRESH);

/** The first cell assigns the parameters; it is not tagged yet. */
const CELLS = [
  ['lr: float = 0.1', 'epochs = 2', 'label = "demo"', 'size = len(label)'].join(
    '\n'
  ),
  [
    'import json',
    'score = lr * epochs',
    'print(json.dumps({"score": score, "label": label}))'
  ].join('\n')
];

/** A file under the server root, as the contents API returns it. */
async function readNotebook(
  page: Page,
  path: string
): Promise<{ cells: { metadata: { tags?: string[] }; source: string }[] }> {
  const response = await page.request.get(
    `/api/contents/${path.split('/').map(encodeURIComponent).join('/')}?content=1`
  );
  expect(response.ok()).toBe(true);
  return (await response.json()).content;
}

/** The path of the notebook shown in the main area. */
function currentPath(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    const widget = app.shell.currentWidget as {
      context?: { path?: string };
    } | null;
    return widget?.context?.path ?? null;
  });
}

test.describe('MLOps pipelines', () => {
  test('exports a notebook and launches a run from the panel', async ({
    page,
    tmpPath
  }) => {
    const panel = await openPanel(page);

    await openNotebook(page, tmpPath, 'shapes.ipynb', CELLS);
    await page.notebook.selectCells(0);

    // The notebook toolbar's button opens the export dialog.
    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-command="jupyter-mlops:export-pipeline"]'
      )
      .click();
    const dialog = page.locator('.jp-Dialog');
    const form = dialog.getByTestId('mlops-export-dialog');
    await expect(form).toBeVisible();

    // No parameters cell yet: tag the first (active) cell.
    const tagCell = form.getByTestId('mlops-export-tag-cell');
    await expect(tagCell).toHaveValue('0');
    await expect(tagCell.locator('option').first()).toHaveText(
      /^\[0\] lr: float = 0\.1/
    );
    const output = `${tmpPath}/pipelines/shapes`;
    await expect(form.getByTestId('mlops-export-output')).toHaveValue(
      'pipelines/shapes'
    );
    await form.getByTestId('mlops-export-output').fill(output);
    await dialog.locator('.jp-Dialog-button.jp-mod-accept').click();
    await expect(dialog).toHaveCount(0);

    // The source notebook now has its parameters cell.
    // (the dialog closes on "Export"; the export request finishes after it)
    await expect
      .poll(
        async () =>
          (await readNotebook(page, `${tmpPath}/shapes.ipynb`)).cells[0]
            .metadata.tags ?? []
      )
      .toContain('parameters');

    // The Pipelines view, the new pipeline selected, its form at the defaults.
    const view = panel.getByTestId('mlops-pipelines-view');
    await expect(view).toBeVisible();
    await expect(
      panel.getByTestId('mlops-view-switch').locator('[data-view="pipelines"]')
    ).toHaveAttribute('aria-selected', 'true');
    const item = view.locator(
      `[data-testid="mlops-pipeline-item"][data-path="${output}"]`
    );
    await expect(item).toHaveAttribute('aria-pressed', 'true');
    const pipelineForm = view.getByTestId('mlops-pipeline-form');
    const param = (key: string) =>
      pipelineForm.locator(`[data-testid="mlops-param"][data-key="${key}"]`);
    await expect(param('shapes.lr')).toHaveAttribute('data-kind', 'number');
    await expect(param('shapes.epochs')).toHaveAttribute(
      'data-kind',
      'integer'
    );
    await expect(param('shapes.label')).toHaveAttribute('data-kind', 'text');
    await expect(
      param('shapes.size').getByTestId('mlops-param-flag')
    ).toHaveText('non-literal');
    await expect(
      param('shapes.size').getByTestId('mlops-param-input')
    ).toHaveCount(0);
    const lr = param('shapes.lr').getByTestId('mlops-param-input');
    await expect(lr).toHaveValue('0.1');

    // A bad value is refused in the form; nothing runs.
    const epochs = param('shapes.epochs').getByTestId('mlops-param-input');
    await epochs.fill('2.5');
    await pipelineForm.getByTestId('mlops-pipeline-run').click();
    await expect(
      pipelineForm.getByTestId('mlops-pipeline-form-errors')
    ).toContainText('shapes.epochs: "2.5" is not an integer');
    await expect(view.getByTestId('mlops-launch')).toHaveCount(0);

    // Change a parameter and run. (Launches of earlier tests on this
    // server are listed too.)
    const launchItems = view.getByTestId('mlops-launch-item');
    const earlier = await launchItems.count();
    await epochs.fill('3');
    await lr.fill('0.5');
    await pipelineForm.getByTestId('mlops-pipeline-run').click();
    const launch = view.getByTestId('mlops-launch');
    await expect(launch).toBeVisible();
    const row = launch.getByTestId('mlops-execution');
    await expect(row).toHaveCount(1);
    await expect(row).toHaveAttribute('data-step', 'shapes');
    await expect(row.getByTestId('mlops-execution-status')).toHaveAttribute(
      'data-status',
      'FINISHED',
      { timeout: 90_000 }
    );
    await expect(launch.getByTestId('mlops-launch-status')).toHaveAttribute(
      'data-status',
      'FINISHED'
    );
    await expect(row).toContainText('lr=0.5');
    await expect(launchItems).toHaveCount(earlier + 1);

    // The output notebook: it opens, and it ran with the new values.
    const outputLink = row.getByTestId('mlops-execution-output');
    await expect(outputLink).toBeVisible();
    const outputPath = await outputLink.getAttribute('title');
    expect(outputPath).toMatch(/\.ipynb$/);
    await outputLink.click();
    await expect.poll(() => currentPath(page)).toBe(outputPath);
    const executed = await readNotebook(page, outputPath!);
    const injected = executed.cells.find(cell =>
      (cell.metadata.tags ?? []).includes('injected-parameters')
    );
    expect(injected?.source).toContain('lr = 0.5');
    expect(injected?.source).toContain('epochs = 3');

    // The MLflow run: shown in the Runs view.
    await row.getByTestId('mlops-execution-run').click();
    await expect(
      panel.getByTestId('mlops-view-switch').locator('[data-view="runs"]')
    ).toHaveAttribute('aria-selected', 'true');
    await expect(panel.getByTestId('mlops-run-details')).toBeVisible();

    // A sweep: one execution per value, the newest launch watched.
    await panel
      .getByTestId('mlops-view-switch')
      .locator('[data-view="pipelines"]')
      .click();
    await param('shapes.lr').getByTestId('mlops-param-sweep').fill('0.2, 0.3');
    await expect(pipelineForm.getByTestId('mlops-pipeline-trials')).toHaveText(
      '2 trials'
    );
    await pipelineForm.getByTestId('mlops-pipeline-run').click();
    await expect(launchItems).toHaveCount(earlier + 2);
    const rows = view
      .getByTestId('mlops-launch')
      .getByTestId('mlops-execution');
    await expect(rows).toHaveCount(2);
    await expect(rows.getByTestId('mlops-execution-status')).toHaveText(
      ['FINISHED', 'FINISHED'],
      { timeout: 90_000 }
    );
    await expect(rows.nth(0)).toContainText('lr=0.2');
    await expect(rows.nth(1)).toContainText('lr=0.3');
  });
});
