/**
 * What the Galata specs share: the panel id, the part of `window.jupyterapp`
 * they use, and writing + opening a notebook.
 */
import { expect } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';

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
