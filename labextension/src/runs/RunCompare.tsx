/**
 * Side-by-side comparison of several runs: params (differing rows
 * highlighted), latest metrics, what changed between the runs' environments,
 * cost against a chosen metric, and each metric's curves overlaid.
 */
import React, { useMemo, useState } from 'react';

import { formatMetric } from '../common/format';
import {
  diffMetrics,
  diffParams,
  type IDiffRow,
  mergeHistories,
  metricKeys
} from './logic';
import type { EnvCompareModel } from '../env/model';
import type { IRunDetail } from './model';
import { Section } from '../common/components';
import { seriesColor } from '../common/colors';
import { EnvDiffSection } from '../env/EnvDiff';
import { CostScatterSection } from './CostScatter';
import { MetricChart } from './MetricChart';

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
  const metrics = diffMetrics(runs);
  const keys = metricKeys(runs);

  return (
    <div className="jp-mlops-compare" data-testid="mlops-compare">
      <div className="jp-mlops-details-title">
        <span className="jp-mlops-details-name">
          Comparing {details.length} runs
        </span>
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
      <Section title="Latest metrics" count={metrics.length}>
        <DiffTable
          rows={metrics}
          runs={runs.map(run => run.run_name || run.run_id)}
          colors={colors}
          testId="mlops-compare-metrics"
          rowTestId="mlops-compare-metric-row"
          format={formatMetric}
        />
      </Section>
      {props.env ? (
        <EnvDiffSection model={props.env} runs={runs} colors={colors} />
      ) : null}
      <CostScatterSection runs={runs} colors={colors} />
      <Section title="Metric curves" count={keys.length}>
        <div className="jp-mlops-charts">
          {keys.map(key => (
            <OverlayChart
              key={key}
              metric={key}
              details={details}
              colors={colors}
            />
          ))}
        </div>
      </Section>
    </div>
  );
}

function OverlayChart(props: {
  metric: string;
  details: IRunDetail[];
  colors: string[];
}): JSX.Element {
  const { metric, details } = props;
  const histories = details.map(d => d.histories.get(metric));
  const overlay = useMemo(
    () =>
      mergeHistories(
        details.map((d, index) => ({
          runId: d.run.run_id,
          label: d.run.run_name || d.run.run_id,
          points: histories[index] ?? []
        }))
      ),
    // Recompute when any run's history array is replaced.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [metric, ...histories, ...details.map(d => d.run.run_name)]
  );
  const loading = histories.some(
    (h, index) => h === undefined && metric in details[index].run.metrics
  );
  return (
    <MetricChart
      metric={metric}
      overlay={overlay}
      colors={props.colors}
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
              className={row.differs ? 'jp-mlops-differs' : undefined}
              data-testid={props.rowTestId}
              data-key={row.key}
              data-differs={row.differs ? 'true' : 'false'}
            >
              <th scope="row" title={row.key}>
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
