/**
 * Run actions in the run details (issue 14): rename, tag edits, a Markdown
 * note rendered by JupyterLab, delete and restore (from the details and from
 * the list of deleted runs), the link to the run in MLflow's UI (the test
 * server configures `c.MlopsConfig.mlflow_ui_url`), and the comparison's CSV
 * and Markdown export read back from the browser's download.
 *
 * Runs come from a real notebook (`%mlops`); every edit goes through the real
 * REST routes into the real MLflow store, and the panel is checked after it.
 */
import { expect, test } from './fixtures';
import type { Locator } from '@playwright/test';
import * as fs from 'fs';

import { FAST_REFRESH, openNotebook, openPanel } from './helpers';

test.use(FAST_REFRESH);

const EXPERIMENT = 'actions';
const MLFLOW_UI = 'http://mlflow.example:5000';

function runCell(name: string, params: string, acc: number): string {
  return [
    `%mlops start --experiment ${EXPERIMENT} --run-name ${name} --tag team=ds`,
    `%mlops param ${params}`,
    `%mlops log acc=${acc}`,
    '%mlops end'
  ].join('\n');
}

async function readDownload(
  panel: Locator,
  testId: string
): Promise<{ name: string; text: string }> {
  const page = panel.page();
  const downloading = page.waitForEvent('download');
  await panel.getByTestId(testId).click();
  const download = await downloading;
  const file = await download.path();
  return {
    name: download.suggestedFilename(),
    text: fs.readFileSync(file, 'utf8')
  };
}

test.describe('MLOps run actions', () => {
  // Galata answers /api/me itself by default (no permissions): ask the server,
  // which grants `write` on mlops:runs to the test user.
  test.use({ mockUser: false });

  test('rename, tags, note, delete and restore, MLflow UI link, export', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(240_000);
    const panel = await openPanel(page);
    await openNotebook(page, tmpPath, 'actions.ipynb', [
      '%load_ext jupyter_mlops',
      runCell('alpha', 'lr=0.1 \'label=a, "b"\'', 0.9),
      runCell('beta', "lr=0.2 'label=x|y'", 0.8)
    ]);
    await page.notebook.run();
    await expect(page.locator('.jp-Notebook')).toContainText('Ended run');

    const select = panel.getByTestId('mlops-experiment-select');
    await select.selectOption({ label: EXPERIMENT });
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(2);
    const row = (name: string): Locator =>
      rows.filter({
        has: page.locator('.jp-mlops-col-run_name', { hasText: name })
      });
    await row('alpha').locator('.jp-mlops-col-run_name').click();
    const details = panel.getByTestId('mlops-run-details');
    await expect(details.getByTestId('mlops-details-name')).toHaveText('alpha');
    const actions = details.getByTestId('mlops-run-actions');
    await expect(actions).toHaveAttribute('data-can-edit', 'true');
    const runId = (await details.getAttribute('data-run-id')) ?? '';
    expect(runId).toMatch(/^[0-9a-f]{32}$/);

    // The link to MLflow's UI, in a new tab without an opener.
    const link = actions.getByTestId('mlops-open-mlflow');
    const experimentId = await page.evaluate(async id => {
      const reply = await fetch(`/jupyter-mlops/api/runs/${id}`);
      return ((await reply.json()) as { experiment_id: string }).experiment_id;
    }, runId);
    await expect(link).toHaveAttribute(
      'href',
      `${MLFLOW_UI}/#/experiments/${experimentId}/runs/${runId}`
    );
    await expect(link).toHaveAttribute('target', '_blank');
    await expect(link).toHaveAttribute('rel', /noopener/);

    // Rename: the details and the list follow.
    await actions.getByTestId('mlops-run-rename').click();
    const nameInput = actions.getByTestId('mlops-rename-input');
    await nameInput.fill('   ');
    await expect(actions.getByTestId('mlops-rename-save')).toBeDisabled();
    await nameInput.fill('alpha v2');
    await actions.getByTestId('mlops-rename-save').click();
    await expect(details.getByTestId('mlops-details-name')).toHaveText(
      'alpha v2'
    );
    await expect(row('alpha v2')).toHaveCount(1);

    // Tags: add one, change one, remove one; system tags are refused.
    const editor = actions.getByTestId('mlops-tag-editor');
    const tagItem = (key: string): Locator =>
      editor.locator(`[data-testid="mlops-tag-item"][data-key="${key}"]`);
    await editor.getByTestId('mlops-tag-key').fill('mlops.project');
    await expect(editor).toContainText('read-only');
    await expect(editor.getByTestId('mlops-tag-save')).toBeDisabled();
    await editor.getByTestId('mlops-tag-key').fill('stage');
    await editor.getByTestId('mlops-tag-value').fill('prod');
    await editor.getByTestId('mlops-tag-save').click();
    await expect(tagItem('stage')).toContainText('prod');
    await tagItem('team').getByTestId('mlops-tag-edit').click();
    await editor.getByTestId('mlops-tag-value').fill('ml');
    await editor.getByTestId('mlops-tag-save').click();
    await expect(tagItem('team')).toContainText('ml');
    await tagItem('stage').getByTestId('mlops-tag-remove').click();
    await expect(tagItem('stage')).toHaveCount(0);
    const tags = details.getByTestId('mlops-tags');
    await expect(
      tags.locator('tr[data-key="team"] td.jp-mlops-kv-value')
    ).toHaveText('ml');
    await expect(tags.locator('tr[data-key="stage"]')).toHaveCount(0);

    // The note: Markdown, rendered by JupyterLab.
    const note = actions.getByTestId('mlops-run-note');
    await note.getByTestId('mlops-note-edit').click();
    await note
      .getByTestId('mlops-note-input')
      .fill('# Findings\n\nThe **lr** matters.\n\n- one\n- two');
    await note.getByTestId('mlops-note-save').click();
    await expect(note.locator('h1')).toHaveText(/Findings/);
    await expect(note.locator('strong')).toHaveText('lr');
    await expect(note.locator('li')).toHaveCount(2);

    // Delete: hidden from the list, the details say so; restore from there.
    await actions.getByTestId('mlops-run-delete').click();
    await expect(actions.getByTestId('mlops-run-deleted')).toBeVisible();
    await expect(rows).toHaveCount(1);
    await expect(actions.getByTestId('mlops-run-rename')).toHaveCount(0);
    await actions.getByTestId('mlops-run-restore').click();
    await expect(actions.getByTestId('mlops-run-deleted')).toHaveCount(0);
    await expect(rows).toHaveCount(2);

    // Delete again; restore from the list of deleted runs.
    await actions.getByTestId('mlops-run-delete').click();
    await expect(rows).toHaveCount(1);
    await actions.getByTestId('mlops-show-deleted').click();
    const trash = actions.getByTestId('mlops-deleted-runs');
    await expect(trash.locator(`li[data-run-id="${runId}"]`)).toContainText(
      'alpha v2'
    );
    await trash.getByTestId('mlops-deleted-restore').click();
    await expect(rows).toHaveCount(2);
    await expect(trash).toContainText('No deleted runs');

    // Export the comparison of both runs.
    await rows.nth(0).getByTestId('mlops-run-checkbox').check();
    await rows.nth(1).getByTestId('mlops-run-checkbox').check();
    const compare = panel.getByTestId('mlops-compare');
    await expect(compare).toBeVisible();
    const csv = await readDownload(compare, 'mlops-export-csv');
    expect(csv.name).toBe('mlops-compare-2-runs.csv');
    // params, user metrics, then any run-end cost the kernel's runs logged
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^run_id,run_name,status,param:label,param:lr,metric:acc(,cost:[a-z0-9_]+)*$/
    );
    expect(lines[0]).not.toContain('system/');
    const alpha = lines.find(line => line.startsWith(`${runId},`)) ?? '';
    expect(
      alpha.startsWith(`${runId},alpha v2,FINISHED,"a, ""b""",0.1,0.9`)
    ).toBe(true);
    const beta = lines.find(line => line.includes(',beta,')) ?? '';
    expect(beta).toMatch(/^[0-9a-f]{32},beta,FINISHED,x\|y,0\.2,0\.8(,|$)/);
    const markdown = await readDownload(compare, 'mlops-export-markdown');
    expect(markdown.name).toBe('mlops-compare-2-runs.md');
    expect(markdown.text).toContain('| param label |');
    expect(markdown.text).toContain('x\\|y');
    expect(markdown.text).toContain('| metric acc |');
  });
});

