/**
 * The Cost view (every running kernel's live cost, cost over time stacked by
 * notebook or project, budget bars, the Waste list) and the status bar item
 * (the current notebook kernel's `$0.42 · $2.10/h`).
 *
 * Notebook paths, users and projects are rendered as text; chart.js draws
 * group labels on the canvas, never as HTML.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import {
  Chart,
  type ChartDataset,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip
} from 'chart.js';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import type { ICostClient } from '../api/cost';
import {
  adviceSentence,
  clockTime,
  type CostGroupBy,
  type CostModel,
  costTotals,
  formatBytes,
  formatMoney,
  formatPercent,
  formatRate,
  type IStackedSeries,
  type IWasteItem,
  statusText
} from './logic';
import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  legendLabels
} from '../common/chart';
import { seriesColor } from '../common/colors';
import { ErrorBox, Section } from '../common/components';
import { useSignal } from '../common/hooks';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  Tooltip,
  Legend,
  Filler
);

/** What the Waste list's buttons do to a kernel (JupyterLab's kernel manager). */
export interface IKernelActions {
  interrupt(kernelId: string): Promise<void>;
  shutdown(kernelId: string): Promise<void>;
}

function baseName(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] || path;
}

// -- chart --------------------------------------------------------------------

type Point = { x: number; y: number };
type AreaChart = Chart<'line', Point[]>;

function stackedDatasets(
  series: IStackedSeries
): ChartDataset<'line', Point[]>[] {
  return series.groups.map((group, index) => ({
    label: baseName(group.label),
    data: group.values.map((y, i) => ({ x: series.times[i], y })),
    borderColor: seriesColor(index),
    backgroundColor: `${seriesColor(index)}99`,
    borderWidth: 1,
    pointRadius: 0,
    fill: index === 0 ? 'origin' : '-1',
    tension: 0
  }));
}

