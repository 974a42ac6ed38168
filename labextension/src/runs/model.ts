/**
 * The state of the Runs view and the requests that change it.
 *
 * No DOM: the widgets render this model and call its methods; tests drive it
 * with a fake `IRunsClient`.
 */

import { ApiError, toApiError } from '../api/client';
import type { IRunsClient } from '../api/runs';
import { Model, Refresher } from '../common/model';
import {
  appendPage,
  buildRunsQuery,
  DEFAULT_FILTER,
  DEFAULT_SORT,
  type IFilterState,
  isActive,
  type ISortState,
  mergeHead,
  replaceRuns,
  toggleSort
} from './logic';
import type {
  IExperiment,
  IHealth,
  IMetricPoint,
  IRunSummary
} from '../api/types';
import { mapLimit } from '../common/async';

/** At most this many runs are compared at once (each needs its histories). */
export const MAX_COMPARE = 10;

/** At most this many runs outside the first page are re-read per refresh. */
const MAX_ACTIVE_REFRESH = 25;

/** Parallel requests when reading runs and histories. */
const CONCURRENCY = 4;

/** What is known about one selected run: the full run and its metric histories. */
export interface IRunDetail {
  run: IRunSummary;
  /** Metric key -> history; a key is missing while its history loads. */
  histories: Map<string, IMetricPoint[]>;
  /** Per-metric load errors. */
  historyErrors: Map<string, string>;
}

export class RunsModel extends Model {
  constructor(options: {
    client: IRunsClient;
    pageSize?: number;
    refreshInterval?: number;
  }) {
    super();
    this._client = options.client;
    this._pageSize = options.pageSize ?? 100;
    this.poll = new Refresher({
      name: 'jupyter-mlops:runs',
      factory: () => this.refresh(),
      refreshInterval: options.refreshInterval
    });
  }

  /** Refreshes the list while the Runs view is shown (`refresh`, one tick). */
  readonly poll: Refresher;

  /** Check the server and load (`start`), then keep the list current (`poll`). */
  async open(): Promise<void> {
    await this.start();
    if (!this.isDisposed) {
      this.poll.start();
    }
  }

  protected onDispose(): void {
    this.poll.dispose();
  }

  get client(): IRunsClient {
    return this._client;
  }

  health: IHealth | null = null;
  /** The server extension is not reachable; the view shows how to fix it. */
  serverMissing = false;
  /** The last error of the list requests (not of the server check). */
  error: ApiError | null = null;
  /** The last error while reading the selected runs. */
  detailError: ApiError | null = null;
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

  /** Ids of the selected runs, in the order they were selected. */
  get selection(): readonly string[] {
    return this._selection;
  }

  /** Details of the selected runs that are loaded, in selection order. */
  get selectedDetails(): IRunDetail[] {
    return this._selection
      .map(id => this._details.get(id))
      .filter((d): d is IRunDetail => d !== undefined);
  }

  /** Check the server extension, then load experiments and the first page. */
  async start(): Promise<void> {
    if (!(await this._checkHealth())) {
      return;
    }
    await this._loadExperiments();
    await this.reload();
  }