test.describe('MLOps run actions without write permission', () => {
  // Galata's own /api/me answer grants nothing: a read-only user.
  test('show the note and the link, no edit controls', async ({
    page,
    tmpPath
  }) => {
    const panel = await openPanel(page);
    await openNotebook(page, tmpPath, 'readonly.ipynb', [
      '%load_ext jupyter_mlops',
      '%mlops start --experiment actions-readonly --run-name seen\n%mlops end'
    ]);
    await page.notebook.run();
    await expect(page.locator('.jp-Notebook')).toContainText('Ended run');
    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'actions-readonly' });
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(1);
    const runId = (await rows.first().getAttribute('data-run-id')) ?? '';
    const noted = await page.request.post(
      `/jupyter-mlops/api/runs/${runId}/note`,
      { data: { note: 'Read **me**' } }
    );
    expect(noted.status()).toBe(200);
    await rows.first().locator('.jp-mlops-col-run_name').click();
    const actions = panel
      .getByTestId('mlops-run-details')
      .getByTestId('mlops-run-actions');
    await expect(actions.getByTestId('mlops-run-note')).toContainText('Read');
    await expect(actions.locator('strong')).toHaveText('me');
    await expect(actions.getByTestId('mlops-open-mlflow')).toBeVisible();
    await expect(actions).toHaveAttribute('data-can-edit', 'false');
    for (const id of [
      'mlops-run-rename',
      'mlops-run-delete',
      'mlops-show-deleted',
      'mlops-tag-editor',
      'mlops-note-edit'
    ]) {
      await expect(actions.getByTestId(id)).toHaveCount(0);
    }
  });
});