/** Cost so far over time, stacked by notebook or project. */
export function CostChart(props: {
  series: IStackedSeries;
  currency: string;
  groupBy: CostGroupBy;
}): JSX.Element {
  const { series, currency, groupBy } = props;
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const chartRef = useRef<AreaChart | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) {
      return;
    }
    const { grid } = axisColors();
    const tick = axisTicks(5);
    const chart: AreaChart = new Chart(canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        ...BASE_OPTIONS,
        plugins: {
          legend: {
            display: true,
            position: 'bottom',
            labels: legendLabels()
          },
          tooltip: { enabled: true }
        },
        scales: {
          x: {
            type: 'linear',
            ticks: tick,
            grid: { color: grid }
          },
          y: {
            type: 'linear',
            stacked: true,
            beginAtZero: true,
            ticks: tick,
            grid: { color: grid }
          }
        }
      }
    });
    chartRef.current = chart;
    return () => {
      chart.destroy();
      chartRef.current = null;
    };
  }, []);

  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = stackedDatasets(series);
    const { x, y } = chart.options.scales ?? {};
    // Seconds on the time axis while the series spans less than ten minutes.
    const span = series.times.length
      ? series.times[series.times.length - 1] - series.times[0]
      : 0;
    if (x?.ticks) {
      x.ticks.callback = value =>
        clockTime(Number(value) / 1000, span < 600_000);
    }
    if (y?.ticks) {
      y.ticks.callback = value => formatMoney(Number(value), currency);
    }
    chart.update('none');
  }, [series, currency]);

  const total = series.groups.reduce(
    (sum, g) => sum + (g.values[g.values.length - 1] ?? 0),
    0
  );
  return (
    <div
      className="jp-mlops-chart jp-mlops-cost-chart"
      data-testid="mlops-cost-chart"
      data-group-by={groupBy}
      data-points={series.times.length}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Cost over time by ${groupBy}: ${formatMoney(total, currency)} in all`}
        />
      </div>
    </div>
  );
}

// -- the view -----------------------------------------------------------------

function GroupBySwitch(props: {
  value: CostGroupBy;
  onChange: (by: CostGroupBy) => void;
}): JSX.Element {
  const options: { id: CostGroupBy; label: string }[] = [
    { id: 'notebook', label: 'Notebook' },
    { id: 'project', label: 'Project' }
  ];
  return (
    <div
      className="jp-mlops-cost-groupby"
      role="radiogroup"
      aria-label="Stack the chart by"
      data-testid="mlops-cost-groupby"
    >
      {options.map(option => (
        <button
          key={option.id}
          role="radio"
          aria-checked={props.value === option.id}
          className={`jp-mlops-view-tab${props.value === option.id ? ' jp-mod-active' : ''}`}
          data-group-by={option.id}
          onClick={() => props.onChange(option.id)}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}

function WasteItem(props: {
  item: IWasteItem;
  actions?: IKernelActions;
}): JSX.Element {
  const { item, actions } = props;
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState('');
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setFailure('');
    try {
      await action();
    } catch (reason) {
      setFailure(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };
  const interrupt = (): void => {
    if (actions) {
      void run(() => actions.interrupt(item.kernelId));
    }
  };
  const shutdown = async (): Promise<void> => {
    if (!actions) {
      return;
    }
    const result = await showDialog({
      title: 'Shut down the kernel?',
      body: `The kernel of ${item.notebook || item.kernelId} will stop; its variables are lost.`,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Shut Down' })
      ]
    });
    if (result.button.accept) {
      await run(() => actions.shutdown(item.kernelId));
    }
  };
  return (
    <li
      className="jp-mlops-waste-item"
      data-testid="mlops-waste-item"
      data-kernel-id={item.kernelId}
    >
      <div className="jp-mlops-waste-message">{item.message}</div>
      <div className="jp-mlops-waste-notebook" title={item.notebook}>
        {item.notebook ? baseName(item.notebook) : item.kernelId}
      </div>
      {actions ? (
        <div className="jp-mlops-waste-actions">
          {item.canInterrupt ? (
            <button
              className="jp-mlops-button"
              data-testid="mlops-waste-interrupt"
              disabled={busy}
              onClick={interrupt}
            >
              Interrupt
            </button>
          ) : null}
          {item.canShutdown ? (
            <button
              className="jp-mlops-button jp-mod-warn"
              data-testid="mlops-waste-shutdown"
              disabled={busy}
              onClick={() => void shutdown()}
            >
              Shut down
            </button>
          ) : null}
        </div>
      ) : null}
      {failure ? (
        <div className="jp-mlops-error" role="alert">
          {failure}
        </div>
      ) : null}
    </li>
  );
}

/** One kernel's advice as the view shows it: the sentence, or why there is none. */
interface IAdviceState {
  text: string;
  error?: boolean;
}

/** Fetch one kernel's advice and phrase it (`adviceSentence`); errors become text. */
export async function loadAdvice(
  client: ICostClient,
  kernelId: string
): Promise<IAdviceState> {
  if (!client.advice) {
    return { text: 'This server gives no advice.', error: true };
  }
  try {
    return { text: adviceSentence(await client.advice(kernelId)) };
  } catch (reason) {
    const message =
      reason instanceof Error ? reason.message : String(reason ?? '');
    return { text: `No advice: ${message || 'request failed'}`, error: true };
  }
}

export interface ICostViewProps {
  model: CostModel;
  actions?: IKernelActions;
  /** The current notebook's kernel, highlighted in the table. */
  currentKernel?: string | null;
  openNotebook?: (path: string) => void;
}

export function CostView(props: ICostViewProps): JSX.Element {
  const { model, actions, currentKernel, openNotebook } = props;
  useSignal(model.changed);
  const status = model.status;
  const rows = model.rows;
  const currency = status?.currency ?? 'USD';
  const groupBy = model.groupBy;
  // A new series object whenever the model changes (a poll) or the grouping does.
  const points = model.series.length;
  const time = status?.time ?? null;
  const series = useMemo(
    () => model.series.stacked(groupBy),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [model, groupBy, points, time]
  );
  const totals = costTotals(rows);
  const waste = model.waste;
  const budgets = model.budgetBars;
  const canAdvise = typeof model.client.advice === 'function';
  // Kernel id -> its advice (null while loading); a kernel absent is collapsed.
  const [advice, setAdvice] = useState<Record<string, IAdviceState | null>>({});
  const toggleAdvice = (kernelId: string): void => {
    if (kernelId in advice) {
      setAdvice(prev => {
        const next = { ...prev };
        delete next[kernelId];
        return next;
      });
      return;
    }
    setAdvice(prev => ({ ...prev, [kernelId]: null }));
    void loadAdvice(model.client, kernelId).then(state =>
      setAdvice(prev =>
        kernelId in prev ? { ...prev, [kernelId]: state } : prev
      )
    );
  };

  if (model.error && (!status || model.unavailable)) {
    return (
      <div className="jp-mlops-cost-view" data-testid="mlops-cost-view">
        <ErrorBox error={model.error} testId="mlops-cost-error" />
      </div>
    );
  }
  return (
    <div className="jp-mlops-cost-view" data-testid="mlops-cost-view">
      {model.error ? (
        <ErrorBox error={model.error} testId="mlops-cost-error" />
      ) : null}
      <div className="jp-mlops-cost-summary" data-testid="mlops-cost-total">
        <span>
          {rows.length} {rows.length === 1 ? 'kernel' : 'kernels'}
        </span>
        <span className="jp-mlops-cost-money">
          {formatMoney(totals.soFar, currency)}
        </span>
        <span className="jp-mlops-cost-money">
          {formatRate(totals.rate, currency)}
        </span>
      </div>

      {waste.length ? (
        <Section title="Waste" count={waste.length}>
          <ul className="jp-mlops-waste-list" data-testid="mlops-waste">
            {waste.map(item => (
              <WasteItem key={item.key} item={item} actions={actions} />
            ))}
          </ul>
        </Section>
      ) : null}

      <Section title="Kernels" count={rows.length}>
        {status === null ? (
          <div className="jp-mlops-empty">Reading the cost of the kernels…</div>
        ) : rows.length === 0 ? (
          <div className="jp-mlops-empty" data-testid="mlops-cost-empty">
            No running kernels.
          </div>
        ) : (
          <div className="jp-mlops-table-wrapper">
            <table className="jp-mlops-table jp-mlops-cost-table">
              <thead>
                <tr>
                  <th>Notebook</th>
                  <th>$ so far</th>
                  <th>$/h</th>
                  <th title="Percent of one core">CPU</th>
                  <th>RAM</th>
                  <th title="GPU utilisation">GPU</th>
                  <th title="GPU memory">GPU mem</th>
                  <th>User</th>
                  {canAdvise ? <th title="Right-sizing advice" /> : null}
                </tr>
              </thead>
              <tbody>
                {rows.map(row => (
                  <React.Fragment key={row.targetId}>
                    <tr
                      data-testid="mlops-cost-row"
                      data-kernel-id={row.kernelId}
                      className={[
                        row.kernelId === currentKernel ? 'jp-mod-current' : '',
                        row.wasting ? 'jp-mod-waste' : ''
                      ]
                        .filter(Boolean)
                        .join(' ')}
                    >
                      <td
                        className="jp-mlops-cost-notebook"
                        title={`${row.notebook || '(no notebook)'}\nKernel ${row.kernelId}${row.project ? `\nProject ${row.project}` : ''}`}
                      >
                        {row.notebook && openNotebook ? (
                          <button
                            className="jp-mlops-link"
                            onClick={() => openNotebook(row.notebook)}
                          >
                            {baseName(row.notebook)}
                          </button>
                        ) : (
                          baseName(row.notebook) || row.kernelId.slice(0, 8)
                        )}
                      </td>
                      <td
                        data-testid="mlops-cost-so-far"
                        data-value={row.soFar ?? ''}
                      >
                        {formatMoney(row.soFar, row.currency)}
                      </td>
                      <td
                        data-testid="mlops-cost-rate"
                        data-value={row.rate ?? ''}
                      >
                        {formatRate(row.rate, row.currency)}
                      </td>
                      <td data-testid="mlops-cost-cpu">
                        {formatPercent(row.cpuPercent)}
                      </td>
                      <td>{formatBytes(row.rssBytes)}</td>
                      <td>{row.gpuCount ? formatPercent(row.gpuUtil) : '—'}</td>
                      <td>
                        {row.gpuCount ? formatBytes(row.gpuMemBytes) : '—'}
                      </td>
                      <td>{row.user}</td>
                      {canAdvise ? (
                        <td>
                          <button
                            className="jp-mlops-link"
                            data-testid="mlops-cost-advice"
                            aria-expanded={row.kernelId in advice}
                            title="Peak use against this machine, and the cheapest catalogued fit"
                            onClick={() => toggleAdvice(row.kernelId)}
                          >
                            Advice
                          </button>
                        </td>
                      ) : null}
                    </tr>
                    {canAdvise && row.kernelId in advice ? (
                      <tr
                        className="jp-mlops-cost-advice-row"
                        data-testid="mlops-cost-advice-row"
                        data-kernel-id={row.kernelId}
                      >
                        <td
                          colSpan={9}
                          data-testid="mlops-cost-advice-text"
                          className={
                            advice[row.kernelId]?.error ? 'jp-mlops-error' : ''
                          }
                        >
                          {advice[row.kernelId]?.text ?? 'Reading the advice…'}
                        </td>
                      </tr>
                    ) : null}
                  </React.Fragment>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <Section title="Cost over time">
        <GroupBySwitch
          value={groupBy}
          onChange={by => {
            model.groupBy = by;
          }}
        />
        <CostChart series={series} currency={currency} groupBy={groupBy} />
      </Section>

      {budgets.length ? (
        <Section title="Budgets" count={budgets.length}>
          <ul className="jp-mlops-budgets">
            {budgets.map(bar => (
              <li
                key={`${bar.project}:${bar.period}`}
                className={`jp-mlops-budget jp-mod-${bar.level}`}
                data-testid="mlops-budget"
                data-project={bar.project}
                data-level={bar.level}
              >
                <div className="jp-mlops-budget-label">
                  <span className="jp-mlops-budget-project">{bar.project}</span>
                  <span>{bar.label}</span>
                </div>
                <div
                  className="jp-mlops-budget-track"
                  role="progressbar"
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={Math.round(bar.width)}
                  aria-label={`Budget of ${bar.project}`}
                >
                  <div
                    className="jp-mlops-budget-fill"
                    style={{ width: `${bar.width}%` }}
                  />
                </div>
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
    </div>
  );
}

/** The Cost view as a widget of the panel. */
export class CostWidget extends ReactWidget {
  constructor(
    readonly model: CostModel,
    private readonly _options: {
      actions?: IKernelActions;
      openNotebook?: (path: string) => void;
    } = {}
  ) {
    super();
    this.addClass('jp-mlops-cost-widget');
  }

  /** The current notebook's kernel id (highlighted). */
  get currentKernel(): string | null {
    return this._currentKernel;
  }

  set currentKernel(id: string | null) {
    if (id !== this._currentKernel) {
      this._currentKernel = id;
      this.update();
    }
  }

  render(): JSX.Element {
    return (
      <CostView
        model={this.model}
        actions={this._options.actions}
        currentKernel={this._currentKernel}
        openNotebook={this._options.openNotebook}
      />
    );
  }

  private _currentKernel: string | null = null;
}

// -- status bar ---------------------------------------------------------------

/** The status bar text of the current kernel: `$0.42 · $2.10/h`. */
export function CostStatusItem(props: {
  model: CostModel;
  kernelId: string | null;
  onClick: () => void;
}): JSX.Element | null {
  const { model, kernelId, onClick } = props;
  useSignal(model.changed);
  const row = model.kernel(kernelId);
  if (!row || model.unavailable) {
    return null;
  }
  return (
    <button
      className="jp-mlops-cost-status"
      data-testid="mlops-cost-status"
      data-kernel-id={row.kernelId}
      data-value={row.soFar ?? ''}
      title={`Compute cost of this notebook's kernel: ${formatMoney(row.soFar, row.currency)} so far, ${formatRate(row.rate, row.currency)} now. Click for the Cost view.`}
      onClick={onClick}
    >
      {statusText(row)}
    </button>
  );
}

/** The status bar widget: follows the current kernel given by the plugin. */
export class CostStatusWidget extends ReactWidget {
  constructor(
    readonly model: CostModel,
    private readonly _onClick: () => void
  ) {
    super();
    this.addClass('jp-mlops-cost-status-widget');
  }

  get kernelId(): string | null {
    return this._kernelId;
  }

  set kernelId(id: string | null) {
    if (id !== this._kernelId) {
      this._kernelId = id;
      this.update();
    }
  }

  /** Whether the item has something to show (the status bar hides it otherwise). */
  get hasValue(): boolean {
    return (
      !this.model.unavailable && this.model.kernel(this._kernelId) !== null
    );
  }

  render(): JSX.Element {
    return (
      <CostStatusItem
        model={this.model}
        kernelId={this._kernelId}
        onClick={this._onClick}
      />
    );
  }

  private _kernelId: string | null = null;
}
