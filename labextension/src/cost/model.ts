/**
 * The live cost state shared by the status bar item and the Cost view, kept
 * current by its own `Poll` (`refresher`) while either shows it; and the
 * Cost view's history (chart and report table) of the chosen range and
 * grouping, read from the ledger about every minute.
 *
 * No DOM: the widgets render `CostModel`; tests drive it with a fake
 * `ICostClient`.
 */
import type { ApiError } from '../api/client';
import {
  costError,
  type CostRange,
  type IBudgetStatus,
  type ICostClient,
  type ICostReport,
  type ICostStatus,
  isCostUnavailable
} from '../api/cost';
import { Model, Refresher } from '../common/model';
import {
  budgetBar,
  costRows,
  type IBudgetBar,
  type ICostRow,
  type IWasteItem,
  kernelRow,
  wasteItems
} from './logic';
import {
  type CostGroupBy,
  CostTimeline,
  groupingParam,
  type ICostGrouping
} from './series';

/** The live cost state shared by the status bar item and the Cost view. */
export class CostModel extends Model {
  constructor(options: { client: ICostClient; refreshInterval?: number }) {
    super();
    this._client = options.client;
    // While the Cost view or the status bar item shows it, the browser tab
    // is visible, and the server has cost at all.
    this.poll = new Refresher({
      name: 'jupyter-mlops:cost',
      factory: () => this.load(),
      refreshInterval: options.refreshInterval,
      available: () => !this.unavailable
    });
  }

  /** Reads the cost while the Cost view or the status bar item shows it. */
  readonly poll: Refresher;

  get client(): ICostClient {
    return this._client;
  }

  /** The last status read; null before the first answer. */
  status: ICostStatus | null = null;
  /** Budgets: from the status when it has them, else from `cost/budgets`. */
  budgets: IBudgetStatus[] = [];
  error: ApiError | null = null;
  loading = false;
  /** The chart's data: the ledger's history of `range` and `grouping`, then the live ticks. */
  readonly timeline = new CostTimeline();
  /** The report table of `range` and `grouping` (`cost/report`); null before it. */
  report: ICostReport | null = null;
  /** Why the history or report could not be read. */
  historyError: ApiError | null = null;
  historyLoading = false;
  /** Milliseconds between two reads of the history (and report) while polling. */
  historyInterval = 60_000;

  /** True when the server has no cost routes, or cost is off (a 404): the status bar item hides. */
  get unavailable(): boolean {
    return isCostUnavailable(this.error);
  }

  get rows(): ICostRow[] {
    if (this._rows === null) {
      this._rows = costRows(this.status);
    }
    return this._rows;
  }

  get waste(): IWasteItem[] {
    return wasteItems(this.status);
  }

  get budgetBars(): IBudgetBar[] {
    return this.budgets.map(b => budgetBar(b));
  }

  /** How far back the chart and the report table go. */
  get range(): CostRange {
    return this._range;
  }

  set range(range: CostRange) {
    if (range !== this._range) {
      this._range = range;
      this._historyChanged();
    }
  }

  /** What the chart stacks by and the report table groups by. */
  get grouping(): ICostGrouping {
    return this._grouping;
  }

  set grouping(grouping: ICostGrouping) {
    const next = { by: grouping.by, tagKey: grouping.tagKey.trim() };
    if (
      next.by !== this._grouping.by ||
      (next.by === 'tag' && next.tagKey !== this._grouping.tagKey)
    ) {
      this._grouping = next;
      this._historyChanged();
    }
  }

  /** `grouping.by`. */
  get groupBy(): CostGroupBy {
    return this._grouping.by;
  }

  set groupBy(by: CostGroupBy) {
    this.grouping = { ...this._grouping, by };
  }

  /**
   * Read the history and the report of `range` and `grouping` from the ledger.
   * Never rejects: a failure is kept in `historyError`. Without the history
   * route (an older server) the chart shows what the page sampled.
   */
  async loadHistory(): Promise<void> {
    const generation = ++this._historyGeneration;
    this._historyAt = Date.now();
    const by = groupingParam(this._grouping);
    const client = this._client;
    if (by === null || !client.history) {
      this.timeline.setHistory(null);
      this.report = null;
      this.emit();
      return;
    }
    this.historyLoading = true;
    this.emit();
    try {
      const range = this._range;
      const [history, report] = await Promise.all([
        client.history({ range, by }),
        client.report({ by, since: range })
      ]);
      if (generation !== this._historyGeneration || this.isDisposed) {
        return;
      }
      this.timeline.setHistory(history);
      this.report = report;
      this.historyError = null;
    } catch (reason) {
      if (generation === this._historyGeneration) {
        this.historyError = costError(reason);
      }
    } finally {
      if (generation === this._historyGeneration && !this.isDisposed) {
        this.historyLoading = false;
        this.emit();
      }
    }
  }

  private _historyChanged(): void {
    // The old answer is of another range or grouping: never draw it as this one.
    this.timeline.setHistory(null);
    this.report = null;
    this.historyError = null;
    void this.loadHistory();
  }

  private _historyDue(): boolean {
    return (
      this._historyAt === null ||
      Date.now() - this._historyAt >= this.historyInterval
    );
  }

  /** The row of one kernel (the status bar's), or null. */
  kernel(kernelId: string | null | undefined): ICostRow | null {
    return kernelRow(this.status, kernelId);
  }

  /**
   * Read the status (and the budgets when the status has none, at most every
   * `budgetInterval` ms). Rejects on failure so that a `Poll` backs off; the
   * error is kept in `error` for the views.
   */
  async load(): Promise<void> {
    const generation = ++this._generation;
    this.loading = true;
    this.emit();
    try {
      const status = await this._client.status();
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this.status = status;
      this._rows = null;
      this.error = null;
      this.timeline.add(status);
      if (this._historyDue()) {
        void this.loadHistory();
      }
      if (status.budgets) {
        this.budgets = status.budgets;
      } else if (this._budgetsDue()) {
        this._budgetsAt = Date.now();
        try {
          this.budgets = await this._client.budgets();
        } catch {
          // Budgets are optional: keep the last ones.
        }
      }
    } catch (reason) {
      if (generation === this._generation) {
        this.error = costError(reason);
      }
      throw this.error ?? costError(reason);
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this.emit();
      }
    }
  }

  /** Read the cost now, budgets included (the refresh button); starts the poll. */
  async reload(): Promise<void> {
    this.poll.start();
    this.invalidateBudgets();
    this._historyAt = null;
    try {
      await this.load();
    } catch {
      // Shown in the Cost view (error).
    }
  }

  /** The Cost view was shown: read everything now, budgets included. */
  shown(): void {
    this.poll.start();
    this.invalidateBudgets();
    this._historyAt = null;
    void this.poll.refresh();
  }

  protected onDispose(): void {
    this.poll.dispose();
  }

  /** Minimum milliseconds between two `cost/budgets` reads. */
  budgetInterval = 60_000;

  /** Read the budgets again on the next `load` (the Cost view was shown, or refreshed). */
  invalidateBudgets(): void {
    this._budgetsAt = null;
  }

  private _budgetsDue(): boolean {
    return (
      this._budgetsAt === null ||
      Date.now() - this._budgetsAt >= this.budgetInterval
    );
  }

  private _client: ICostClient;
  private _rows: ICostRow[] | null = null;
  private _range: CostRange = '1h';
  private _grouping: ICostGrouping = { by: 'notebook', tagKey: '' };
  private _historyAt: number | null = null;
  private _historyGeneration = 0;
  private _budgetsAt: number | null = null;
  private _generation = 0;
}
