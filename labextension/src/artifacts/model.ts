/**
 * The state of a run's Artifacts section: the folder tree (folders load when
 * first expanded), the selected file and its preview, the run's logged
 * models, and where to open the run in MLflow's own UI.
 *
 * No DOM: `widgets/artifacts.tsx` renders this model; tests drive it with a
 * fake `IArtifactsClient`.
 */
import { type ISignal, Signal } from '@lumino/signaling';

import { type ApiError, toApiError } from '../api/client';
import type { IArtifactsClient } from '../api/artifacts';
import type {
  ArtifactKind,
  IArtifactEntry,
  IArtifactListing,
  IArtifactPreview,
  IMlflowUi,
  IModelColumn
} from '../api/types';

/** `1.5 KB`, `12 MB`: sizes in powers of 1024, one decimal under 10. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text =
    unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/**
 * How the panel shows a file: `image` in an `<img>`, `frame` (HTML, SVG) in an
 * `<iframe sandbox>` without scripts or same origin, `text` as text, `none`
 * (a download link only).
 */
export type PreviewMode = 'image' | 'frame' | 'text' | 'none';

export function previewMode(kind: ArtifactKind): PreviewMode {
  switch (kind) {
    case 'image':
      return 'image';
    case 'html':
    case 'svg':
      return 'frame';
    case 'text':
      return 'text';
    default:
      return 'none';
  }
}

/**
 * The `sandbox` attribute of every frame that shows an artifact: empty, so
 * no script runs and the frame gets an opaque origin (never
 * `allow-same-origin`, never `allow-scripts`).
 */
export const FRAME_SANDBOX = '';

/** `age: double, city: string (optional)`; `-` for none. */
export function columnsText(columns: readonly IModelColumn[]): string {
  if (!columns.length) {
    return '-';
  }
  return columns
    .map(column =>
      column.name ? `${column.name}: ${column.type}` : column.type
    )
    .join(', ');
}

/** Where to see a run in MLflow's UI: a link when configured, else the command to start one. */
export type MlflowUiLink =
  | { kind: 'link'; href: string }
  | { kind: 'command'; command: string };

export function mlflowRunLink(
  ui: IMlflowUi,
  experimentId: string,
  runId: string
): MlflowUiLink {
  const base = (ui.url ?? '').replace(/\/+$/, '');
  if (base && /^https?:\/\//i.test(base)) {
    return {
      kind: 'link',
      href: `${base}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`
    };
  }
  return { kind: 'command', command: ui.command };
}

/** One folder's state in the tree. */
export interface IFolderState {
  listing: IArtifactListing | null;
  loading: boolean;
  error: ApiError | null;
}

/** One visible row of the tree. */
export interface ITreeRow {
  entry: IArtifactEntry;
  depth: number;
  expanded: boolean;
}

/** The selected file and what is known of it. */
export interface ISelectedFile {
  entry: IArtifactEntry;
  preview: IArtifactPreview | null;
  loading: boolean;
  error: ApiError | null;
}

/** The Artifacts section of one run. */
export class ArtifactsModel {
  constructor(
    readonly client: IArtifactsClient,
    readonly runId: string
  ) {}

  /** Emitted whenever anything shown changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Each loaded (or loading) folder by path; the root is `''`. */
  folder(path: string): IFolderState | undefined {
    return this._folders.get(path);
  }

  get root(): IFolderState | undefined {
    return this._folders.get('');
  }

  get selected(): ISelectedFile | null {
    return this._selected;
  }

  isExpanded(path: string): boolean {
    return this._expanded.has(path);
  }

  /** Load the root folder (once). */
  async start(): Promise<void> {
    await this._load('');
  }

  /** Expand a folder (loading it the first time) or collapse it. */
  async toggle(path: string): Promise<void> {
    if (this._expanded.has(path)) {
      this._expanded.delete(path);
      this._changed.emit();
      return;
    }
    this._expanded.add(path);
    this._changed.emit();
    await this._load(path);
  }

  /** Select a file and load its preview; a folder toggles instead. */
  async select(entry: IArtifactEntry): Promise<void> {
    if (entry.is_dir) {
      await this.toggle(entry.path);
      return;
    }
    const state: ISelectedFile = {
      entry,
      preview: null,
      loading: true,
      error: null
    };
    this._selected = state;
    this._changed.emit();
    try {
      state.preview = await this.client.previewArtifact(this.runId, entry.path);
    } catch (reason) {
      state.error = toApiError(reason);
    }
    state.loading = false;
    if (this._selected === state) {
      this._changed.emit();
    }
  }

  /** The visible rows: the root's entries, and those of every expanded folder below them. */
  rows(): ITreeRow[] {
    const out: ITreeRow[] = [];
    const walk = (path: string, depth: number): void => {
      const listing = this._folders.get(path)?.listing;
      for (const entry of listing?.entries ?? []) {
        const expanded = entry.is_dir && this._expanded.has(entry.path);
        out.push({ entry, depth, expanded });
        if (expanded) {
          walk(entry.path, depth + 1);
        }
      }
    };
    walk('', 0);
    return out;
  }

  /** The raw route's URL of a file (for `<img>`, a sandboxed frame, a download). */
  rawUrl(
    path: string,
    options: { download?: boolean; preview?: boolean } = {}
  ): string {
    return this.client.rawUrl(this.runId, path, options);
  }

  private async _load(path: string): Promise<void> {
    const known = this._folders.get(path);
    if (known && (known.loading || known.listing)) {
      return;
    }
    const state: IFolderState = { listing: null, loading: true, error: null };
    this._folders.set(path, state);
    this._changed.emit();
    try {
      state.listing = await this.client.listArtifacts(this.runId, path);
    } catch (reason) {
      state.error = toApiError(reason);
    }
    state.loading = false;
    this._changed.emit();
  }

  private _changed = new Signal<this, void>(this);
  private _folders = new Map<string, IFolderState>();
  private _expanded = new Set<string>();
  private _selected: ISelectedFile | null = null;
}
