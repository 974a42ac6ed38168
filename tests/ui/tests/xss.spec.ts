/**
 * Stored XSS: runs, params, tags, experiment, notebook and pipeline names that
 * are HTML payloads render as inert text in every view of the MLOps panel.
 *
 * The hostile data comes in through the real paths: a notebook whose file
 * name is a payload tracks two runs with `%mlops` (payload run names, param
 * and tag values, experiment name); a pipeline with a payload name and
 * payload string defaults is exported through the REST API and launched from
 * the panel's form. After each view: `window.__xss` is still unset, no element
 * came from the data (`img[src="x"]`, `script`, `svg[onload]`, any
 * `onerror`/`onload` attribute), and the payload text is shown literally.
 *
 * Keys (param, tag and metric names) cannot carry a payload: the tracking API
 * accepts only letters, digits and `_ - . / : space` in them.
 */
import { expect, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';

import {
  FAST_REFRESH,
  currentKernelId,
  notebook,
  openNotebook,
  openPanel,
  switchTo
} from './helpers';

test.use(FAST_REFRESH);

const IMG = '<img src=x onerror=window.__xss=1>';
const SCRIPT = '<script>window.__xss=1</script>';
const SVG = '"><svg onload=window.__xss=1>';
const PAYLOADS = [IMG, SCRIPT, SVG];

const NOTEBOOK = `${IMG}.ipynb`;
const EXPERIMENT = `xss ${SVG}`;
const PIPELINE = `${IMG} pipe`;

/** `%mlops` lines of one run; every payload single-quoted for the magic's shlex. */
function runCell(name: string, lr: number): string {
  return [
    `%mlops start --experiment '${EXPERIMENT}' --run-name '${name}' --tag 'note=${SCRIPT}'`,
    `%mlops param 'payload=${SCRIPT}' 'quote=${SVG}' 'img=${IMG}' lr=${lr}`,
    `%mlops log acc=${lr * 5} --step 1`,
    '%mlops end'
  ].join('\n');
}

/** A notebook whose `parameters` cell has payload string defaults. */
function pipelineNotebook(): string {
  const nb = JSON.parse(
    notebook([
      [`label = '${IMG}'`, `note = '${SVG}'`].join('\n'),
      'print(label, note)'
    ])
  );
  nb.cells[0].metadata = { tags: ['parameters'] };
  return JSON.stringify(nb);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const views: string[] = [];

/** Nothing ran, nothing was parsed from the data as HTML, in `scope` or the page. */
async function expectInert(
  page: Page,
  scope: Locator,
  view: string
): Promise<void> {
  views.push(view);
  expect(
    await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss),
    view
  ).toBeUndefined();
  await expect(scope.locator('img[src="x"], script, svg[onload]')).toHaveCount(
    0
  );
  await expect(page.locator('img[src="x"], [onerror], [onload]')).toHaveCount(
    0
  );
}

test.describe('MLOps stored XSS', () => {
  test('payloads in runs, params, tags, notebooks and pipelines stay text', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(300_000);
    views.length = 0;
    const panel = await openPanel(page);

    // A pipeline with a payload name and payload defaults, exported by the REST API.
    await page.contents.uploadContent(
      pipelineNotebook(),
      'text',
      `${tmpPath}/xss-pipe.ipynb`
    );
    const output = `${tmpPath}/xss-pipe-out`;
    const exported = await page.request.post(
      '/jupyter-mlops/api/pipelines/export',
      {
        data: {
          notebooks: [`${tmpPath}/xss-pipe.ipynb`],
          output,
          name: PIPELINE
        }
      }
    );
    expect(exported.status(), await exported.text()).toBe(201);

    // Two tracked runs from a notebook whose file name is a payload.
    await openNotebook(page, tmpPath, NOTEBOOK, [
      '%load_ext jupyter_mlops',
      runCell(IMG, 0.1),
      runCell(SVG, 0.2)
    ]);
    const kernelId = await currentKernelId(page);
    await page.notebook.run();
    await expect(
      page.locator(
        '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
      )
    ).toHaveCount(0);
    await expect(page.locator('.jp-Notebook')).toContainText('Ended run');

    // Runs: the list (experiment selector, names, notebook column).
    await switchTo(panel, 'runs');
    const select = panel.getByTestId('mlops-experiment-select');
    await select.selectOption({ label: EXPERIMENT });
    await expect(select.locator('option:checked')).toHaveText(EXPERIMENT);
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(2);
    await expect(rows.nth(0).locator('.jp-mlops-col-run_name')).toContainText(
      SVG
    );
    await expect(rows.nth(1).locator('.jp-mlops-col-run_name')).toContainText(
      IMG
    );
    await expect(rows.nth(0).locator('.jp-mlops-col-notebook')).toContainText(
      NOTEBOOK
    );
    await expectInert(page, panel, 'runs list');

    // Runs: one run's details (name, notebook, params, tags).
    await rows.nth(1).locator('.jp-mlops-col-run_name').click();
    const details = panel.getByTestId('mlops-run-details');
    await expect(details.getByTestId('mlops-details-name')).toHaveText(IMG);
    await expect(details).toContainText(NOTEBOOK);
    const params = details.getByTestId('mlops-params');
    await expect(
      params.locator('tr[data-key="payload"] td.jp-mlops-kv-value')
    ).toHaveText(SCRIPT);
    await expect(
      params.locator('tr[data-key="quote"] td.jp-mlops-kv-value')
    ).toHaveText(SVG);
    await expect(
      params.locator('tr[data-key="img"] td.jp-mlops-kv-value')
    ).toHaveText(IMG);
    await expect(
      details
        .getByTestId('mlops-tags')
        .locator('tr[data-key="note"] td.jp-mlops-kv-value')
    ).toHaveText(SCRIPT);
    await expectInert(page, panel, 'run details');

    // Runs: the comparison of the two hostile runs.
    await rows.nth(0).getByTestId('mlops-run-checkbox').check();
    const compare = panel.getByTestId('mlops-compare');
    await expect(compare).toBeVisible();
    await expect(compare).toContainText(IMG);
    await expect(compare).toContainText(SVG);
    const paramRow = (key: string): Locator =>
      compare.locator(
        `[data-testid="mlops-compare-param-row"][data-key="${key}"] td`
      );
    await expect(paramRow('payload')).toHaveText([SCRIPT, SCRIPT]);
    await expect(paramRow('quote')).toHaveText([SVG, SVG]);
    await expect(paramRow('img')).toHaveText([IMG, IMG]);
    await expectInert(page, panel, 'run comparison');

    // The sweep view of the two: payload run names as its labels, as text.
    await compare.getByTestId('mlops-sweep-toggle').click();
    const sweepRuns = compare
      .getByTestId('mlops-sweep-view')
      .getByTestId('mlops-sweep-run');
    await expect(sweepRuns).toHaveCount(2);
    for (const name of [IMG, SVG]) {
      await expect(
        sweepRuns.locator('span[title]').filter({ hasText: name })
      ).toHaveText(name);
    }
    await expectInert(page, panel, 'sweep view');

    // Environment: the kernel of the payload-named notebook.
    await switchTo(panel, 'environment');
    const env = panel.getByTestId('mlops-env-view');
    await expect(env.getByTestId('mlops-env-kernel')).toContainText(NOTEBOOK);
    await expectInert(page, panel, 'environment');

    // Cost: the kernel table names the notebook.
    await switchTo(panel, 'cost');
    const costRow = panel.locator(
      `[data-testid="mlops-cost-row"][data-kernel-id="${kernelId}"]`
    );
    await expect(costRow).toContainText(NOTEBOOK);
    await expectInert(page, panel, 'cost');

    // The status bar item of that kernel.
    const status = page.getByTestId('mlops-cost-status');
    await expect(status).toHaveAttribute('data-kernel-id', kernelId);
    await expectInert(page, page.locator('#jp-main-statusbar'), 'status bar');

    // Pipelines: the list, the form with payload defaults, a launch.
    await switchTo(panel, 'pipelines');
    const view = panel.getByTestId('mlops-pipelines-view');
    const item = view.locator(
      `[data-testid="mlops-pipeline-item"][data-path="${output}"]`
    );
    await expect(item).toContainText(PIPELINE);
    await expectInert(page, panel, 'pipelines list');
    await item.click();
    await expect(item).toHaveAttribute('aria-pressed', 'true');
    const form = view.getByTestId('mlops-pipeline-form');
    await expect(view).toContainText(`Run ${PIPELINE}`);
    const input = (key: string): Locator =>
      form
        .locator(`[data-testid="mlops-param"][data-key="xss_pipe.${key}"]`)
        .getByTestId('mlops-param-input');
    await expect(input('label')).toHaveValue(new RegExp(escapeRegExp(IMG)));
    await expect(input('note')).toHaveValue(new RegExp(escapeRegExp(SVG)));
    await expectInert(page, panel, 'pipeline form');

    await form.getByTestId('mlops-pipeline-run').click();
    const launch = view.getByTestId('mlops-launch');
    await expect(launch).toBeVisible();
    const execution = launch.getByTestId('mlops-execution');
    await expect(execution).toHaveCount(1);
    await expect(
      execution.getByTestId('mlops-execution-status')
    ).toHaveAttribute('data-status', 'FINISHED', { timeout: 120_000 });
    await expect(execution).toContainText(IMG);
    await expect(execution).toContainText(SVG);
    await expect(view).toContainText(`Launch ${PIPELINE}`);
    await expect(view.getByTestId('mlops-launch-item').first()).toContainText(
      PIPELINE
    );
    await expectInert(page, panel, 'pipeline launch');

    // Runs of the pipeline: its experiment and parent run carry the payload name.
    await switchTo(panel, 'runs');
    await select.selectOption({ label: PIPELINE });
    // the parent run, its step run nested under it (its summary shown, then expanded)
    await expect(rows).toHaveCount(1);
    await expect(
      rows.first().getByTestId('mlops-children-summary')
    ).toBeVisible();
    await rows.first().getByTestId('mlops-expand').click();
    await expect(rows).toHaveCount(2);
    await expect(panel.getByTestId('mlops-runs-table')).toContainText(PIPELINE);
    await panel
      .getByTestId('mlops-runs-table')
      .locator('.jp-mlops-col-run_name', { hasText: 'xss_pipe' })
      .click();
    await expect(
      panel
        .getByTestId('mlops-run-details')
        .getByTestId('mlops-params')
        .locator('tr[data-key="label"] td.jp-mlops-kv-value')
    ).toHaveText(IMG);
    await expectInert(page, panel, 'pipeline runs');

    // Late handlers (an image failing to load) would have fired by now.
    await page.waitForTimeout(500);
    // the whole shell (JupyterLab's own page-config script sits outside it)
    await expectInert(page, page.locator('#main'), 'whole shell, at the end');
    console.log(
      `XSS views checked: ${views.length}, payloads: ${PAYLOADS.length}`
    );
  });
});

