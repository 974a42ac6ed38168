/**
 * The live cost state shared by the status bar item and the Cost view, kept
 * current by its own `Poll` (`refresher`) while either shows it.
 *
 * No DOM: the widgets render `CostModel`; tests drive it with a fake
 * `ICostClient`.
 */
import type { ApiError } from '../api/client';
import {
  costError,
  type IBudgetStatus,
  type ICostClient,
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
import { type CostGroupBy, CostSeries } from './series';

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
  readonly series = new CostSeries();

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

  /** What the chart stacks by. */
  get groupBy(): CostGroupBy {
    return this._groupBy;
  }

  set groupBy(by: CostGroupBy) {
    if (by !== this._groupBy) {
      this._groupBy = by;
      this.emit();
    }
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
      this.series.add(status);
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
  private _groupBy: CostGroupBy = 'notebook';
  private _budgetsAt: number | null = null;
  private _generation = 0;
}
