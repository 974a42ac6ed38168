/**
 * What the Galata specs share: the panel id, the part of `window.jupyterapp`
 * they use, fast-refresh settings, opening the panel and switching its view,
 * writing + opening a notebook, the current notebook's kernel, and the dark
 * theme.
 */
import { expect, galata } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';

export const PANEL_ID = 'jupyter-mlops-panel';

/** The part of `window.jupyterapp` (exposed by galata's server config) used here. */
export interface IApp {
  commands: { execute(id: string, args?: object): Promise<unknown> };
  shell: {
    currentWidget: {
      sessionContext?: { session?: { kernel?: { id: string } | null } | null };
    } | null;
  };
}

/** `test.use(FAST_REFRESH)`: the panel refreshes every second, so tests do not wait for the default 5 s. */
export const FAST_REFRESH = {
  mockSettings: {
    ...galata.DEFAULT_SETTINGS,
    'jupyter-mlops:plugin': { refreshInterval: 1 }
  }
};

/** Open the MLOps sidebar panel; resolves to it once visible. */
export async function openPanel(page: Page): Promise<Locator> {
  await page.sidebar.openTab(PANEL_ID);
  const panel = page.locator(`#${PANEL_ID}`);
  await expect(panel).toBeVisible();
  return panel;
}

/** Click a view of the panel's "Runs | Environment | Cost | Pipelines" switch. */
export async function switchTo(panel: Locator, view: string): Promise<void> {
  const tab = panel
    .getByTestId('mlops-view-switch')
    .locator(`[data-view="${view}"]`);
  await tab.click();
  await expect(tab).toHaveAttribute('aria-selected', 'true');
}

/** The id of the current notebook's kernel, once it has one. */
export async function currentKernelId(page: Page): Promise<string> {
  let id = '';
  await expect
    .poll(async () => {
      id = await page.evaluate(() => {
        const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
        return (
          app.shell.currentWidget?.sessionContext?.session?.kernel?.id ?? ''
        );
      });
      return id;
    })
    .not.toBe('');
  return id;
}

/** A notebook (nbformat 4 JSON) with one code cell per source. */
export function notebook(cells: string[]): string {
  return JSON.stringify({
    cells: cells.map(source => ({
      cell_type: 'code',
      execution_count: null,
      metadata: {},
      outputs: [],
      source
    })),
    metadata: {
      kernelspec: {
        display_name: 'Python 3 (ipykernel)',
        language: 'python',
        name: 'python3'
      }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/**
 * Put a notebook in the test folder and open it. Writing the file (instead of
 * typing into cells) keeps the editor's auto-indent out of the sources; the
 * command (not the file browser) opens it because the MLOps panel holds the
 * left sidebar.
 */
export async function openNotebook(
  page: Page,
  tmpPath: string,
  name: string,
  cells: string[]
): Promise<void> {
  const file = `${tmpPath}/${name}`;
  await page.contents.uploadContent(notebook(cells), 'text', file);
  await page.evaluate(async path => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    await app.commands.execute('docmanager:open', { path });
  }, file);
  await expect.poll(() => page.notebook.isOpen(name)).toBe(true);
  await page.notebook.activate(name);
}

/** Switch JupyterLab to its dark theme; resolves once the page shows it. */
export async function useDarkTheme(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const app = (window as unknown as { jupyterapp: IApp }).jupyterapp;
    await app.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Dark'
    });
  });
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false'
  );
}

/** Export the notebook `file` to the pipeline folder `output` through the REST API. */
export async function exportPipeline(
  page: Page,
  file: string,
  output: string
): Promise<void> {
  const response = await page.request.post(
    '/jupyter-mlops/api/pipelines/export',
    { data: { notebooks: [file], output } }
  );
  expect(response.status()).toBe(201);
}

/**
 * Open the panel's Pipelines view and select the exported pipeline at
 * `output`; the view and the pipeline's (now selected) item.
 */
export async function selectPipeline(
  page: Page,
  output: string
): Promise<{ panel: Locator; view: Locator; item: Locator }> {
  const panel = await openPanel(page);
  await switchTo(panel, 'pipelines');
  const view = panel.getByTestId('mlops-pipelines-view');
  const item = view.locator(
    `[data-testid="mlops-pipeline-item"][data-path="${output}"]`
  );
  await item.click();
  await expect(item).toHaveAttribute('aria-pressed', 'true');
  return { panel, view, item };
}