/**
 * Edits through the run actions (issue 14): a payload run name, payload tag
 * values and a Markdown note full of payloads. Names and tags show as text;
 * the note is rendered by JupyterLab's untrusted Markdown renderer, whose
 * sanitizer keeps no script, no event handler and no `javascript:` link.
 */
test.describe('MLOps stored XSS in run edits', () => {
  // the real /api/me: the test user may edit runs, so the edit controls show too
  test.use({ mockUser: false });

  const NOTE = [
    '# Note',
    IMG,
    SCRIPT,
    `Literal: \`${SCRIPT}\``,
    '[click](javascript:window.__xss=1)',
    `<a href="javascript:window.__xss=1" onclick="window.__xss=1">a</a>`
  ].join('\n\n');

  /** Nothing ran; no script, handler or `javascript:` link came from the data. */
  async function expectSanitized(
    page: Page,
    scope: Locator,
    view: string
  ): Promise<void> {
    expect(
      await page.evaluate(
        () => (window as unknown as { __xss?: unknown }).__xss
      ),
      view
    ).toBeUndefined();
    await expect(
      scope.locator('script, svg[onload], iframe, object, embed')
    ).toHaveCount(0);
    await expect(scope.locator('a[href^="javascript:"]')).toHaveCount(0);
    await expect(page.locator('[onerror], [onload], [onclick]')).toHaveCount(0);
  }

  test('renamed names, tag edits and notes stay inert', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(180_000);
    const panel = await openPanel(page);
    await openNotebook(page, tmpPath, 'xss-edits.ipynb', [
      '%load_ext jupyter_mlops',
      '%mlops start --experiment xss-edits --run-name xss-edit-target\n%mlops end'
    ]);
    await page.notebook.run();
    await expect(page.locator('.jp-Notebook')).toContainText('Ended run');

    // The edits go in through the REST routes the run actions use.
    // (the server may answer from its short read cache at first)
    let runId = '';
    await expect
      .poll(async () => {
        const body = await (
          await page.request.get('/jupyter-mlops/api/runs', {
            params: { search: 'xss-edit-target', max_results: 100 }
          })
        ).json();
        const found = (body.runs ?? []).find(
          (run: { run_name: string; experiment_id: string }) =>
            run.run_name === 'xss-edit-target'
        );
        runId = found?.run_id ?? '';
        return runId;
      })
      .not.toBe('');
    const edit = async (action: string, data: object): Promise<void> => {
      const reply = await page.request.post(
        `/jupyter-mlops/api/runs/${runId}/${action}`,
        { data }
      );
      expect(reply.status(), await reply.text()).toBe(200);
    };
    await edit('rename', { name: IMG });
    await edit('tags', { set: { html: SCRIPT, svg: SVG } });
    await edit('note', { note: NOTE });

    await switchTo(panel, 'runs');
    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'xss-edits' });
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(1);
    await expect(rows.first().locator('.jp-mlops-col-run_name')).toHaveText(
      IMG
    );
    await expectInert(page, panel, 'renamed run in the list');

    await rows.first().locator('.jp-mlops-col-run_name').click();
    const details = panel.getByTestId('mlops-run-details');
    await expect(details.getByTestId('mlops-details-name')).toHaveText(IMG);
    const tags = details.getByTestId('mlops-tags');
    await expect(
      tags.locator('tr[data-key="html"] td.jp-mlops-kv-value')
    ).toHaveText(SCRIPT);
    await expect(
      tags.locator('tr[data-key="svg"] td.jp-mlops-kv-value')
    ).toHaveText(SVG);
    const editor = details.getByTestId('mlops-tag-editor');
    await expect(
      editor.locator('[data-testid="mlops-tag-item"][data-key="html"]')
    ).toContainText(SCRIPT);

    // The note: rendered Markdown, sanitized; the code span shows the payload.
    const note = details.getByTestId('mlops-run-note');
    await expect(note.locator('h1')).toHaveText(/Note/);
    await expect(note.locator('code')).toHaveText(SCRIPT);
    await expectSanitized(page, note, 'run note');
    await expectSanitized(page, details, 'edited run details');

    // The list of deleted runs names the run as text.
    await details.getByTestId('mlops-run-delete').click();
    await expect(details.getByTestId('mlops-run-deleted')).toBeVisible();
    await details.getByTestId('mlops-show-deleted').click();
    const trash = details.getByTestId('mlops-deleted-runs');
    await expect(trash.locator(`li[data-run-id="${runId}"]`)).toContainText(
      IMG
    );
    await expectSanitized(page, details, 'deleted runs list');
    await details.getByTestId('mlops-run-restore').click();
    await expect(details.getByTestId('mlops-run-deleted')).toHaveCount(0);

    // Late handlers (an image failing to load) would have fired by now.
    await page.waitForTimeout(500);
    await expectSanitized(page, page.locator('#main'), 'whole shell');
  });
});
