/**
 * The runs list of the Runs view: server check, experiments, the filtered,
 * sorted and paged list, the search box's error, user columns and nesting.
 * `RunsModel` adds the selection, its details and the auto-refresh.
 *
 * No DOM: the widgets render this model and call its methods; tests drive it
 * with a fake `IRunsClient`.
 */
import { type ApiError, toApiError } from '../api/client';
import type { IRunsClient } from '../api/runs';
import type {
  IExperiment,
  IHealth,
  IRunSummary,
  IRunsQuery
} from '../api/types';
import { Model } from '../common/model';
import { bestClause, isNested, userColumnIds } from './columns';
import {
  appendPage,
  buildRunsQuery,
  DEFAULT_FILTER,
  DEFAULT_SORT,
  type IFilterState,
  type ISortState,
  orderByClause,
  toggleSort
} from './logic';
import { RunChildren } from './nesting';

export class RunsListModel extends Model {
  constructor(options: { client: IRunsClient; pageSize?: number }) {
    super();
    this._client = options.client;
    this._pageSize = options.pageSize ?? 100;
    this.nesting = new RunChildren(this._client, () => this.emit());
  }

  /** Children under their parents while the list is nested (no filter set). */
  readonly nesting: RunChildren;

  get client(): IRunsClient {
    return this._client;
  }

  health: IHealth | null = null;
  /** The server extension is not reachable; the view shows how to fix it. */
  serverMissing = false;
  /** The last error of the list requests (not of the server check). */
  error: ApiError | null = null;
  /** Why the text in the search box was refused (400); the list is that of the last good search. */
  searchError: ApiError | null = null;
  /** The text of the search box (the applied search is `filter.search`). */
  searchInput = '';
  loading = false;
  loadingMore = false;
  experiments: IExperiment[] = [];
  runs: IRunSummary[] = [];
  nextPageToken: string | null = null;
  /** Time of the last successful list refresh (ms since epoch). */
  lastUpdated: number | null = null;

  get filter(): IFilterState {
    return this._filter;
  }

  get sort(): ISortState {
    return this._sort;
  }

  get pageSize(): number {
    return this._pageSize;
  }

  set pageSize(value: number) {
    this._pageSize = value;
  }

  /** Check the server extension, then load experiments and the first page. */
  async start(): Promise<void> {
    if (!(await this._checkHealth())) {
      return;
    }
    await this._loadExperiments();
    await this.reload();
  }

  /**
   * Change filters and reload from the first page; selected runs the new
   * list no longer shows are unselected (their details go).
   */
  async setFilter(change: Partial<IFilterState>): Promise<void> {
    if (change.search !== undefined) {
      this.searchInput = change.search;
    }
    this._filter = { ...this._filter, ...change };
    this.emit();
    await this.reload(true);
  }

  /**
   * The user columns shown (`metrics.<key>`, `params.<key>`, `tags.<key>`):
   * those of the `columns` setting, with the ones just added or hidden.
   */
  get columns(): string[] {
    return this._columns;
  }

  /**
   * Where `addColumn` and `removeColumn` save the user columns: the
   * `columns` setting, so the user's settings file stays the one list.
   * Without one (or when saving fails) a change lasts for this session.
   */
  columnStore: ((ids: string[]) => Promise<void>) | null = null;

  /**
   * The user columns of the settings. Ignored while a change of ours is
   * being saved: the settings catch up when the save lands.
   */
  setBaseColumns(ids: readonly string[]): void {
    const next = userColumnIds(ids);
    if (!this._saving && !sameIds(next, this._columns)) {
      this._columns = next;
      this.emit();
    }
  }

  /**
   * Show a metric, param or tag as a column ("column" in the details) and
   * save it in the settings: `addColumn('metrics.accuracy')`. False when
   * `key` is not of that form; true when the column is (now) shown.
   */
  addColumn(key: string): boolean {
    const [id] = userColumnIds([key]);
    if (!id) {
      return false;
    }
    if (!this._columns.includes(id)) {
      this._saveColumns([...this._columns, id]);
    }
    return true;
  }

  /**
   * Hide a user column (its header's "hide") and save that in the
   * settings; when the list was sorted by it, the sort goes back to the
   * default.
   */
  removeColumn(key: string): void {
    const [id] = userColumnIds([key]);
    if (!id || !this._columns.includes(id)) {
      return;
    }
    this._saveColumns(this._columns.filter(c => c !== id));
    if (this._sort.key === id) {
      void this.setSort(DEFAULT_SORT);
    }
  }

