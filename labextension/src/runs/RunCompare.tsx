/**
 * Side-by-side comparison of several runs: params and the user's latest
 * metrics (differing rows highlighted; jupyter-mlops' cost and system values
 * shown, never flagged), what changed between the runs' environments, cost
 * against a chosen metric, the user's curves overlaid, and the system series
 * (on time since each run started) in a collapsed section.
 */
import React, { useMemo, useState } from 'react';

import { formatNumber } from '../common/format';
import { diffMetrics, diffParams, type IDiffRow } from './logic';
import { CollapsibleSection, useSeries } from './detailsParts';
import {
  defaultXAxis,
  flagUserDifferences,
  isOurMetric,
  layoutMetrics
} from './metricsView';
import type { EnvCompareModel } from '../env/model';
import type { IRunDetail } from './model';
import { Section } from '../common/components';
import { seriesColor } from '../common/colors';
import { EnvDiffSection } from '../env/EnvDiff';
import { CompareExport } from './CompareExport';
import { CostScatterSection } from './CostScatter';
import { MetricChart } from './MetricChart';
import { SweepSection } from './SweepView';

export interface IRunCompareProps {
  details: IRunDetail[];
  onClear: () => void;
  /** Environment diffs; the Environment section is left out without it. */
  env?: EnvCompareModel;
}

export function RunCompare(props: IRunCompareProps): JSX.Element {
  const { details } = props;
  const [onlyDifferent, setOnlyDifferent] = useState(false);
  const runs = details.map(d => d.run);
  const count = details.length;
  const colors = useMemo(
    () => Array.from({ length: count }, (_, index) => seriesColor(index)),
    [count]
  );
  const params = diffParams(runs, onlyDifferent);
  const differing = diffParams(runs, true).length;
  const metrics = flagUserDifferences(diffMetrics(runs));
  const layout = layoutMetrics(
    details.map(d => ({ metrics: d.run.metrics, histories: d.histories }))
  );
  const systemCount = layout.systemCurves.length;

  return (
    <div className="jp-mlops-compare" data-testid="mlops-compare">
      <div className="jp-mlops-details-title">
        <span className="jp-mlops-details-name">
          Comparing {details.length} runs
        </span>
        <CompareExport runs={runs} />
        <button
          className="jp-mlops-button"
          data-testid="mlops-clear-selection"
          onClick={props.onClear}
        >
          Clear
        </button>
      </div>
      <ul className="jp-mlops-compare-runs">
        {runs.map((run, index) => (
          <li key={run.run_id} data-run-id={run.run_id}>
            <span
              className="jp-mlops-swatch"
              style={{ backgroundColor: colors[index] }}
            />
            <span title={run.run_id}>{run.run_name || run.run_id}</span>
          </li>
        ))}
      </ul>
      <Section title="Params" count={`${differing} differ`}>
        <label className="jp-mlops-toggle">
          <input
            type="checkbox"
            data-testid="mlops-only-differences"
            checked={onlyDifferent}
            onChange={e => setOnlyDifferent(e.target.checked)}
          />
          Only differing params
        </label>
        <DiffTable
          rows={params}
          runs={runs.map(run => run.run_name || run.run_id)}
          colors={colors}
          testId="mlops-compare-params"
          rowTestId="mlops-compare-param-row"
          format={value => value}
        />
      </Section>
      <Section
        title="Latest metrics"
        count={`${metrics.filter(row => row.differs).length} differ`}
      >
        <DiffTable
          rows={metrics}
          runs={runs.map(run => run.run_name || run.run_id)}
          colors={colors}
          testId="mlops-compare-metrics"
          rowTestId="mlops-compare-metric-row"
          format={formatNumber}
          ours={isOurMetric}
        />
      </Section>
      {props.env ? (
        <EnvDiffSection model={props.env} runs={runs} colors={colors} />
      ) : null}
      <CostScatterSection runs={runs} colors={colors} />
      <SweepSection runs={runs} />
      <Section title="Metric curves" count={layout.curves.length}>
        <OverlayCharts
          keys={layout.curves}
          details={details}
          colors={colors}
          testId="mlops-compare-curves"
        />
      </Section>
      {systemCount ? (
        <CollapsibleSection
          title="System and cost curves"
          count={systemCount}
          testId="mlops-compare-system-section"
        >
          <OverlayCharts
            keys={layout.systemCurves}
            details={details}
            colors={colors}
            testId="mlops-compare-system-curves"
          />
        </CollapsibleSection>
      ) : null}
    </div>
  );
}

/** A chart per metric of `keys`, each overlaying the runs' curves. */
function OverlayCharts(props: {
  keys: readonly string[];
  details: IRunDetail[];
  colors: string[];
  testId: string;
}): JSX.Element {
  return (
    <div className="jp-mlops-charts" data-testid={props.testId}>
      {props.keys.map(key => (
        <OverlayChart
          key={key}
          metric={key}
          details={props.details}
          colors={props.colors}
        />
      ))}
    </div>
  );
}

function OverlayChart(props: {
  metric: string;
  details: IRunDetail[];
  colors: string[];
}): JSX.Element {
  const { metric, details } = props;
  const series = useSeries(
    metric,
    details.map(d => ({
      metrics: d.run.metrics,
      histories: d.histories,
      label: d.run.run_name || d.run.run_id,
      start: d.run.start_time
    }))
  );
  const histories = details.map(d => d.histories.get(metric));
  const loading = histories.some(
    (h, index) => h === undefined && metric in details[index].run.metrics
  );
  return (
    <MetricChart
      metric={metric}
      series={series}
      colors={props.colors}
      xAxis={defaultXAxis(metric, histories)}
      legend
      note={loading ? 'loading\u2026' : undefined}
      testId="mlops-compare-chart"
    />
  );
}

function DiffTable<T>(props: {
  rows: IDiffRow<T>[];
  runs: string[];
  colors: string[];
  testId: string;
  rowTestId: string;
  format: (value: T) => string;
  /** Rows logged by jupyter-mlops (never flagged; marked and explained). */
  ours?: (key: string) => boolean;
}): JSX.Element {
  if (!props.rows.length) {
    return <div className="jp-mlops-muted">none</div>;
  }
  return (
    <div className="jp-mlops-table-wrapper jp-mlops-diff-wrapper">
      <table className="jp-mlops-diff" data-testid={props.testId}>
        <thead>
          <tr>
            <th />
            {props.runs.map((name, index) => (
              <th key={index} title={name}>
                <span
                  className="jp-mlops-swatch"
                  style={{ backgroundColor: props.colors[index] }}
                />
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map(row => (
            <tr
              key={row.key}
              className={
                row.differs
                  ? 'jp-mlops-differs'
                  : props.ours?.(row.key)
                    ? 'jp-mlops-ours'
                    : undefined
              }
              data-testid={props.rowTestId}
              data-key={row.key}
              data-differs={row.differs ? 'true' : 'false'}
            >
              <th
                scope="row"
                title={
                  props.ours?.(row.key)
                    ? `${row.key}: logged by jupyter-mlops, not flagged as a difference`
                    : row.key
                }
              >
                {row.key}
              </th>
              {row.values.map((value, index) =>
                value === undefined ? (
                  <td key={index} className="jp-mlops-muted" title="not set">
                    {'\u2014'}
                  </td>
                ) : (
                  <td key={index} title={props.format(value)}>
                    {props.format(value)}
                  </td>
                )
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
