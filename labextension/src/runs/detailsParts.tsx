/**
 * The metric parts of a run's details and of a comparison: the user's curves
 * first, single values as a table of numbers, and jupyter-mlops' own
 * `system/...` and cost metrics in a section that starts collapsed.
 *
 * Which metric goes where is decided in `metricsView.ts`; text from runs is
 * rendered as text.
 */
import React, { useId, useMemo, useState } from 'react';

import type { IMetricPoint } from '../api/types';
import { seriesColor } from '../common/colors';
import { formatNumber } from '../common/format';
import { ColumnButton, type IColumnAction } from '../common/components';
import { MetricChart } from './MetricChart';
import {
  defaultXAxis,
  type IRunMetrics,
  type IRunSeries,
  type ISingleValue,
  layoutMetrics,
  singleValues
} from './metricsView';
import type { IRunDetail } from './model';

/**
 * A section whose body shows only when expanded (its title is a button:
 * click, Enter or Space). Collapsed, its content is not rendered at all.
 */
export function CollapsibleSection(props: {
  title: string;
  count?: number | string;
  testId: string;
  children: React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = useState(false);
  const bodyId = useId();
  return (
    <section
      className="jp-mlops-section jp-mlops-collapsible"
      data-testid={props.testId}
      data-open={open ? 'true' : 'false'}
    >
      <h3 className="jp-mlops-section-title">
        <button
          type="button"
          className="jp-mlops-collapse-toggle"
          aria-expanded={open}
          aria-controls={bodyId}
          data-testid={`${props.testId}-toggle`}
          onClick={() => setOpen(!open)}
        >
          <span className="jp-mlops-collapse-caret" aria-hidden="true">
            {open ? '\u25BE' : '\u25B8'}
          </span>
          {props.title}
          {props.count !== undefined ? (
            <span className="jp-mlops-count">{props.count}</span>
          ) : null}
        </button>
      </h3>
      <div id={bodyId} hidden={!open}>
        {open ? props.children : null}
      </div>
    </section>
  );
}

/** Metrics with one value: name, value (`formatNumber`; exact value on hover), step. */
export function SingleValuesTable(props: {
  rows: readonly ISingleValue[];
  testId: string;
  columns?: IColumnAction;
}): JSX.Element | null {
  if (!props.rows.length) {
    return null;
  }
  return (
    <table
      className="jp-mlops-kv jp-mlops-single-values"
      data-testid={props.testId}
    >
      <thead>
        <tr>
          <th scope="col">Metric</th>
          <th scope="col">Value</th>
          <th scope="col">Step</th>
          {props.columns ? <td /> : null}
        </tr>
      </thead>
      <tbody>
        {props.rows.map(row => (
          <tr key={row.key} data-key={row.key}>
            <th scope="row" title={row.key}>
              {row.key}
            </th>
            <td
              className="jp-mlops-number jp-mlops-kv-value"
              title={row.value === null ? 'not finite' : String(row.value)}
            >
              {formatNumber(row.value)}
            </td>
            <td className="jp-mlops-number">
              {row.step === null ? '\u2026' : formatNumber(row.step)}
            </td>
            {props.columns ? (
              <ColumnButton action={props.columns} id={`metrics.${row.key}`} />
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The series of one metric for a chart: one per run, in the given order. */
export function useSeries(
  key: string,
  runs: readonly (IRunMetrics & { label: string; start: number | null })[]
): IRunSeries[] {
  const histories = runs.map(run => run.histories.get(key));
  return useMemo(
    () =>
      runs.map((run, index) => ({
        label: run.label,
        start: run.start,
        points: histories[index] ?? []
      })),
    // Recompute when any run's history array is replaced, or a label changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key, ...histories, ...runs.map(run => run.label)]
  );
}

/** One run's metrics: curves, single values, then the collapsed system and cost section. */
export function RunMetrics({
  detail,
  columns
}: {
  detail: IRunDetail;
  columns?: IColumnAction;
}): JSX.Element {
  const { run, histories } = detail;
  const metrics = { metrics: run.metrics, histories };
  const layout = layoutMetrics([metrics]);
  const ours = layout.systemCurves.length + layout.systemSingles.length;
  const chart = (key: string) => (
    <SingleRunChart key={key} metric={key} detail={detail} />
  );
  return (
    <>
      <section className="jp-mlops-section" data-testid="mlops-user-metrics">
        <h3 className="jp-mlops-section-title">
          Metrics
          <span className="jp-mlops-count">
            {layout.curves.length + layout.singles.length}
          </span>
        </h3>
        {layout.curves.length ? (
          <div className="jp-mlops-charts" data-testid="mlops-curves">
            {layout.curves.map(chart)}
          </div>
        ) : null}
        <SingleValuesTable
          rows={singleValues(metrics, layout.singles)}
          testId="mlops-single-values"
          columns={columns}
        />
        {layout.curves.length + layout.singles.length === 0 ? (
          <div className="jp-mlops-muted">none</div>
        ) : null}
      </section>
      {ours ? (
        <CollapsibleSection
          title="System and cost"
          count={ours}
          testId="mlops-system-section"
        >
          <SingleValuesTable
            rows={singleValues(metrics, layout.systemSingles)}
            testId="mlops-system-values"
          />
          <div className="jp-mlops-charts">
            {layout.systemCurves.map(chart)}
          </div>
        </CollapsibleSection>
      ) : null}
    </>
  );
}

function SingleRunChart(props: {
  metric: string;
  detail: IRunDetail;
}): JSX.Element {
  const { metric, detail } = props;
  const { run } = detail;
  const series = useSeries(metric, [
    {
      metrics: run.metrics,
      histories: detail.histories,
      label: run.run_name || run.run_id,
      start: run.start_time
    }
  ]);
  const points: readonly IMetricPoint[] | undefined =
    detail.histories.get(metric);
  const error = detail.historyErrors.get(metric);
  const note = error
    ? error
    : points === undefined
      ? 'loading\u2026'
      : `latest ${formatNumber(run.metrics[metric])}`;
  return (
    <MetricChart
      metric={metric}
      series={series}
      colors={SINGLE_COLOR}
      xAxis={defaultXAxis(metric, [points])}
      note={note}
    />
  );
}

const SINGLE_COLOR = [seriesColor(0)];
