/**
 * Child runs under their parent in the runs list (pipeline steps, sweep
 * trials: tag `mlflow.parentRunId`): the summaries the server sends with each
 * top-level page, which parents are expanded, and their children, loaded
 * with `GET /runs?parent=<id>` when a parent is expanded and refreshed with
 * the list.
 *
 * Part of `RunsModel` (`model.nesting`); it tells the model to emit through
 * `changed`.
 */
import { type ApiError, toApiError } from '../api/client';
import type { IRunsClient } from '../api/runs';
import type { IChildrenSummary, IRunSummary, IRunsPage } from '../api/types';
import { mapLimit } from '../common/async';
import { MAX_PAGE_SIZE } from './logic';

export class RunChildren {
  constructor(
    private readonly _client: IRunsClient,
    private readonly _changed: () => void
  ) {}

  /** Parent run id -> summary of its children (from the list's pages). */
  readonly summaries = new Map<string, IChildrenSummary>();
  /** The server scanned only part of the children: counts may be low. */
  truncated = false;
  /** Parent run id -> its loaded children, in the list's sort order. */
  readonly runs = new Map<string, IRunSummary[]>();
  /** Parent run id -> why its children could not be loaded. */
  readonly errors = new Map<string, ApiError>();

  isExpanded(parentId: string): boolean {
    return this._expanded.has(parentId);
  }

  /** Take the summaries of a page; `replace` for a first page that starts the list over. */
  takePage(page: IRunsPage, replace: boolean): void {
    if (replace) {
      this.summaries.clear();
      this.truncated = false;
    }
    for (const [id, summary] of Object.entries(page.children ?? {})) {
      this.summaries.set(id, summary);
    }
    this.truncated = this.truncated || !!page.children_truncated;
  }

  /** Expand (and load the children of) a collapsed parent, or collapse an expanded one. */
  async toggle(parentId: string, orderBy: string): Promise<void> {
    if (this._expanded.delete(parentId)) {
      this._changed();
      return;
    }
    this._expanded.add(parentId);
    this._changed();
    await this._load(parentId, orderBy);
  }

  /** Re-read the children of every expanded parent (a sort change, an auto-refresh tick). */
  async refresh(orderBy: string): Promise<void> {
    await mapLimit([...this._expanded], 4, id => this._load(id, orderBy));
  }

  /** Forget everything (the list is no longer nested). */
  reset(): void {
    this.summaries.clear();
    this.runs.clear();
    this.errors.clear();
    this._expanded.clear();
    this.truncated = false;
  }

  /** Ids of the children shown under expanded parents. */
  shownIds(): Set<string> {
    const ids = new Set<string>();
    for (const id of this._expanded) {
      this.runs.get(id)?.forEach(run => ids.add(run.run_id));
    }
    return ids;
  }

  private async _load(parentId: string, orderBy: string): Promise<void> {
    try {
      const page = await this._client.searchRuns({
        parent: parentId,
        order_by: orderBy,
        max_results: MAX_PAGE_SIZE
      });
      this.runs.set(parentId, page.runs);
      this.errors.delete(parentId);
    } catch (reason) {
      this.errors.set(parentId, toApiError(reason));
    }
    this._changed();
  }

  private _expanded = new Set<string>();
}
