/**
 * The Artifacts section of a run's details, against a real server and store.
 *
 * A notebook logs a run with real MLflow calls: a PNG image, a CSV, a JSON, a
 * hand-written MLflow model folder (`model/MLmodel`) and an HTML report
 * `notebook/x.html` that holds `<script>window.__xss=1</script>` and
 * `<img src=x onerror=...>`. In the panel: the tree lists them with sizes,
 * folders expand, the image preview loads, the CSV shows as text, the model
 * shows its flavours and signature, and the report sits in an
 * `<iframe sandbox="">` (no allow-scripts, no allow-same-origin) while
 * `window.__xss` stays unset in the page and in every frame.
 */
import { expect, test } from './fixtures';
import type { Locator, Page } from '@playwright/test';

import { FAST_REFRESH, openNotebook, openPanel } from './helpers';

test.use(FAST_REFRESH);

const EXPERIMENT = 'artifacts-ui';
const RUN = 'artifact-run';

const MLMODEL = [
  'flavors:',
  '  python_function: {loader_module: mlflow.sklearn, python_version: 3.11.9}',
  '  sklearn: {sklearn_version: 1.5.0}',
  'signature:',
  '  inputs: \'[{"type": "double", "name": "age"}]\'',
  '  outputs: \'[{"type": "long"}]\''
].join('\n');

const REPORT =
  '<html><body><h1 id="title">Report</h1><script>window.__xss=1</script>' +
  '<img src=x onerror="window.__xss=1"><script>parent.__xss=1</script></body></html>';

/** Python that logs the run (kernel side, real MlflowClient on the server's store). */
const LOG_RUN = [
  'import os, struct, tempfile, zlib',
  'from mlflow import MlflowClient',
  'from jupyter_mlops.core.tracking.store import experiment_id',
  'uri = os.environ["MLFLOW_TRACKING_URI"]',
  'client = MlflowClient(uri)',
  `eid = experiment_id(client, ${JSON.stringify(EXPERIMENT)}, uri)`,
  `rid = client.create_run(eid, run_name=${JSON.stringify(RUN)}).info.run_id`,
  'def chunk(kind, data):',
  '    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)',
  'raw = b"".join(b"\\x00" + bytes([200, 30, 30]) * 8 for _ in range(6))',
  'png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 6, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")',
  'folder = tempfile.mkdtemp()',
  'open(os.path.join(folder, "roc.png"), "wb").write(png)',
  'client.log_artifact(rid, os.path.join(folder, "roc.png"), "plots")',
  'client.log_text(rid, "epoch,loss\\n1,0.5\\n2,0.25\\n", "data/metrics.csv")',
  'client.log_dict(rid, {"lr": 0.1}, "config.json")',
  `client.log_text(rid, ${JSON.stringify(MLMODEL)}, "model/MLmodel")`,
  `client.log_text(rid, ${JSON.stringify(REPORT)}, "notebook/x.html")`,
  'client.set_terminated(rid)',
  'print("logged", rid)'
].join('\n');

async function xssFlags(page: Page): Promise<unknown[]> {
  const flags: unknown[] = [];
  for (const frame of page.frames()) {
    try {
      flags.push(
        await frame.evaluate(
          () => (window as unknown as { __xss?: unknown }).__xss
        )
      );
    } catch {
      flags.push('unreadable frame');
    }
  }
  return flags;
}

async function entry(tree: Locator, path: string): Promise<Locator> {
  const row = tree.locator(`li[data-path="${path}"]`);
  await expect(row).toHaveCount(1);
  return row;
}

test.describe('MLOps artifacts', () => {
  test('tree, previews, model and a sandboxed report', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(240_000);
    await openNotebook(page, tmpPath, 'artifacts.ipynb', [LOG_RUN]);
    await page.notebook.run();
    // (plain MLflow may first say, on stderr, that it creates the new store's tables)
    await expect(
      page
        .locator('.jp-Notebook .jp-OutputArea-output')
        .filter({ hasText: 'logged' })
    ).toHaveCount(1);

    const panel = await openPanel(page);
    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: EXPERIMENT });
    const row = panel.locator(`[data-run-name="${RUN}"]`);
    await expect(row).toHaveCount(1);
    await row.locator('.jp-mlops-col-run_name').click();
    const details = panel.getByTestId('mlops-run-details');
    const artifacts = details.getByTestId('mlops-artifacts');
    await artifacts.scrollIntoViewIfNeeded();

    // The tree: folders first, sizes on files.
    const tree = artifacts.getByTestId('mlops-artifact-tree');
    const names = tree
      .locator(':scope > li')
      .locator('.jp-mlops-artifact-name');
    await expect(names).toHaveText([
      /data$/,
      /model/,
      /notebook$/,
      /plots$/,
      /config\.json$/
    ]);
    await expect(
      (await entry(tree, 'config.json')).locator('.jp-mlops-artifact-size')
    ).toHaveText(/\d+ B/);
    await expect(
      (await entry(tree, 'config.json')).getByTestId('mlops-artifact-download')
    ).toHaveAttribute(
      'href',
      /artifacts\/raw\?.*download=1.*path=config\.json/
    );
    // the test server configures c.MlopsConfig.mlflow_ui_url
    await expect(
      artifacts.getByTestId('mlops-mlflow-ui').locator('a')
    ).toHaveAttribute(
      'href',
      /^http:\/\/mlflow\.example:5000\/#\/experiments\//
    );

    // An image, loaded from the raw route.
    await (await entry(tree, 'plots')).locator('button').click();
    await (await entry(tree, 'plots/roc.png')).locator('button').click();
    const image = artifacts.getByTestId('mlops-artifact-image');
    await expect(image).toBeVisible();
    await expect
      .poll(() =>
        image.evaluate((img: HTMLImageElement) =>
          img.complete ? img.naturalWidth : 0
        )
      )
      .toBe(8);

    // A CSV as text.
    await (await entry(tree, 'data')).locator('button').click();
    await (await entry(tree, 'data/metrics.csv')).locator('button').click();
    await expect(artifacts.getByTestId('mlops-artifact-text')).toHaveText(
      'epoch,loss\n1,0.5\n2,0.25\n'
    );

    // The model folder: flavours and signature.
    await (await entry(tree, 'model')).locator('button').click();
    const card = artifacts.getByTestId('mlops-model-card').first();
    await expect(card.getByTestId('mlops-model-flavors')).toHaveText(
      'python_function, sklearn'
    );
    await expect(card).toContainText('age: double');

    // The report: a sandboxed frame, nothing runs.
    await (await entry(tree, 'notebook')).locator('button').click();
    await (await entry(tree, 'notebook/x.html')).locator('button').click();
    const frame = artifacts.getByTestId('mlops-artifact-frame');
    await expect(frame).toHaveAttribute('sandbox', '');
    const sandbox = (await frame.getAttribute('sandbox')) ?? 'missing';
    expect(sandbox).not.toContain('allow-scripts');
    expect(sandbox).not.toContain('allow-same-origin');
    await expect(
      page
        .frameLocator('[data-testid="mlops-artifact-frame"]')
        .locator('#title')
    ).toHaveText('Report');
    const flags = await xssFlags(page);
    expect(flags.length).toBeGreaterThanOrEqual(2); // the page and the report frame
    expect(flags.every(flag => flag === undefined)).toBe(true);
    await expect(panel.locator('img[src="x"], [onerror]')).toHaveCount(0);
  });
});
