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

/** "Export CSV" and "Export Markdown" of `runs` (params, user metrics, cost). */
export function CompareExport(props: { runs: IRunSummary[] }): JSX.Element {
  const { runs } = props;
  return (
    <span
      className="jp-mlops-compare-export"
      data-testid="mlops-compare-export"
    >
      <button
        className="jp-mlops-button"
        data-testid="mlops-export-csv"
        title="Download the compared runs' params, metrics and cost as CSV"
        onClick={() =>
          downloadText(
            toCsv(runs),
            exportFileName(runs.length, 'csv'),
            'text/csv;charset=utf-8'
          )
        }
      >
        CSV
      </button>
      <button
        className="jp-mlops-button"
        data-testid="mlops-export-markdown"
        title="Download the comparison as a Markdown table"
        onClick={() =>
          downloadText(
            toMarkdown(runs),
            exportFileName(runs.length, 'md'),
            'text/markdown;charset=utf-8'
          )
        }
      >
        Markdown
      </button>
    </span>
  );
}