  /** Change filters and reload from the first page. */
  async setFilter(change: Partial<IFilterState>): Promise<void> {
    this._filter = { ...this._filter, ...change };
    this.emit();
    await this.reload();
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

  /** Replace the list with the first page for the current filter and sort. */
  async reload(): Promise<void> {
    if (this.serverMissing) {
      return;
    }
    const generation = ++this._generation;
    this.loading = true;
    this.emit();
    try {
      const page = await this._client.searchRuns(
        buildRunsQuery(this._filter, this._sort, this._pageSize)
      );
      if (generation !== this._generation) {
        return;
      }
      this.runs = page.runs;
      this.nextPageToken = page.next_page_token;
      this.error = null;
      this.lastUpdated = Date.now();
    } catch (reason) {
      if (generation === this._generation) {
        this._fail(reason);
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
        buildRunsQuery(
          this._filter,
          this._sort,
          this._pageSize,
          this.nextPageToken
        )
      );
      if (generation !== this._generation) {
        return;
      }
      this.runs = appendPage(this.runs, page.runs);
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

  /**
   * One auto-refresh tick: the first page, runs still running further down,
   * and the selected runs. Rejects on failure so a `Poll` backs off.
   */
  async refresh(): Promise<void> {
    if (this.serverMissing) {
      // Retry the server check; start over when it is back.
      if (await this._checkHealth()) {
        await this._loadExperiments();
        await this.reload();
        await this._loadSelection();
        return;
      }
      throw new ApiError({ kind: 'server-missing', message: 'still missing' });
    }
    const generation = this._generation;
    const before = this.runs;
    // New experiments show up in the selector; a failure here is not fatal.
    const experiments = this._client.experiments().then(
      list => {
        this.experiments = list;
      },
      () => undefined
    );
    const page = await this._client
      .searchRuns(buildRunsQuery(this._filter, this._sort, this._pageSize))
      .catch(reason => {
        this._fail(reason);
        this.emit();
        throw reason;
      });
    await experiments;
    if (generation !== this._generation || this.isDisposed) {
      return;
    }
    const complete = page.next_page_token === null;
    const inHead = new Set(page.runs.map(run => run.run_id));
    // Runs still running below the first page are re-read one by one.
    const stale = mergeHead(before, page.runs, complete)
      .filter(run => !inHead.has(run.run_id) && isActive(run))
      .slice(0, MAX_ACTIVE_REFRESH);
    const fresh = await mapLimit(stale, CONCURRENCY, run =>
      this._client.getRun(run.run_id).catch(() => run)
    );
    if (generation !== this._generation || this.isDisposed) {
      return;
    }
    // Merge into the list as it is now ("load more" may have run meanwhile).
    const loaded = this.runs.length;
    this.runs = replaceRuns(mergeHead(this.runs, page.runs, complete), fresh);
    if (complete) {
      this.nextPageToken = null;
    } else if (loaded <= page.runs.length) {
      this.nextPageToken = page.next_page_token;
    }
    this.error = null;
    this.lastUpdated = Date.now();
    this.emit();
    await this._loadSelection();
  }

  /**
   * Select runs: without `additive` the selection becomes just `runId`
   * (details view); with it, `runId` is toggled in or out (comparison).
   */
  async select(runId: string, additive = false): Promise<void> {
    if (!additive) {
      this._selection = [runId];
    } else if (this._selection.includes(runId)) {
      this._selection = this._selection.filter(id => id !== runId);
    } else if (this._selection.length < MAX_COMPARE) {
      this._selection = [...this._selection, runId];
    }
    this.emit();
    await this._loadSelection();
  }

  /** Select exactly `runIds` (at most `MAX_COMPARE`). */
  async setSelection(runIds: readonly string[]): Promise<void> {
    this._selection = [...new Set(runIds)].slice(0, MAX_COMPARE);
    this.emit();
    await this._loadSelection();
  }

  clearSelection(): void {
    this._selection = [];
    this.emit();
  }

  /** Read the selected runs that are new or may still change, and their histories. */
  private async _loadSelection(): Promise<void> {
    const wanted = this._selection.filter(id => {
      const known = this._details.get(id);
      return known === undefined || isActive(known.run);
    });
    // Forget runs no longer selected.
    for (const id of [...this._details.keys()]) {
      if (!this._selection.includes(id)) {
        this._details.delete(id);
      }
    }
    if (!wanted.length) {
      return;
    }
    try {
      await mapLimit(wanted, CONCURRENCY, id => this._loadRun(id));
      this.detailError = null;
    } catch (reason) {
      this.detailError = toApiError(reason);
    }
    this.emit();
  }

  private async _loadRun(runId: string): Promise<void> {
    const run = await this._client.getRun(runId);
    if (!this._selection.includes(runId)) {
      return;
    }
    const previous = this._details.get(runId);
    const detail: IRunDetail = {
      run,
      histories: previous?.histories ?? new Map(),
      historyErrors: new Map()
    };
    this._details.set(runId, detail);
    this.runs = replaceRuns(this.runs, [run]);
    this.emit();
    await mapLimit(Object.keys(run.metrics), CONCURRENCY, async key => {
      try {
        const history = await this._client.metricHistory(runId, key);
        detail.histories.set(key, history.points);
      } catch (reason) {
        detail.historyErrors.set(key, toApiError(reason).message);
      }
    });
  }

  private async _checkHealth(): Promise<boolean> {
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

  private async _loadExperiments(): Promise<void> {
    try {
      this.experiments = await this._client.experiments();
    } catch (reason) {
      this._fail(reason);
    }
    this.emit();
  }

  private _fail(reason: unknown): void {
    const error = toApiError(reason);
    if (error.serverMissing) {
      this.serverMissing = true;
    }
    this.error = error;
  }

  private _client: IRunsClient;
  private _pageSize: number;
  private _filter: IFilterState = { ...DEFAULT_FILTER };
  private _sort: ISortState = { ...DEFAULT_SORT };
  private _selection: string[] = [];
  private _details = new Map<string, IRunDetail>();
  private _generation = 0;
}
