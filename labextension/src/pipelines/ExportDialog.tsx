/**
 * The "Export to pipeline" dialog: the notebook's parameters (inferred types,
 * defaults, non-literal ones flagged); when no cell is tagged `parameters`, a
 * choice of the code cell to tag (the active cell by default); the output
 * folder and the pipeline name. Export writes the pipeline on the server.
 *
 * Works with any widget that has a document `context` and a notebook
 * `content` (duck-typed, so there is no dependency on the notebook package).
 * The dialog itself is the caller's (`ask`: the plugin shows `ExportForm` in
 * a JupyterLab `Dialog`), so that the export's steps run without a DOM too.
 */
import type { Widget } from '@lumino/widgets';
import { Signal } from '@lumino/signaling';
import React from 'react';

import type { ApiError } from '../api/client';
import { displayValue } from './form';
import {
  type IExportRequest,
  type IExportResult,
  type INotebookParameter,
  type INotebookParameters,
  type IPipelinesClient,
  pipelinesError
} from '../api/pipelines';
import { useSignal } from '../common/hooks';
import { ErrorList } from './launches';

/** The part of an open notebook the export needs. */
export interface INotebookRef {
  /** Relative to the server root. */
  path: string;
  /** Index of the active cell (all cells counted). */
  activeCell: number | null;
  dirty: boolean;
  save(): Promise<void>;
  /** Read the file again (after the server tagged a cell in it). */
  revert(): Promise<void>;
}

/** The open notebook `widget` shows, or null when it is not a notebook. */
export function notebookOf(
  widget: Widget | null | undefined
): INotebookRef | null {
  const candidate = widget as
    | {
        context?: {
          path?: unknown;
          model?: { dirty?: boolean };
          save?: () => Promise<void>;
          revert?: () => Promise<void>;
        };
        content?: { activeCellIndex?: unknown };
      }
    | null
    | undefined;
  const context = candidate?.context;
  if (
    !context ||
    typeof context.path !== 'string' ||
    !context.path.endsWith('.ipynb') ||
    typeof context.save !== 'function' ||
    typeof context.revert !== 'function'
  ) {
    return null;
  }
  const active = candidate?.content?.activeCellIndex;
  return {
    path: context.path,
    activeCell: typeof active === 'number' && active >= 0 ? active : null,
    dirty: !!context.model?.dirty,
    save: () => context.save!.call(context),
    revert: () => context.revert!.call(context)
  };
}

/** The default output folder and name of a notebook's pipeline: `pipelines/<stem>`. */
export function exportDefaults(path: string): { output: string; name: string } {
  const base = path.split('/').pop() ?? path;
  const stem = base.replace(/\.ipynb$/i, '') || 'pipeline';
  return { output: `pipelines/${stem}`, name: stem };
}

/** The cell to tag by default: the active cell when it is a code cell, else the first code cell. */
export function defaultTagCell(
  info: Pick<INotebookParameters, 'cells'>,
  activeCell: number | null
): number | null {
  if (
    activeCell !== null &&
    info.cells.some(cell => cell.index === activeCell)
  ) {
    return activeCell;
  }
  return info.cells.length ? info.cells[0].index : null;
}

/** What the dialog shows and what the user chose; survives the dialog being shown again. */
export class ExportState {
  constructor(
    readonly path: string,
    readonly activeCell: number | null = null
  ) {
    const defaults = exportDefaults(path);
    this.output = defaults.output;
    this.name = defaults.name;
  }

  readonly changed = new Signal<this, void>(this);
  loading = false;
  info: INotebookParameters | null = null;
  error: ApiError | null = null;
  /** The cell to tag `parameters` (only when the notebook has none). */
  tagCell: number | null = null;
  output: string;
  name: string;

  /** Read the notebook's parameters cell. */
  async load(client: IPipelinesClient): Promise<void> {
    this.loading = true;
    this.changed.emit();
    try {
      this.info = await client.notebookParameters(this.path);
      this.tagCell =
        this.info.parameters_cell === null
          ? defaultTagCell(this.info, this.activeCell)
          : null;
      this.error = null;
    } catch (reason) {
      this.error = pipelinesError(reason);
    } finally {
      this.loading = false;
      this.changed.emit();
    }
  }

  set(change: Partial<Pick<ExportState, 'tagCell' | 'output' | 'name'>>): void {
    Object.assign(this, change);
    this.changed.emit();
  }

  /** The export request, or what is missing. */
  request():
    | { ok: true; request: IExportRequest }
    | { ok: false; message: string } {
    const output = this.output.trim();
    if (!output) {
      return { ok: false, message: 'Choose an output folder.' };
    }
    const request: IExportRequest = { notebooks: [this.path], output };
    if (this.name.trim()) {
      request.name = this.name.trim();
    }
    if (this.info && this.info.parameters_cell === null) {
      if (this.tagCell === null) {
        return {
          ok: false,
          message:
            'This notebook has no code cell to tag as its parameters cell.'
        };
      }
      request.tag_cell = this.tagCell;
    }
    return { ok: true, request };
  }
}

