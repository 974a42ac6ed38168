/**
 * End to end: the Environment view shows the current kernel's packages, and
 * comparing runs shows what changed between their environments.
 */
import { expect, galata, test } from './fixtures';
import type { Locator } from '@playwright/test';

import { openNotebook, openPanel, switchTo } from './helpers';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-mlops:plugin': {
      refreshInterval: 1,
      visibleColumns: ['status', 'run_name', 'env_hash']
    }
  }
});

/**
 * Two runs in this kernel's environment, then a third whose recorded
 * environment is edited afterwards (mlflow pinned to 3.0.0, mlflow-tracing
 * gone, example-added new), with its hash tag recomputed, as if it had run
 * somewhere else.
 */
const CELLS = [
  '%load_ext jupyter_mlops',
  [
    '%mlops start --experiment env-e2e --run-name first',
    '%mlops end',
    '%mlops start --experiment env-e2e --run-name second',
    '%mlops end'
  ].join('\n'),
  [
    'import re',
    'import mlflow',
    'import jupyter_mlops as mlops',
    'from jupyter_mlops.core.environment import content_hash, snapshot_from_text',
    '',
    'with mlops.start_run(experiment="env-e2e", run_name="changed") as run:',
    '    pass',
    'client = mlflow.MlflowClient()',
    'text = mlflow.artifacts.load_text(f"runs:/{run.run_id}/environment/environment.yml")',
    'text = re.sub(r"^(\\s*- mlflow==)\\S+", r"\\g<1>3.0.0", text, flags=re.M)',
    'text = re.sub(r"^\\s*- mlflow-tracing==\\S+\\n", "", text, flags=re.M)',
    'text = re.sub(r"^(\\s*- pip:\\n)", r"\\g<1>      - example-added==1.0\\n", text, flags=re.M)',
    'client.log_text(run.run_id, text, "environment/environment.yml")',
    'client.set_tag(run.run_id, "mlops.env.hash", content_hash(snapshot_from_text(text)))'
  ].join('\n')
];

