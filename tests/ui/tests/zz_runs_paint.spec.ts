/**
 * Paint times of the runs list on a big store (a measurement, not a test:
 * skipped unless MLOPS_PAINT_BENCH is set). Start JupyterLab on a root whose
 * `mlflow.db` is the 10,000-run store of `bench/bench_runs_panel.py`:
 *
 *   mkdir -p /tmp/paint && cp /tmp/jupyter-mlops-bench-runs/mlflow-10000-200.db /tmp/paint/mlflow.db
 *   JUPYTERLAB_GALATA_ROOT_DIR=/tmp/paint MLOPS_PAINT_BENCH=1 npx playwright test ... zz_runs_paint.spec.ts
 *
 * Each figure is measured inside the page, from the user's action (the
 * experiment chosen, Enter in the search box, a click on the metric's header)
 * to the frame where the new rows are in the DOM and the table is no longer busy.
 */
import { expect, galata, test } from './fixtures';
import type { Page } from '@playwright/test';

import { openPanel } from './helpers';

test.skip(
  !process.env.MLOPS_PAINT_BENCH,
  'a measurement: set MLOPS_PAINT_BENCH'
);
test.use({
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-mlops:plugin': {
      refreshInterval: 3600,
      columns: ['metrics.accuracy']
    }
  }
});

const N = 20;

/** Milliseconds from `action` to the frame the list has changed and is idle. */
async function timed(page: Page, action: string, arg: string): Promise<number> {
  return page.evaluate(
    async ([what, value]) => {
      const panel = document.getElementById('jupyter-mlops-panel')!;
      const before = panel
        .querySelector('[data-testid="mlops-run-row"]')
        ?.getAttribute('data-run-id');
      const t0 = performance.now();
      if (what === 'experiment') {
        const select = panel.querySelector(
          '[data-testid="mlops-experiment-select"]'
        ) as HTMLSelectElement;
        select.value = value;
        select.dispatchEvent(new Event('change', { bubbles: true }));
      } else if (what === 'search') {
        const box = panel.querySelector(
          '[data-testid="mlops-search"]'
        ) as HTMLInputElement;
        const setter = Object.getOwnPropertyDescriptor(
          HTMLInputElement.prototype,
          'value'
        )!.set!;
        setter.call(box, value);
        box.dispatchEvent(new Event('input', { bubbles: true }));
        box.dispatchEvent(
          new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
        );
      } else {
        (
          panel.querySelector(`[data-testid="${value}"]`) as HTMLElement
        ).click();
      }
      await new Promise<void>(resolve => {
        let sawBusy = false;
        const check = (): void => {
          const table = panel.querySelector('[data-testid="mlops-runs-table"]');
          const busy = !table || table.getAttribute('aria-busy') === 'true';
          sawBusy = sawBusy || busy;
          const first = panel
            .querySelector('[data-testid="mlops-run-row"]')
            ?.getAttribute('data-run-id');
          if (
            sawBusy &&
            !busy &&
            first &&
            (what !== 'experiment' || first !== before)
          ) {
            resolve();
          } else {
            requestAnimationFrame(check);
          }
        };
        check();
      });
      return performance.now() - t0;
    },
    [action, arg]
  );
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)
  ];
}

test('runs list paint times on a big store', async ({ page }) => {
  test.setTimeout(600_000);
  const panel = await openPanel(page);
  await page.sidebar.setWidth(600);
  const select = panel.getByTestId('mlops-experiment-select');
  const id = await select
    .locator('option', { hasText: 'bench-runs' })
    .getAttribute('value');
  const other = await select
    .locator('option', { hasText: 'Default' })
    .getAttribute('value');
  const first: number[] = [];
  const search: number[] = [];
  const sort: number[] = [];
  for (let i = 0; i < N; i++) {
    await select.selectOption(other ?? '');
    await expect(panel.getByTestId('mlops-empty')).toBeVisible();
    first.push(await timed(page, 'experiment', id ?? ''));
  }
  for (let i = 0; i < N; i++) {
    search.push(
      await timed(
        page,
        'search',
        `lr=0.3 accuracy>${(0.3 + i / 100).toFixed(2)}`
      )
    );
  }
  await panel.getByTestId('mlops-search').fill('');
  await panel.getByTestId('mlops-search').press('Enter');
  for (let i = 0; i < N; i++) {
    sort.push(await timed(page, 'click', 'mlops-sort-metrics.accuracy'));
  }
  const line = `first page p95 ${p95(first).toFixed(0)} ms, search p95 ${p95(search).toFixed(0)} ms, sort by metric p95 ${p95(sort).toFixed(0)} ms (${N} each)`;
  console.log(line);
  test.info().annotations.push({ type: 'paint', description: line });
});
