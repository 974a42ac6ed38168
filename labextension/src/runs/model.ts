/**
 * The state of the Runs view: the list (`RunsListModel`), the selected runs
 * with their details and metric histories, and the auto-refresh.
 *
 * No DOM: the widgets render this model and call its methods; tests drive it
 * with a fake `IRunsClient`.
 */

import { ApiError, toApiError } from '../api/client';
import type { IRunsClient } from '../api/runs';
import type { IMetricPoint, IRunSummary } from '../api/types';
import { mapLimit } from '../common/async';
import { Refresher } from '../common/model';
import { RunsListModel } from './listModel';
import { isActive, mergeHead, orderByClause, replaceRuns } from './logic';

export { RunsListModel } from './listModel';

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

export class RunsModel extends RunsListModel {
  constructor(options: {
    client: IRunsClient;
    pageSize?: number;
    refreshInterval?: number;
  }) {
    super(options);
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

  /** The last error while reading the selected runs. */
  detailError: ApiError | null = null;

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
    const page = await this._client.searchRuns(this._query()).catch(reason => {
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
    this.nesting.takePage(page, complete);
    this.emit();
    await this.nesting.refresh(orderByClause(this._sort));
    await this._loadSelection();
  }

  /** Unselect the runs the list (with its shown children) no longer holds. */
  protected retainListed(): void {
    const listed = this.nesting.shownIds();
    this.runs.forEach(run => listed.add(run.run_id));
    const kept = this._selection.filter(id => listed.has(id));
    if (kept.length !== this._selection.length) {
      this._selection = kept;
      void this._loadSelection();
    }
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

  /** After an edit (run actions): read `runId` again if selected, then the list. */
  async reloadRun(runId: string): Promise<void> {
    if (this._selection.includes(runId)) {
      await this._loadRun(runId).catch(reason => {
        this.detailError = toApiError(reason);
      });
      this.emit();
    }
    await this.reload();
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

  private _selection: string[] = [];
  private _details = new Map<string, IRunDetail>();
}