  /** Show `ids` now; save them through `columnStore`. */
  private _saveColumns(ids: string[]): void {
    this._columns = ids;
    this.emit();
    const store = this.columnStore;
    if (!store) {
      return;
    }
    this._saving++;
    store(ids)
      .catch(reason => {
        console.warn(
          'jupyter-mlops: could not save the columns setting; the change lasts for this session',
          reason
        );
      })
      .finally(() => {
        this._saving--;
      });
  }

  /** Sort by `key` (toggling the direction when it is already the sort key) and reload. */
  async sortBy(key: string): Promise<void> {
    this._sort = toggleSort(this._sort, key);
    this.emit();
    await this.reload();
  }

  /** Set the sort exactly and reload. */
  async setSort(sort: ISortState): Promise<void> {
    this._sort = { ...sort };
    this.emit();
    await this.reload();
  }

  /** The `GET /runs` query of the list: top-level runs with summaries while nested. */
  protected _query(pageToken?: string | null): IRunsQuery {
    const nested: Partial<IRunsQuery> = isNested(this._filter)
      ? { top_level: 'true', best: bestClause(this._sort, this.columns) }
      : {};
    if (nested.best === undefined) {
      delete nested.best;
    }
    return buildRunsQuery(
      this._filter,
      this._sort,
      this._pageSize,
      pageToken,
      nested
    );
  }

  /**
   * Replace the list with the first page for the current filter and sort.
   * A search the server refuses (400) leaves the list as it was, with
   * `searchError` set; `unselect` drops selected runs no longer listed.
   */
  async reload(unselect = false): Promise<void> {
    if (this.serverMissing) {
      return;
    }
    const generation = ++this._generation;
    this.loading = true;
    this.emit();
    try {
      const page = await this._client.searchRuns(this._query());
      if (generation !== this._generation) {
        return;
      }
      this.runs = page.runs;
      this.nextPageToken = page.next_page_token;
      this.error = null;
      this.searchError = null;
      this._appliedSearch = this._filter.search;
      this.lastUpdated = Date.now();
      if (!isNested(this._filter)) {
        this.nesting.reset();
      } else {
        this.nesting.takePage(page, true);
        await this.nesting.refresh(orderByClause(this._sort));
      }
      if (unselect) {
        this.retainListed();
      }
    } catch (reason) {
      if (generation === this._generation) {
        const error = toApiError(reason);
        if (
          error.status === 400 &&
          this._filter.search !== this._appliedSearch
        ) {
          this.searchError = error;
          this._filter = { ...this._filter, search: this._appliedSearch };
        } else {
          this._fail(reason);
        }
      }
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this.emit();
      }
    }
  }

  /** Append the next page. */
  async loadMore(): Promise<void> {
    if (!this.nextPageToken || this.loadingMore || this.serverMissing) {
      return;
    }
    const generation = this._generation;
    this.loadingMore = true;
    this.emit();
    try {
      const page = await this._client.searchRuns(
        this._query(this.nextPageToken)
      );
      if (generation !== this._generation) {
        return;
      }
      this.runs = appendPage(this.runs, page.runs);
      this.nesting.takePage(page, false);
      this.nextPageToken = page.next_page_token;
      this.error = null;
    } catch (reason) {
      if (generation === this._generation) {
        this._fail(reason);
      }
    } finally {
      this.loadingMore = false;
      this.emit();
    }
  }

  /** Called after a filter change: the subclass drops what the list no longer holds. */
  protected retainListed(): void {
    // Nothing to drop in a bare list.
  }

  protected async _checkHealth(): Promise<boolean> {
    try {
      this.health = await this._client.health();
      this.serverMissing = false;
      this.error = null;
      return true;
    } catch (reason) {
      this._fail(reason);
      return false;
    } finally {
      this.emit();
    }
  }

  protected async _loadExperiments(): Promise<void> {
    try {
      this.experiments = await this._client.experiments();
    } catch (reason) {
      this._fail(reason);
    }
    this.emit();
  }

  protected _fail(reason: unknown): void {
    const error = toApiError(reason);
    if (error.serverMissing) {
      this.serverMissing = true;
    }
    this.error = error;
  }

  protected _client: IRunsClient;
  protected _pageSize: number;
  protected _filter: IFilterState = { ...DEFAULT_FILTER };
  protected _sort: ISortState = { ...DEFAULT_SORT };
  protected _generation = 0;
  private _appliedSearch = '';
  private _columns: string[] = [];
  private _saving = 0;
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
