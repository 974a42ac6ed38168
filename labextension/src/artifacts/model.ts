/**
 * The state of a run's Artifacts section: the folder tree (folders load when
 * first expanded), the selected file and its preview, the run's logged
 * models, and where to open the run in MLflow's own UI.
 *
 * No DOM: `ArtifactsSection.tsx` renders this model; tests drive it with a
 * fake `IArtifactsClient`.
 */
import { type ApiError, toApiError } from '../api/client';
import { Model } from '../common/model';
import type { IArtifactsClient } from '../api/artifacts';
import type {
  IArtifactEntry,
  IArtifactListing,
  IArtifactPreview
} from '../api/types';

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
export class ArtifactsModel extends Model {
  constructor(
    readonly client: IArtifactsClient,
    readonly runId: string
  ) {
    super();
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
      this.emit();
      return;
    }
    this._expanded.add(path);
    this.emit();
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
    this.emit();
    try {
      state.preview = await this.client.previewArtifact(this.runId, entry.path);
    } catch (reason) {
      state.error = toApiError(reason);
    }
    state.loading = false;
    if (this._selected === state) {
      this.emit();
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
    this.emit();
    try {
      state.listing = await this.client.listArtifacts(this.runId, path);
    } catch (reason) {
      state.error = toApiError(reason);
    }
    state.loading = false;
    this.emit();
  }

  private _folders = new Map<string, IFolderState>();
  private _expanded = new Set<string>();
  private _selected: ISelectedFile | null = null;
}
