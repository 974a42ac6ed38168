/**
 * The Cost view: every running kernel's live cost (with right-sizing advice
 * on demand), cost over time from the ledger (1 h to 30 d, stacked by
 * notebook, project, user or run tag) with the totals of that range, budget
 * bars, the Waste list.
 *
 * Notebook paths, users and projects are rendered as text; notebooks by the
 * shortest path suffix that tells them apart, the full path in the tooltip.
 */
import React, { useMemo, useState } from 'react';

import type { ICostClient } from '../api/cost';
import { ErrorBox, Section } from '../common/components';
import {
  formatBytes,
  formatMoney,
  formatPercent,
  formatRate,
  uniqueSuffixes
} from '../common/format';
import { useSignal } from '../common/hooks';
import { CostChart, HistoryControls } from './CostChart';
import {
  adviceSentence,
  carbonLabel,
  co2eTotal,
  costTotals,
  formatGrams
} from './logic';
import type { CostModel } from './model';
import { ReportTable } from './ReportTable';
import { type IKernelActions, WasteList } from './WasteList';

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

/** The history's currency, or the live one when it has none or several. */
function historyCurrency(model: CostModel, live: string): string {
  const currency = model.timeline.history?.currency;
  return currency && currency !== 'mixed' ? currency : live;
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
  const { grouping, range, timeline } = model;
  // A new series object whenever the timeline (a poll, a history) or the grouping changes.
  const version = timeline.version;
  const series = useMemo(
    () => timeline.stacked(grouping),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [timeline, grouping, version]
  );
  const notebooks = useMemo(
    () => uniqueSuffixes(rows.map(row => row.notebook).filter(Boolean)),
    [rows]
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
        {co2eTotal(rows) !== null ? (
          <span
            className="jp-mlops-cost-co2e"
            data-testid="mlops-cost-co2e"
            title={carbonLabel(status?.carbon)}
          >
            {formatGrams(co2eTotal(rows))}
          </span>
        ) : null}
      </div>

      {waste.length ? (
        <Section title="Waste" count={waste.length}>
          <WasteList items={waste} actions={actions} />
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
                            {notebooks.get(row.notebook)}
                          </button>
                        ) : (
                          notebooks.get(row.notebook) ||
                          row.kernelId.slice(0, 8)
                        )}
                      </td>
                      <td
                        data-testid="mlops-cost-so-far"
                        data-value={row.soFar ?? ''}
                        title={
                          row.co2eG === null
                            ? undefined
                            : `${formatGrams(row.co2eG)} so far`
                        }
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
        <HistoryControls
          range={range}
          grouping={grouping}
          onRange={next => {
            model.range = next;
          }}
          onGrouping={next => {
            model.grouping = next;
          }}
        />
        {model.historyError ? (
          <ErrorBox
            error={model.historyError}
            testId="mlops-cost-history-error"
          />
        ) : null}
        {grouping.by === 'tag' && !grouping.tagKey ? (
          <div className="jp-mlops-empty" data-testid="mlops-cost-tag-needed">
            Name a run tag (e.g. epic) to group by.
          </div>
        ) : (
          <>
            <CostChart
              series={series}
              currency={historyCurrency(model, currency)}
              grouping={grouping}
              range={range}
            />
            <ReportTable report={model.report} grouping={grouping} />
          </>
        )}
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
