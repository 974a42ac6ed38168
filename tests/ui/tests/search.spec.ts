/**
 * The runs list (issue 14, items 2, 3, 5, 6): search in the shorthand and in
 * MLflow's syntax, a refused search explained under the box with the list
 * unchanged, the empty-list wording with its Clear filter button, a metric
 * column from the settings sorted on the server, a sweep parent with its
 * children's status counts and best value that expands to its children, and
 * no sideways scrolling at the default sidebar width.
 */
import { expect, galata, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';

import { openNotebook, openPanel } from './helpers';

const EXPERIMENT = 'search-ui';

test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-mlops:plugin': {
      refreshInterval: 1,
      columns: ['metrics.accuracy']
    }
  }
});

/** Runs written with MLflow's client in a kernel (the server's store): 3 plain runs, a sweep of 3. */
const SEED = `
import time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
c = MlflowClient()
found = c.get_experiment_by_name('${EXPERIMENT}')
eid = found.experiment_id if found else c.create_experiment('${EXPERIMENT}')
def run(name, params=None, metrics=None, tags=None, status='FINISHED'):
    r = c.create_run(eid, run_name=name)
    now = int(time.time() * 1000)
    c.log_batch(
        r.info.run_id,
        metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, v) for k, v in (params or {}).items()],
        tags=[RunTag(k, v) for k, v in (tags or {}).items()],
    )
    c.set_terminated(r.info.run_id, status)
    time.sleep(0.01)
    return r.info.run_id
run('baseline', {'lr': '0.1'}, {'accuracy': 0.8}, {'epic': 'MLOPS-12'})
run('tuned', {'lr': '0.3'}, {'accuracy': 0.95}, {'epic': 'MLOPS-12'})
run('other', {'lr': '0.3'}, {'accuracy': 0.7}, {'epic': 'MLOPS-7'})
parent = run('sweep')
for i, acc in enumerate([0.6, 0.9, 0.75]):
    run(f'trial-{i}', {'lr': str(i / 10)}, {'accuracy': acc},
        {'mlflow.parentRunId': parent}, 'FAILED' if i == 2 else 'FINISHED')
print('seeded')
`;

async function search(panel: Locator, text: string): Promise<void> {
  const box = panel.getByTestId('mlops-search');
  await box.fill(text);
  await box.press('Enter');
}

function runsTable(panel: Locator): Locator {
  return panel.getByTestId('mlops-runs-table');
}

function names(panel: Locator): Locator {
  return panel.locator(
    '[data-testid="mlops-run-row"]:not(.jp-mlops-child-row) .jp-mlops-run-name'
  );
}

/** Reload the page; the panel again, wide, on the experiment. */
async function reloadPanel(page: Page): Promise<Locator> {
  // The seed notebook is restored in place of the launcher that galata's
  // ready check waits for: wait for the splash screen instead.
  await page.reload({ waitForIsReady: false });
  await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
  const panel = await openPanel(page);
  await page.sidebar.setWidth(760);
  await panel
    .getByTestId('mlops-experiment-select')
    .selectOption({ label: EXPERIMENT });
  await expect(names(panel)).toHaveCount(4);
  return panel;
}

async function seed(page: Page, tmpPath: string): Promise<void> {
  await openNotebook(page, tmpPath, 'seed.ipynb', [SEED]);
  await page.notebook.run();
  await expect(page.locator('.jp-OutputArea-output').last()).toContainText(
    'seeded',
    { timeout: 60_000 }
  );
}

