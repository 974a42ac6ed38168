/**
 * The comparison's export buttons: the compared runs downloaded as CSV or
 * Markdown (`compareExport.ts` builds the text; a Blob and a temporary
 * anchor download it, nothing leaves the browser).
 */
import React from 'react';

import type { IRunSummary } from '../api/types';
import { exportFileName, toCsv, toMarkdown } from './compareExport';

/** Save `text` as a file called `name` through the browser's download. */
export function downloadText(text: string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = name;
  anchor.rel = 'noopener';
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  // after the click has started the download
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const FORMATS = [
  {
    id: 'csv',
    extension: 'csv',
    label: 'CSV',
    type: 'text/csv;charset=utf-8',
    render: toCsv,
    title: "Download the compared runs' params, metrics and cost as CSV"
  },
  {
    id: 'markdown',
    extension: 'md',
    label: 'Markdown',
    type: 'text/markdown;charset=utf-8',
    render: toMarkdown,
    title: 'Download the comparison as a Markdown table'
  }
] as const;

/** "CSV" and "Markdown" downloads of `runs` (params, user metrics, cost). */
export function CompareExport(props: { runs: IRunSummary[] }): JSX.Element {
  const { runs } = props;
  return (
    <span
      className="jp-mlops-compare-export"
      data-testid="mlops-compare-export"
    >
      {FORMATS.map(format => (
        <button
          key={format.id}
          className="jp-mlops-button"
          data-testid={`mlops-export-${format.id}`}
          title={format.title}
          onClick={() =>
            downloadText(
              format.render(runs),
              exportFileName(runs.length, format.extension),
              format.type
            )
          }
        >
          {format.label}
        </button>
      ))}
    </span>
  );
}
