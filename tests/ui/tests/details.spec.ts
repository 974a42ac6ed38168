/**
 * Run details that lead with the science (issue 14): the user's curves first,
 * single values as a table of readable numbers, jupyter-mlops' system and cost
 * metrics in a collapsed section; per-chart log scale, smoothing and x axis;
 * a comparison that flags only what the user logged.
 */
import { expect, test } from './fixtures';
import type { Locator } from '@playwright/test';

import { FAST_REFRESH, openNotebook, openPanel } from './helpers';

test.use(FAST_REFRESH);

/** Two runs that differ in lr: a 20-step loss, two other curves, two single values, system series. */
const RUNS = `import time
import jupyter_mlops as mlops
from jupyter_mlops.core.cost.run_cost import RunCost

# A system/... point at every sample (1 s) instead of every 10 s.
RunCost.series_interval = 0.5

def tracked(name, lr):
    mlops.start_run(experiment="details", run_name=name, params={"lr": lr, "batch": 32})
    for step in range(1, 21):
        mlops.log_metric("loss", 2.0 / step * (1 + lr), step=step)
        mlops.log_metric("lr_schedule", 2.2e-5 * (1 - step / 40), step=step)
        mlops.log_metric("margin", step - 10.0, step=step)
    mlops.log_metric("accuracy", 0.9 + lr)
    mlops.log_metric("lr_final", 2.2e-5)
    time.sleep(5)
    mlops.end_run()

tracked("small-lr", 0.01)
tracked("large-lr", 0.1)
print("done")`;

interface ILine {
  label: string;
  points: number;
  first: { x: number; y: number } | null;
  last: { x: number; y: number } | null;
}

/** What the chart drew (written on its canvas after each update, see common/chart.ts). */
async function drawn(chart: Locator): Promise<{
  yScale: string;
  xTicks: string[];
  yTicks: string[];
  lines: ILine[];
}> {
  return chart.locator('canvas').evaluate((el: HTMLCanvasElement) => ({
    yScale: el.dataset.yScale ?? '',
    xTicks: (el.dataset.xTicks ?? '').split('|'),
    yTicks: (el.dataset.yTicks ?? '').split('|'),
    lines: JSON.parse(el.dataset.lines ?? '[]')
  }));
}

/** A tick label in the panel's number rule: `0.25`, `1.5k`, `2e-5`, never `2.2000000E-5`. */
const READABLE = /^(-?\d+(\.\d+)?(e-?\d+|[kMGTPE])?)?$/;