test('search, empty states, metric column, nesting, narrow list', async ({
  page,
  tmpPath
}) => {
  test.setTimeout(240_000);
  await seed(page, tmpPath);
  let panel = await openPanel(page);
  await page.sidebar.setWidth(760); // wide: every column shows
  await panel
    .getByTestId('mlops-experiment-select')
    .selectOption({ label: EXPERIMENT });

  // Nested: top-level runs only, newest first; the sweep summarizes its children.
  await expect(names(panel)).toHaveText([
    'sweep',
    'other',
    'tuned',
    'baseline'
  ]);
  const sweep = panel.locator(
    '[data-testid="mlops-run-row"][data-run-name="sweep"]'
  );
  await expect(sweep.getByTestId('mlops-children-summary')).toHaveText(
    '2 \u2713 1 \u2717'
  );
  // The settings' metric column; the sweep shows its best child's value.
  await expect(sweep.getByTestId('mlops-best')).toHaveText('0.9');
  await sweep.getByTestId('mlops-expand').click();
  const children = panel.locator(
    '.jp-mlops-child-row[data-testid="mlops-run-row"]'
  );
  await expect(children).toHaveCount(3);
  await expect(children.first()).toHaveAttribute(
    'data-parent-id',
    (await sweep.getAttribute('data-run-id')) ?? ''
  );
  await sweep.getByTestId('mlops-expand').click();
  await expect(children).toHaveCount(0);

  // Sorted by the metric on the server: highest first, the sweep (no value) last.
  await panel.getByTestId('mlops-sort-metrics.accuracy').click();
  await expect(names(panel)).toHaveText([
    'tuned',
    'baseline',
    'other',
    'sweep'
  ]);

  // The shorthand and MLflow's syntax (a search lists flat: children too).
  await search(panel, 'lr=0.3 accuracy>0.9');
  await expect(names(panel)).toHaveText(['tuned']);
  await search(panel, "params.lr = '0.3' and tags.epic = 'MLOPS-7'");
  await expect(names(panel)).toHaveText(['other']);
  await search(panel, 'trial status=failed');
  await expect(names(panel)).toHaveText(['trial-2']);

  // A refused search: explained under the box, the list unchanged, no banner.
  await search(panel, "params.lr = '0.3' and tags.epic = 'MLOPS-7'");
  await expect(names(panel)).toHaveText(['other']);
  await search(panel, 'params.lr = 0.3');
  const error = panel.getByTestId('mlops-search-error');
  await expect(error).toContainText('does not parse');
  await expect(error).toContainText("params.lr = '0.3'");
  await expect(panel.getByTestId('mlops-error')).toHaveCount(0);
  await expect(names(panel)).toHaveText(['other']);

  // No match: the details go, the wording says why, Clear filter lists all again.
  await panel.locator('[data-run-name="other"] .jp-mlops-col-run_name').click();
  await expect(panel.getByTestId('mlops-run-details')).toHaveCount(1);
  await search(panel, 'no-such-run');
  await expect(error).toHaveCount(0);
  const empty = panel.getByTestId('mlops-empty');
  await expect(empty).toContainText('No runs match no-such-run');
  await expect(empty).not.toContainText('No runs yet');
  await expect(panel.getByTestId('mlops-run-details')).toHaveCount(0);
  await panel.getByTestId('mlops-clear-filter').click();
  await expect(panel.getByTestId('mlops-search')).toHaveValue('');
  await expect(names(panel)).toHaveCount(4);

  // "Show as column" from a run's details: its param becomes a column of the list.
  await panel.locator('[data-run-name="tuned"] .jp-mlops-col-run_name').click();
  const lrRow = panel.getByTestId('mlops-params').locator('tr[data-key="lr"]');
  const showLr = lrRow.getByTestId('mlops-show-column');
  await expect(showLr).toHaveText('column');
  await showLr.click();
  await expect(
    runsTable(panel).locator('th[data-column="params.lr"]')
  ).toBeVisible();
  await expect(showLr).toHaveText('in list');
  await expect(showLr).toBeDisabled();
  await expect(
    panel.locator('[data-run-name="tuned"] td.jp-mlops-col-params-value')
  ).toHaveText('0.3');

  // The column is saved in the settings: still there after a reload; its
  // header's "hide" removes it, and it stays removed after a reload.
  const lrHeader = (p: Locator): Locator =>
    runsTable(p).locator('th[data-column="params.lr"]');
  panel = await reloadPanel(page);
  await expect(lrHeader(panel)).toBeVisible();
  const hide = lrHeader(panel).getByTestId('mlops-hide-column');
  await expect(hide).toHaveAttribute('aria-label', 'Hide column params.lr');
  await hide.click();
  await expect(lrHeader(panel)).toHaveCount(0);
  panel = await reloadPanel(page);
  await expect(
    runsTable(panel).locator('th[data-column="metrics.accuracy"]')
  ).toBeVisible();
  await expect(lrHeader(panel)).toHaveCount(0);
  // A reload starts on the default sort: sort by the metric again.
  await panel.getByTestId('mlops-sort-metrics.accuracy').click();
  await expect(
    runsTable(panel).locator('th[data-column="metrics.accuracy"]')
  ).not.toHaveAttribute('aria-sort', 'none');

  // The default sidebar width: status, name and the sort column; no sideways scroll.
  await page.sidebar.setWidth(280);
  const table = panel.getByTestId('mlops-runs-table');
  await expect(table.locator('th.jp-mlops-col-start_time')).toBeHidden();
  await expect(table.locator('th.jp-mlops-col-status')).toBeVisible();
  await expect(table.locator('th.jp-mlops-col-run_name')).toBeVisible();
  await expect(
    table.locator('th[data-column="metrics.accuracy"]')
  ).toBeVisible();
  for (const box of [
    panel.locator(
      '.jp-mlops-table-wrapper:has([data-testid="mlops-runs-table"])'
    ),
    panel.locator('.jp-mlops-runs-widget')
  ]) {
    const overflow = await box.evaluate(el => el.scrollWidth - el.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
  }
});
