/**
 * The Cost view's report table: the ledger's totals over the chosen range,
 * grouped as the chart is (notebook, project, user or a run tag), from
 * `cost/report`. Labels are rendered as text.
 */
import React from 'react';

import type { ICostReport } from '../api/cost';
import { formatMoney } from '../common/format';
import { carbonLabel, formatGrams } from './logic';
import { type ICostGrouping, groupingParam, groupLabels } from './series';

/** One row of the report table. */
export interface IReportRow {
  /** The group as the server names it (a full notebook path, `(none)`). */
  key: string;
  /** As shown: the shortest path suffix that tells notebooks apart, `(no tag)`. */
  label: string;
  cost: number;
  used: number;
  waste: number;
  cpuCoreHours: number;
  hours: number;
  /** gCO2e: the energy x the report's intensity (0 from an older server). */
  co2eG: number;
}

function num(value: string | number | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The rows of a report grouped by `grouping` (its first grouping's label), as the server ordered them. */
export function reportRows(
  report: ICostReport | null,
  grouping: ICostGrouping
): IReportRow[] {
  const by = groupingParam(grouping);
  if (!report || by === null) {
    return [];
  }
  const column = report.groups?.[0] ?? by;
  const keys = report.rows.map(row => String(row[column] ?? ''));
  const labels = groupLabels(keys, grouping.by);
  return report.rows.map((row, index) => ({
    key: keys[index],
    label: labels.get(keys[index]) ?? keys[index],
    cost: num(row.cost),
    used: num(row.used_cost),
    waste: num(row.waste),
    cpuCoreHours: num(row.cpu_core_hours),
    hours: num(row.hours),
    co2eG: num(row.co2e_g)
  }));
}

const HEADINGS: Record<ICostGrouping['by'], string> = {
  notebook: 'Notebook',
  project: 'Project',
  user: 'User',
  tag: 'Tag'
};

export function ReportTable(props: {
  report: ICostReport | null;
  grouping: ICostGrouping;
}): JSX.Element | null {
  const { report, grouping } = props;
  const rows = reportRows(report, grouping);
  if (!report) {
    return null;
  }
  if (!rows.length) {
    return (
      <div className="jp-mlops-empty" data-testid="mlops-cost-report-empty">
        Nothing booked in this range.
      </div>
    );
  }
  const currency = report.currency === 'mixed' ? 'USD' : report.currency;
  const heading =
    grouping.by === 'tag' ? `Tag ${grouping.tagKey}` : HEADINGS[grouping.by];
  return (
    <div className="jp-mlops-table-wrapper">
      <table
        className="jp-mlops-table jp-mlops-cost-table jp-mlops-cost-report"
        data-testid="mlops-cost-report"
        data-by={report.by}
      >
        <thead>
          <tr>
            <th>{heading}</th>
            <th title="Allocated: what holding the resources cost">Cost</th>
            <th title="What the resources actually used cost">Used</th>
            <th title="Allocated minus used">Waste</th>
            <th title="CPU core-hours">CPU h</th>
            <th title="Kernel hours">Hours</th>
            <th title={carbonLabel(report.carbon) || 'gCO2e'}>CO2e</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(row => (
            <tr
              key={row.key}
              data-testid="mlops-cost-report-row"
              data-key={row.key}
            >
              <td className="jp-mlops-cost-notebook" title={row.key}>
                {row.label}
              </td>
              <td data-value={row.cost}>{formatMoney(row.cost, currency)}</td>
              <td>{formatMoney(row.used, currency)}</td>
              <td>{formatMoney(row.waste, currency)}</td>
              <td>{row.cpuCoreHours.toFixed(2)}</td>
              <td>{row.hours.toFixed(2)}</td>
              <td data-testid="mlops-cost-report-co2e" data-value={row.co2eG}>
                {formatGrams(row.co2eG)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.carbon ? (
        <div className="jp-mlops-cost-carbon" data-testid="mlops-cost-carbon">
          {carbonLabel(report.carbon)}
        </div>
      ) : null}
    </div>
  );
}
