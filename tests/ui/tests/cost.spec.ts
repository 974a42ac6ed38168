/**
 * End to end: a notebook's kernel burns CPU; the Cost view lists it with a
 * growing `$ so far`, and the status bar item shows its cost. The chart reads
 * the ledger: the last hour is still there after a reload, and it re-colours
 * with the theme.
 */
import { expect, test } from './fixtures';

import {
  FAST_REFRESH,
  currentKernelId,
  type IApp,
  openNotebook,
  openPanel,
  PANEL_ID,
  switchTo,
  useDarkTheme
} from './helpers';

test.use(FAST_REFRESH);

/** A pattern matching `text` anywhere, taken literally. */
const containing = (text: string): RegExp =>
  new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** A busy loop of a few seconds: the kernel's CPU cost grows meanwhile. */
const BUSY = [
  'import time',
  'end = time.time() + 12',
  'n = 0',
  'while time.time() < end:',
  '    n += 1'
].join('\n');

test.describe('MLOps cost', () => {
  test('shows the live cost of a busy kernel', async ({ page, tmpPath }) => {
    const name = 'busy.ipynb';
    await openNotebook(page, tmpPath, name, [BUSY]);
    const kernelId = await currentKernelId(page);

    // Run the loop without waiting for it to finish.
    await page.evaluate(() => {
      const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
      void app.commands.execute('notebook:run-all-cells');
    });

    const panel = await openPanel(page);
    const tab = panel
      .getByTestId('mlops-view-switch')
      .locator('[data-view="cost"]');
    await tab.click();
    await expect(tab).toHaveAttribute('aria-selected', 'true');
    const view = panel.getByTestId('mlops-cost-view');
    await expect(view).toBeVisible();

    const row = view.locator(
      `[data-testid="mlops-cost-row"][data-kernel-id="${kernelId}"]`
    );
    await expect(row).toBeVisible();
    await expect(row).toContainText(name);
    const soFar = row.getByTestId('mlops-cost-so-far');
    await expect(soFar).toHaveAttribute('data-value', /^\d/);
    await expect(row.getByTestId('mlops-cost-rate')).toHaveText(/\/h$/);
    const first = Number(await soFar.getAttribute('data-value'));
    await expect
      .poll(async () => Number(await soFar.getAttribute('data-value')), {
        timeout: 15_000
      })
      .toBeGreaterThan(first);
    await expect(view.getByTestId('mlops-cost-chart')).toBeVisible();

    // The status bar: the current notebook's `$so_far · $rate/h`.
    const item = page.getByTestId('mlops-cost-status');
    await expect(item).toBeVisible();
    await expect(item).toHaveAttribute('data-kernel-id', kernelId);
    await expect(item).toHaveText(/\d.* · .*\d\/h$/);
    await expect(item).toContainText('$');

    // Clicking it opens the Cost view.
    await panel
      .getByTestId('mlops-view-switch')
      .locator('[data-view="runs"]')
      .click();
    await expect(view).toBeHidden();
    await item.click();
    await expect(tab).toHaveAttribute('aria-selected', 'true');
    await expect(view).toBeVisible();
  });

  test('the status bar item shows and updates the cost with the sidebar closed', async ({
    page,
    tmpPath
  }) => {
    const name = 'status.ipynb';
    await openNotebook(page, tmpPath, name, [BUSY.replace('+ 12', '+ 40')]);
    const kernelId = await currentKernelId(page);
    // The MLOps panel is never opened, and the left area is collapsed.
    await page.evaluate(() => {
      const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
      (app.shell as unknown as { collapseLeft(): void }).collapseLeft();
      void app.commands.execute('notebook:run-all-cells');
    });
    await expect(page.locator(`#${PANEL_ID}`)).toBeHidden();

    const item = page.getByTestId('mlops-cost-status');
    await expect(item).toBeVisible();
    await expect(item).toHaveAttribute('data-kernel-id', kernelId);
    await expect(item).toHaveText(/\d.* · .*\d\/h$/);
    const value = async (): Promise<number> =>
      Number(await item.getAttribute('data-value'));
    const first = await value();
    await expect.poll(value, { timeout: 15_000 }).toBeGreaterThan(first);

    // Even with the panel closed for good, the item keeps reading the cost.
    await page.evaluate(id => {
      const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
      const shell = app.shell as unknown as {
        widgets(area: string): Iterable<{ id: string; dispose(): void }>;
      };
      for (const widget of [...shell.widgets('left')]) {
        if (widget.id === id) {
          widget.dispose();
        }
      }
    }, PANEL_ID);
    await expect(page.locator(`#${PANEL_ID}`)).toHaveCount(0);
    const second = await value();
    await expect.poll(value, { timeout: 15_000 }).toBeGreaterThan(second);
    await expect(item).toHaveText(/\d.* · .*\d\/h$/);
  });

  test('lists waste and budgets with kernel actions', async ({ page }) => {
    // A canned status: one kernel holding an idle GPU, one budget at 84%.
    const now = Date.now() / 1000;
    const since = now - 20 * 60;
    const kernel = {
      target_id: 'k-idle',
      pid: 1,
      kernel_id: 'k-idle',
      run_id: '',
      notebook: 'train/gpu.ipynb',
      project: 'vision',
      user: 'ana',
      time: now,
      interval: 1,
      alive: true,
      cpu_seconds: 10,
      cpu_percent: 1,
      rss_bytes: 2 ** 30,
      num_processes: 1,
      gpus: [
        {
          key: '0',
          index: 0,
          model: 'NVIDIA H100',
          memory_total: 80 * 2 ** 30,
          mem_bytes: 20 * 2 ** 30,
          util_pct: 0,
          device_util_pct: 0,
          power_w: 70,
          fraction: 1
        }
      ],
      cost: {
        target_id: 'k-idle',
        time: now,
        currency: 'USD',
        rate_per_hour: 2.1,
        cost_so_far: 4.2,
        waste_so_far: 3.2
      }
    };
    const status = {
      time: now,
      interval: 1,
      currency: 'USD',
      gpu_available: true,
      gpus: [],
      targets: { 'k-idle': kernel },
      alerts: [
        {
          kind: 'idle-gpu',
          target_id: 'k-idle',
          kernel_id: 'k-idle',
          notebook: 'train/gpu.ipynb',
          since,
          burned: 3.2,
          currency: 'USD',
          actions: ['interrupt', 'shutdown', 'dismiss'],
          message: 'idle GPU: $3.20 burned since 00:00'
        }
      ]
    };
    const budgets = {
      budgets: [
        {
          project: 'vision',
          amount: 50,
          period: 'month',
          spent: 42,
          fraction: 0.84,
          period_start: 0,
          period_end: 0,
          currency: 'USD',
          message: ''
        }
      ]
    };
    await page.route(
      url => url.pathname.endsWith('/jupyter-mlops/api/cost'),
      route => route.fulfill({ json: status })
    );
    await page.route(
      url => url.pathname.endsWith('/jupyter-mlops/api/cost/budgets'),
      route => route.fulfill({ json: budgets })
    );

    const panel = await openPanel(page);
    await panel
      .getByTestId('mlops-view-switch')
      .locator('[data-view="cost"]')
      .click();
    const view = panel.getByTestId('mlops-cost-view');
    const row = view.locator(
      '[data-testid="mlops-cost-row"][data-kernel-id="k-idle"]'
    );
    await expect(row.getByTestId('mlops-cost-so-far')).toHaveText('$4.20');
    await expect(row.getByTestId('mlops-cost-rate')).toHaveText('$2.10/h');
    await expect(row).toContainText('20.0 GiB');

    const item = view.getByTestId('mlops-waste-item');
    await expect(item).toHaveCount(1);
    const clock = await page.evaluate(t => {
      const d = new Date(t * 1000);
      const pad = (n: number) => String(n).padStart(2, '0');
      return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    }, since);
    await expect(item).toContainText(`idle GPU: $3.20 burned since ${clock}`);

    // Interrupt goes straight to Jupyter's kernels API.
    const interrupted: string[] = [];
    await page.route(
      url => url.pathname.endsWith('/api/kernels/k-idle/interrupt'),
      route => {
        interrupted.push(route.request().method());
        return route.fulfill({ status: 204 });
      }
    );
    await item.getByTestId('mlops-waste-interrupt').click();
    await expect.poll(() => interrupted).toEqual(['POST']);

    // Shutting down asks first; cancelling leaves the kernel alone.
    await item.getByTestId('mlops-waste-shutdown').click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Shut down the kernel?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);

    const budget = view.getByTestId('mlops-budget');
    await expect(budget).toHaveAttribute('data-level', 'warn');
    await expect(budget).toContainText('$42.00 of $50.00 this month (84%)');
  });

  test('the chart reads the last hour from the ledger, after a reload too, and follows the theme', async ({
    page,
    tmpPath
  }) => {
    // Book ten minutes of the last hour for two notebooks named alike, into
    // the server's ledger (kernels get its URL), as earlier sessions would have.
    const a = `${tmpPath}/a/train.ipynb`;
    const b = `${tmpPath}/b/train.ipynb`;
    const seed = [
      'import os, time',
      'from jupyter_mlops.core.cost import Ledger, Totals',
      'ledger = Ledger(os.environ["JUPYTER_MLOPS_COST_LEDGER"])',
      'now, rows = time.time(), {}',
      'for ago in range(50, 0, -5):',
      '    minute = int(now - ago * 60) // 60 * 60',
      `    rows[(minute, ("ui-a", "", "${a}", "ui-tests", "ana"))] = Totals(wall_seconds=60.0, cost_allocated=0.5, energy_j=360000.0)`,
      `    rows[(minute, ("ui-b", "", "${b}", "ui-tests", "ana"))] = Totals(wall_seconds=60.0, cost_allocated=0.25)`,
      'ledger.write(rows)',
      'ledger.close()',
      'print("seeded", len(rows))'
    ].join('\n');
    await openNotebook(page, tmpPath, 'seed.ipynb', [seed]);
    await page.notebook.run();
    expect((await page.notebook.getCellTextOutput(0))?.join('')).toContain(
      'seeded 20'
    );

    const showCost = async () => {
      const panel = await openPanel(page);
      await switchTo(panel, 'cost');
      return panel.getByTestId('mlops-cost-view');
    };
    const lastHour = async (view: Awaited<ReturnType<typeof showCost>>) => {
      const chart = view.getByTestId('mlops-cost-chart');
      await expect(chart).toHaveAttribute('data-from-ledger', 'true');
      await expect(chart).toHaveAttribute('data-range', '1h');
      await expect(chart).toHaveAttribute('data-groups', containing(a));
      await expect(chart).toHaveAttribute('data-groups', containing(b));
      // Both notebooks in the report table, told apart by their folders.
      const row = (key: string) =>
        view.locator(
          `[data-testid="mlops-cost-report-row"][data-key="${key}"]`
        );
      await expect(row(a)).toContainText('a/train.ipynb');
      await expect(row(a)).toContainText('$5.00');
      await expect(row(b)).toContainText('b/train.ipynb');
      await expect(row(b)).toContainText('$2.50');
      // gCO2e next to money: 1 kWh at the world average (no carbon_region set).
      await expect(row(a).getByTestId('mlops-cost-report-co2e')).toHaveText(
        '475 gCO2e'
      );
      await expect(view.getByTestId('mlops-cost-carbon')).toContainText(
        'gCO2e at 475 g/kWh: world average, codecarbon 3.3.2'
      );
      await expect(view.getByTestId('mlops-cost-co2e')).toContainText('gCO2e');
      return chart;
    };

    await lastHour(await showCost());
    // The seed notebook is restored in place of the launcher that
    // galata's ready check waits for: wait for the splash screen instead.
    await page.reload({ waitForIsReady: false });
    await expect(page.locator('#jupyterlab-splash')).toHaveCount(0);
    const chart = await lastHour(await showCost());
    // 61 minute buckets from the ledger (plus live ticks after them).
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(60);

    // Switch to the dark theme: the axis text and grid take its colours.
    const canvas = chart.locator('canvas');
    const colors = async () => ({
      text: await canvas.getAttribute('data-text-color'),
      grid: await canvas.getAttribute('data-grid-color')
    });
    const themeColors = () =>
      page.evaluate(() => {
        const style = getComputedStyle(document.body);
        return {
          text: style.getPropertyValue('--jp-ui-font-color2').trim(),
          grid: style.getPropertyValue('--jp-border-color2').trim()
        };
      });
    const light = await colors();
    expect(light).toEqual(await themeColors());
    await useDarkTheme(page);
    const dark = await themeColors();
    expect(dark.text).not.toBe(light.text);
    expect(dark.grid).not.toBe(light.grid);
    await expect.poll(colors).toEqual(dark);
  });
});