test.describe('MLOps environments', () => {
  test('shows the kernel environment and diffs run environments', async ({
    page,
    tmpPath
  }) => {
    const panel = await openPanel(page);

    // No notebook yet: the server's interpreter, said so.
    await switchTo(panel, 'environment');
    const view = panel.getByTestId('mlops-env-view');
    await expect(view).toBeVisible();
    await expect(panel.getByTestId('mlops-runs')).toBeHidden();
    await expect(view.getByTestId('mlops-env-note')).toContainText(
      'Jupyter server'
    );
    await expect(view.getByTestId('mlops-env-python')).toHaveText(/^3\.\d+/);
    const rows = view.getByTestId('mlops-env-row');
    await expect.poll(() => rows.count()).toBeGreaterThan(20);

    // Client-side search: mlflow itself first, with a version.
    await view.getByTestId('mlops-env-search').fill('mlflow');
    await expect(rows.first()).toHaveAttribute('data-name', 'mlflow');
    const mlflow = view.locator(
      '[data-testid="mlops-env-row"][data-name="mlflow"]'
    );
    await expect(mlflow).toHaveCount(1);
    await expect(mlflow.locator('.jp-mlops-env-version')).toHaveText(
      /^\d+\.\d+/
    );
    for (const name of await rows.evaluateAll(els =>
      els.map(el => el.getAttribute('data-name') ?? '')
    )) {
      expect(name).toContain('mlflow');
    }
    await expect(view.getByTestId('mlops-env-count')).toContainText(' of ');
    await view.getByTestId('mlops-env-search').fill('no-such-package-here');
    await expect(view.getByTestId('mlops-env-no-match')).toBeVisible();
    await view.getByTestId('mlops-env-search').fill('');
    await expect.poll(() => rows.count()).toBeGreaterThan(20);

    // A notebook's kernel: the view follows it.
    await openNotebook(page, tmpPath, 'env.ipynb', CELLS);
    await expect(view.getByTestId('mlops-env-kernel')).toContainText(
      'env.ipynb'
    );
    await expect(view.getByTestId('mlops-env-note')).toHaveCount(0);
    await expect(view.getByTestId('mlops-env-hash-current')).toHaveText(
      /^[0-9a-f]{8}$/
    );

    await page.notebook.run();
    await expect(
      page.locator(
        '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
      )
    ).toHaveCount(0);

    // Runs view: the env hash column groups the two runs of this environment.
    // (A list of 420 px or more: in a narrower one the hash column collapses.)
    await page.sidebar.setWidth(620);
    await switchTo(panel, 'runs');
    await expect(view).toBeHidden();
    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'env-e2e' });
    const runRows = panel.getByTestId('mlops-run-row');
    await expect(runRows).toHaveCount(3);
    const hashOf = (name: string): Locator =>
      panel.locator(`[data-run-name="${name}"]`).getByTestId('mlops-env-hash');
    await expect(hashOf('first')).toHaveText(/^[0-9a-f]{8}$/);
    const firstHash = await hashOf('first').textContent();
    await expect(hashOf('second')).toHaveText(firstHash ?? '');
    await expect(hashOf('changed')).not.toHaveText(firstHash ?? '');

    await hashOf('first').click();
    await expect(panel.getByTestId('mlops-env-filter')).toBeVisible();
    await expect(runRows).toHaveCount(2);
    await panel.getByTestId('mlops-env-filter-clear').click();
    await expect(runRows).toHaveCount(3);

    // Two runs of the same environment.
    const check = (name: string): Locator =>
      panel
        .locator(`[data-run-name="${name}"]`)
        .getByTestId('mlops-run-checkbox');
    await check('first').check();
    await check('second').check();
    const diff = panel.getByTestId('mlops-env-diff');
    await expect(diff).toHaveAttribute('data-state', 'identical');
    await expect(diff).toContainText(
      new RegExp(`identical environments \\(hash ${firstHash}\\)`, 'i')
    );

    // The good run against the changed one: what changed, colored by kind.
    await check('second').uncheck();
    await check('changed').check();
    await expect(diff).toHaveAttribute('data-state', 'different');
    const change = (kind: string, name: string): Locator =>
      diff.locator(
        `[data-testid="mlops-env-diff-row"][data-change="${kind}"][data-name="${name}"]`
      );
    const changed = change('changed', 'mlflow');
    await expect(changed).toHaveCount(1);
    await expect(changed.locator('.jp-mlops-env-old')).toHaveText(/^\d+\.\d+/);
    await expect(changed.locator('.jp-mlops-env-new')).toHaveText('3.0.0');
    await expect(changed).toHaveClass(/jp-mlops-env-change-changed/);
    await expect(change('added', 'example-added')).toHaveCount(1);
    await expect(change('removed', 'mlflow-tracing')).toHaveCount(1);
    await expect(diff.getByTestId('mlops-env-diff-row')).toHaveCount(3);
    await expect(diff.getByTestId('mlops-env-diff-summary')).toContainText(
      '1 changed, 1 added, 1 removed'
    );

    // Swapped: the same change, the other way round.
    await diff.getByTestId('mlops-env-diff-swap').click();
    await expect(changed.locator('.jp-mlops-env-old')).toHaveText('3.0.0');
    await expect(change('added', 'mlflow-tracing')).toHaveCount(1);

    // One run: its environment.yml, as text.
    await panel
      .locator('[data-run-name="changed"]')
      .locator('.jp-mlops-col-run_name')
      .click();
    const details = panel.getByTestId('mlops-run-details');
    await details.getByTestId('mlops-run-env-toggle').click();
    await expect(details.getByTestId('mlops-env-yml')).toContainText(
      'mlflow==3.0.0'
    );
  });

  test('explains a server without the environment API', async ({ page }) => {
    await page.route('**/jupyter-mlops/api/environment/current*', route =>
      route.fulfill({ status: 404, body: '<html>404: Not Found</html>' })
    );
    const panel = await openPanel(page);
    await switchTo(panel, 'environment');
    await expect(panel.getByTestId('mlops-env-error')).toContainText(
      'has no environment API'
    );
    await expect(panel.getByTestId('mlops-env-row')).toHaveCount(0);
  });
});
