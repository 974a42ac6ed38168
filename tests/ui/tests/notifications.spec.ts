/**
 * Notifications end to end: with the MLOps panel closed, an idle kernel's
 * idle-policy warning shows as a JupyterLab toast; its "Keep alive 2 h"
 * action keeps the kernel alive (the server lists it so), a second toast
 * confirms, and the policy stops warning about that kernel.
 *
 * Galata has no GPU: this spec's server gets a CPU rule with tiny minutes
 * (fixtures.ts's mlopsServerEnv; a server of its own): a kernel under 50% of
 * a core for 3 s is warned; its shutdown would come 30 minutes later.
 */
import { expect, test } from './fixtures';
import { currentKernelId, openNotebook, PANEL_ID } from './helpers';

const AFTER_S = 3;
const RULE = [
  {
    resource: 'cpu',
    threshold_pct: 50,
    after_minutes: AFTER_S / 60,
    grace_minutes: 30,
    action: 'shutdown'
  }
];

test.use({
  mlopsServerEnv: { MLOPS_UI_IDLE_POLICY: JSON.stringify(RULE) }
});

interface IEvent {
  seq: number;
  time: number;
  kind: string;
  state: string;
  kernel_id?: string;
}

test.describe('MLOps notifications', () => {
  test('idle warning toast with the panel closed; keep alive works', async ({
    page,
    tmpPath
  }) => {
    const panel = page.locator(`#${PANEL_ID}`);
    if (await panel.isVisible()) {
      await page.sidebar.close('left');
    }
    await expect(panel).toBeHidden();

    await openNotebook(page, tmpPath, 'idle.ipynb', ['x = 1']);
    const kernelId = await currentKernelId(page);
    await expect(panel).toBeHidden();

    // A toast: an alert in JupyterLab's toast container.
    const toasts = page.locator('.jp-toastContainer').getByRole('alert');
    const warning = toasts
      .filter({ hasText: 'idle.ipynb' })
      .filter({ has: page.getByRole('button', { name: 'Keep alive 2 h' }) });
    await expect(warning).toBeVisible({ timeout: 60_000 });
    await expect(warning).toContainText('of a CPU core');
    await expect(warning).toContainText('shutting down in 30 min');
    await warning.getByRole('button', { name: 'Keep alive 2 h' }).click();

    const confirmation = toasts.filter({ hasText: 'Kept alive until' });
    await expect(confirmation).toBeVisible();
    await expect(confirmation).toContainText('idle.ipynb');
    await expect(warning).toBeHidden();

    // The server keeps it alive ...
    const cost = async (): Promise<{
      keep_alive?: Record<string, number>;
      targets: Record<string, { time: number }>;
    }> => (await page.request.get('/jupyter-mlops/api/cost')).json();
    const keptUntil = (await cost()).keep_alive?.[kernelId] ?? 0;
    expect(keptUntil).toBeGreaterThan(Date.now() / 1000 + 60 * 60);

    // ... and the policy clears its warning and warns no more, while the
    // sampler goes on seeing the kernel idle for several rule lengths.
    const kernelEvents = async (): Promise<IEvent[]> => {
      const feed = (await (
        await page.request.get('/jupyter-mlops/api/events?after=0')
      ).json()) as { events: IEvent[] };
      return feed.events.filter(
        e => e.kind === 'idle-policy' && e.kernel_id === kernelId
      );
    };
    await expect
      .poll(async () => (await kernelEvents()).map(e => e.state))
      .toContain('cleared');
    const cleared = (await kernelEvents()).find(e => e.state === 'cleared')!;
    await expect
      .poll(async () => (await cost()).targets[kernelId]?.time ?? 0, {
        timeout: 60_000
      })
      .toBeGreaterThan(cleared.time + 4 * AFTER_S);
    const after = (await kernelEvents()).filter(e => e.seq > cleared.seq);
    expect(after).toEqual([]);
    await expect(panel).toBeHidden();
  });
});
