/**
 * Pure logic of the comparison's export: the compared runs as CSV (one row per
 * run, for a spreadsheet or pandas) and as a Markdown table (one row per
 * param or metric, one column per run, like the comparison, for an issue or a
 * report).
 *
 * Columns: the run's id, name and status, then every param (`param:<key>`),
 * the user's metrics (`metric:<key>`; `system/*` and cost left out) and the
 * run-end cost metrics (`cost:<key>`). CSV fields follow RFC 4180 (quoted
 * when they hold a comma, quote or line break; quotes doubled) and text that
 * a spreadsheet would read as a formula (`=`, `+`, `@`, a `-` that is not a
 * number, tab, CR) gets a leading `'`. Markdown cells escape `\`, `|` and
 * HTML (`<`, `>`, `&`), and show line breaks as `<br>`.
 */
import type { IRunSummary } from '../api/types';
import { metricKeys, paramKeys } from './logic';
import { isCostMetric, isOurMetric } from './metricsView';

type ExportRun = Pick<
  IRunSummary,
  'run_id' | 'run_name' | 'status' | 'params' | 'metrics'
>;

/** Which keys of the compared runs are exported, by kind. */
export interface IExportKeys {
  params: string[];
  metrics: string[];
  cost: string[];
}

/** Params, user metrics and cost metrics of `runs`, each sorted. */
export function exportKeys(runs: readonly ExportRun[]): IExportKeys {
  const metrics = metricKeys(runs);
  return {
    params: paramKeys(runs),
    metrics: metrics.filter(k => !isOurMetric(k)),
    cost: metrics.filter(isCostMetric)
  };
}

function number(value: number | null | undefined): string {
  return typeof value === 'number' && Number.isFinite(value)
    ? String(value)
    : '';
}

const FORMULA = /^[=+@\t\r]/;
const NUMBER = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** One CSV field (RFC 4180), formula-like text defused with a leading `'`. */
export function csvField(text: string): string {
  let value = text;
  if (FORMULA.test(value) || (value.startsWith('-') && !NUMBER.test(value))) {
    value = `'${value}`;
  }
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The runs as CSV: a header line, then one line per run (CRLF line ends). */
export function toCsv(runs: readonly ExportRun[]): string {
  const keys = exportKeys(runs);
  const header = [
    'run_id',
    'run_name',
    'status',
    ...keys.params.map(k => `param:${k}`),
    ...keys.metrics.map(k => `metric:${k}`),
    ...keys.cost.map(k => `cost:${k}`)
  ];
  const lines = runs.map(run => [
    run.run_id,
    run.run_name,
    run.status,
    ...keys.params.map(k => run.params[k] ?? ''),
    ...keys.metrics.map(k => number(run.metrics[k])),
    ...keys.cost.map(k => number(run.metrics[k]))
  ]);
  return (
    [header, ...lines]
      .map(fields => fields.map(csvField).join(','))
      .join('\r\n') + '\r\n'
  );
}

/** One Markdown table cell: escaped, one line. */
export function markdownCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, '<br>');
}

/** The runs as Markdown: one table, a row per param, metric and cost metric. */
export function toMarkdown(runs: readonly ExportRun[]): string {
  const keys = exportKeys(runs);
  const row = (cells: string[]): string =>
    `| ${cells.map(markdownCell).join(' | ')} |`;
  const lines = [
    row(['', ...runs.map(run => run.run_name || run.run_id)]),
    `|${' --- |'.repeat(runs.length + 1)}`,
    row(['run id', ...runs.map(run => run.run_id)]),
    row(['status', ...runs.map(run => run.status)]),
    ...keys.params.map(k =>
      row([`param ${k}`, ...runs.map(run => run.params[k] ?? '')])
    ),
    ...keys.metrics.map(k =>
      row([`metric ${k}`, ...runs.map(run => number(run.metrics[k]))])
    ),
    ...keys.cost.map(k =>
      row([`cost ${k}`, ...runs.map(run => number(run.metrics[k]))])
    )
  ];
  return lines.join('\n') + '\n';
}

/** `mlops-compare-<n>-runs.<ext>`. */
export function exportFileName(count: number, extension: string): string {
  return `mlops-compare-${count}-runs.${extension}`;
}
