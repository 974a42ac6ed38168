/**
 * End to end (issue 15, spend caps): the run form's "Max cost" refuses a
 * value that is not above 0; a capped run of a notebook that burns CPU shows
 * its estimate (no history yet) and cap as text, and once its live cost
 * reaches the cap it is stopped: KILLED, with the cap's message.
 */
import { expect, test } from './fixtures';

import {
  exportPipeline,
  FAST_REFRESH,
  notebook,
  selectPipeline
} from './helpers';

test.use(FAST_REFRESH);

/** A notebook whose parameters cell sets `seconds`, then burns that much CPU. */
function burnNotebook(): string {
  const json = JSON.parse(
    notebook([
      'seconds = 120.0',
      [
        'import time',
        'start = time.process_time()',
        'while time.process_time() - start < seconds:',
        '    pass',
        'print("burned", flush=True)'
      ].join('\n')
    ])
  );
  json.cells[0].metadata.tags = ['parameters'];
  return JSON.stringify(json);
}

test('a capped run shows its estimate and is stopped at the cap', async ({
  page,
  tmpPath
}) => {
  const file = `${tmpPath}/burn.ipynb`;
  const output = `${tmpPath}/pipelines/burn`;
  await page.contents.uploadContent(burnNotebook(), 'text', file);
  await exportPipeline(page, file, output);
  const { view } = await selectPipeline(page, output);
  const form = view.getByTestId('mlops-pipeline-form');
  const maxCost = form.getByTestId('mlops-pipeline-max-cost');

  // Not above 0: a form error, nothing runs.
  await maxCost.fill('0');
  await form.getByTestId('mlops-pipeline-run').click();
  await expect(form.getByTestId('mlops-pipeline-form-errors')).toContainText(
    'max cost: "0" is not an amount above 0'
  );
  await expect(view.getByTestId('mlops-launch')).toHaveCount(0);

  // A cap of $0.0001: about 11 CPU seconds at the built-in catalogue's price.
  await maxCost.fill('0.0001');
  await form.getByTestId('mlops-pipeline-run').click();
  const launch = view.getByTestId('mlops-launch');
  await expect(launch.getByTestId('mlops-launch-estimate')).toHaveText(
    /^Estimate: no history for .*burn\.ipynb: no estimate; cap \$0\.00010?$/
  );
  const row = launch.getByTestId('mlops-execution');
  await expect(row.getByTestId('mlops-execution-status')).toHaveAttribute(
    'data-status',
    'KILLED',
    { timeout: 100_000 }
  );
  await expect(row.getByTestId('mlops-execution-error')).toContainText(
    'the spend cap was reached'
  );
  await expect(launch.getByTestId('mlops-launch-status')).toHaveAttribute(
    'data-status',
    'KILLED'
  );
});