test.describe('Run details', () => {
  test('lead with the user metrics; the comparison flags only what the user logged', async ({
    page,
    tmpPath
  }) => {
    test.setTimeout(240_000);
    const panel = await openPanel(page);
    await openNotebook(page, tmpPath, 'details.ipynb', [RUNS]);
    await page.notebook.run();
    await expect(
      page.locator('.jp-Notebook .jp-OutputArea-output').last()
    ).toContainText('done', { timeout: 60_000 });

    await panel
      .getByTestId('mlops-experiment-select')
      .selectOption({ label: 'details' });
    const rows = panel.getByTestId('mlops-run-row');
    await expect(rows).toHaveCount(2);
    await expect(panel.locator('[data-run-name="small-lr"]')).toHaveAttribute(
      'data-status',
      'FINISHED'
    );

    // One run: the user's curves first, loss the first chart.
    await panel
      .locator('[data-run-name="small-lr"] .jp-mlops-col-run_name')
      .click();
    const details = panel.getByTestId('mlops-run-details');
    const curves = details.getByTestId('mlops-curves');
    await expect(curves.getByTestId('mlops-chart')).toHaveCount(3);
    await expect(details.getByTestId('mlops-chart').first()).toHaveAttribute(
      'data-metric',
      'loss'
    );
    expect(
      await curves
        .getByTestId('mlops-chart')
        .evaluateAll(els => els.map(el => el.getAttribute('data-metric')))
    ).toEqual(['loss', 'lr_schedule', 'margin']);

    // Single values: a table of readable numbers, no charts.
    const singles = details.getByTestId('mlops-single-values');
    await expect(singles.locator('tbody tr')).toHaveCount(2);
    await expect(
      singles.locator('tr[data-key="lr_final"] td').first()
    ).toHaveText('2.2e-5');
    await expect(
      singles.locator('tr[data-key="accuracy"] td').first()
    ).toHaveText('0.91');
    await expect(
      details.locator('[data-testid="mlops-chart"][data-metric="accuracy"]')
    ).toHaveCount(0);

    // System and cost: collapsed until opened (by keyboard here).
    const system = details.getByTestId('mlops-system-section');
    const toggle = system.getByTestId('mlops-system-section-toggle');
    await expect(system).toHaveAttribute('data-open', 'false');
    await expect(toggle).toHaveAttribute('aria-expanded', 'false');
    await expect(system.getByTestId('mlops-chart')).toHaveCount(0);
    await toggle.focus();
    await page.keyboard.press('Enter');
    await expect(toggle).toHaveAttribute('aria-expanded', 'true');
    const cpu = system.locator(
      '[data-testid="mlops-chart"][data-metric="system/cpu_percent"]'
    );
    await expect(cpu).toHaveAttribute('data-x-axis', 'relative');
    await expect(
      system
        .getByTestId('mlops-system-values')
        .locator('tr[data-key="cpu_core_hours"]')
    ).toHaveCount(1);
    await toggle.click();
    await expect(system.getByTestId('mlops-chart')).toHaveCount(0);

    // Readable axis numbers, also for values around 2e-5.
    const loss = curves.locator('[data-metric="loss"]');
    const schedule = curves.locator('[data-metric="lr_schedule"]');
    await expect
      .poll(async () => (await drawn(schedule)).yTicks.length)
      .toBeGreaterThan(2);
    for (const chart of [loss, schedule]) {
      const { yTicks, xTicks } = await drawn(chart);
      for (const label of [...yTicks, ...xTicks]) {
        expect(label).toMatch(READABLE);
      }
    }
    expect((await drawn(schedule)).yTicks.join(' ')).toMatch(/e-5/);

    // Log scale: on for the loss, refused (with the reason) for a curve through 0.
    expect((await drawn(loss)).yScale).toBe('linear');
    await loss.getByTestId('mlops-chart-log').check();
    await expect(loss).toHaveAttribute('data-log', 'true');
    await expect
      .poll(async () => (await drawn(loss)).yScale)
      .toBe('logarithmic');
    const margin = curves.locator('[data-metric="margin"]');
    await expect(margin.getByTestId('mlops-chart-log')).toBeDisabled();
    await expect(margin.getByTestId('mlops-chart-log-refusal')).toHaveText(
      'Log scale needs values above 0; this chart has -9.'
    );

    // Smoothing: the smoothed line first, the raw line kept after it.
    const raw = (await drawn(loss)).lines;
    expect(raw).toHaveLength(1);
    expect(raw[0].points).toBe(20);
    await loss.getByTestId('mlops-chart-smoothing').focus();
    await page.keyboard.press('End');
    await expect(loss).toHaveAttribute('data-smoothing', '0.99');
    await expect.poll(async () => (await drawn(loss)).lines.length).toBe(2);
    const smoothed = (await drawn(loss)).lines;
    expect(smoothed).toHaveLength(2);
    expect(smoothed[1].last).toEqual(raw[0].last);
    expect(smoothed[0].last!.y).toBeGreaterThan(raw[0].last!.y * 2);

    // X axis: wall time as clock times, relative time in seconds from the start.
    await loss.getByTestId('mlops-chart-x').selectOption('wall');
    await expect(loss).toHaveAttribute('data-x-axis', 'wall');
    await expect
      .poll(async () => (await drawn(loss)).lines[0].first!.x)
      .toBeGreaterThan(1e12);
    const wall = await drawn(loss);
    expect(wall.xTicks.filter(Boolean).length).toBeGreaterThan(0);
    for (const label of wall.xTicks) {
      expect(label).toMatch(/^\d\d:\d\d:\d\d$/);
    }
    await loss.getByTestId('mlops-chart-x').selectOption('relative');
    await expect
      .poll(async () => (await drawn(loss)).lines[0].first!.x)
      .toBeLessThan(60);
    const relative = await drawn(loss);
    for (const label of relative.xTicks) {
      expect(label).toMatch(/^$|\d[smhd]$/);
    }
    expect(relative.lines[0].first!.x).toBeGreaterThanOrEqual(0);
    expect(relative.lines[0].first!.x).toBeLessThan(60);

    // Two runs that differ in lr: only lr and user metrics are flagged.
    await panel
      .locator('[data-run-name="large-lr"]')
      .getByTestId('mlops-run-checkbox')
      .check();
    const compare = panel.getByTestId('mlops-compare');
    await expect(compare).toBeVisible();
    const flagged = (testId: string) =>
      compare
        .locator(`[data-testid="${testId}"][data-differs="true"]`)
        .evaluateAll(els => els.map(el => el.getAttribute('data-key')));
    await expect.poll(() => flagged('mlops-compare-param-row')).toEqual(['lr']);
    // accuracy and loss depend on lr; lr_schedule, margin and lr_final do not.
    expect(await flagged('mlops-compare-metric-row')).toEqual([
      'accuracy',
      'loss'
    ]);
    for (const key of ['cpu_core_hours', 'system/cpu_percent']) {
      const row = compare.locator(
        `[data-testid="mlops-compare-metric-row"][data-key="${key}"]`
      );
      await expect(row).toHaveAttribute('data-differs', 'false');
      await expect(row).toHaveClass(/jp-mlops-ours/);
    }
    expect(
      await compare
        .getByTestId('mlops-compare-curves')
        .getByTestId('mlops-compare-chart')
        .evaluateAll(els => els.map(el => el.getAttribute('data-metric')))
    ).toEqual(['loss', 'lr_schedule', 'margin']);

    // System series on time since each run started, not collapsed to step 0.
    const compareSystem = compare.getByTestId('mlops-compare-system-section');
    await expect(compareSystem).toHaveAttribute('data-open', 'false');
    await compareSystem
      .getByTestId('mlops-compare-system-section-toggle')
      .click();
    const cpuCompare = compareSystem.locator(
      '[data-testid="mlops-compare-chart"][data-metric="system/cpu_percent"]'
    );
    await expect(cpuCompare).toHaveAttribute('data-x-axis', 'relative');
    await expect
      .poll(async () => (await drawn(cpuCompare)).lines.length)
      .toBe(2);
    for (const line of (await drawn(cpuCompare)).lines) {
      expect(line.points).toBeGreaterThan(1);
      expect(line.last!.x).toBeGreaterThan(line.first!.x);
    }
  });
});