/** The notebook's parameters: name, type, default, annotation, non-literal flag. */
export function NotebookParams(props: {
  parameters: readonly INotebookParameter[];
}): JSX.Element {
  if (!props.parameters.length) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-export-no-params">
        The parameters cell assigns no parameters.
      </div>
    );
  }
  return (
    <table className="jp-mlops-table" data-testid="mlops-export-params">
      <thead>
        <tr>
          <th scope="col">Parameter</th>
          <th scope="col">Type</th>
          <th scope="col">Default</th>
        </tr>
      </thead>
      <tbody>
        {props.parameters.map(param => (
          <tr
            key={param.name}
            data-testid="mlops-export-param"
            data-name={param.name}
          >
            <th scope="row" title={`line ${param.line}`}>
              {param.name}
            </th>
            <td
              title={
                param.annotation
                  ? `annotated ${param.annotation}`
                  : 'inferred from the value'
              }
            >
              {param.type}
            </td>
            <td className="jp-mlops-mono">
              {param.literal ? (
                displayValue(param.default)
              ) : (
                <span
                  className="jp-mlops-param-flag"
                  data-testid="mlops-param-flag"
                  title="Not a literal: the notebook computes it, a run cannot set it"
                >
                  non-literal
                </span>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExportForm({ state }: { state: ExportState }): JSX.Element {
  useSignal(state.changed);
  const info = state.info;
  return (
    <div className="jp-mlops-export" data-testid="mlops-export-dialog">
      <div className="jp-mlops-muted" title={state.path}>
        {state.path}
      </div>
      {state.error ? (
        <ErrorList error={state.error} testId="mlops-export-error" />
      ) : null}
      {state.loading && !info ? (
        <div className="jp-mlops-muted">Reading the notebook{'\u2026'}</div>
      ) : null}
      {info ? (
        info.parameters_cell === null ? (
          <label className="jp-mlops-export-field">
            <span>
              No cell is tagged <code>parameters</code>. Tag this cell:
            </span>
            <select
              className="jp-mod-styled"
              data-testid="mlops-export-tag-cell"
              value={state.tagCell === null ? '' : String(state.tagCell)}
              onChange={event =>
                state.set({
                  tagCell:
                    event.target.value === ''
                      ? null
                      : Number(event.target.value)
                })
              }
            >
              {info.cells.map(cell => (
                <option key={cell.index} value={String(cell.index)}>
                  {`[${cell.index}] ${cell.preview}`}
                </option>
              ))}
            </select>
            <span className="jp-mlops-muted">
              Its parameters, with their types and defaults, show in the
              Pipelines view after the export.
            </span>
          </label>
        ) : (
          <NotebookParams parameters={info.parameters} />
        )
      ) : null}
      <label className="jp-mlops-export-field">
        <span>Output folder</span>
        <input
          className="jp-mod-styled"
          data-testid="mlops-export-output"
          value={state.output}
          onChange={event => state.set({ output: event.target.value })}
        />
      </label>
      <label className="jp-mlops-export-field">
        <span>Name</span>
        <input
          className="jp-mod-styled"
          data-testid="mlops-export-name"
          value={state.name}
          onChange={event => state.set({ name: event.target.value })}
        />
      </label>
    </div>
  );
}

/**
 * Ask with the dialog for `notebook` and export on "Export". A failed export
 * asks again, the error shown. Resolves to the result, or null when the user
 * cancels.
 *
 * `ask` shows `ExportForm` for the state and resolves to true on "Export".
 */
export async function exportToPipeline(options: {
  client: IPipelinesClient;
  notebook: INotebookRef;
  ask: (state: ExportState) => Promise<boolean>;
}): Promise<IExportResult | null> {
  const { client, notebook } = options;
  // The server reads the file: save what the user sees first.
  if (notebook.dirty) {
    await notebook.save();
  }
  const state = new ExportState(notebook.path, notebook.activeCell);
  const loading = state.load(client);
  for (;;) {
    if (!(await options.ask(state))) {
      return null;
    }
    await loading;
    const built = state.request();
    if (!built.ok) {
      state.error = pipelinesError(new Error(built.message));
      continue;
    }
    try {
      const exported = await client.exportPipeline(built.request);
      if (built.request.tag_cell !== undefined) {
        // The server tagged the cell in the file: show it.
        await notebook.revert();
      }
      return exported;
    } catch (reason) {
      state.error = pipelinesError(reason);
    }
  }
}
