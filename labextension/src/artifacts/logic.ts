/**
 * Pure logic of a run's Artifacts section: how a file is previewed, the
 * frames' sandbox, a model signature as text, where to see the run in
 * MLflow's UI.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import type { ArtifactKind, IMlflowUi, IModelColumn } from '../api/types';

/**
 * How the panel shows a file: `image` in an `<img>`, `frame` (HTML, SVG) in an
 * `<iframe sandbox>` without scripts or same origin, `text` as text, `none`
 * (a download link only).
 */
export type PreviewMode = 'image' | 'frame' | 'text' | 'none';

export function previewMode(kind: ArtifactKind): PreviewMode {
  switch (kind) {
    case 'image':
      return 'image';
    case 'html':
    case 'svg':
      return 'frame';
    case 'text':
      return 'text';
    default:
      return 'none';
  }
}

/**
 * The `sandbox` attribute of every frame that shows an artifact: empty, so
 * no script runs and the frame gets an opaque origin (never
 * `allow-same-origin`, never `allow-scripts`).
 */
export const FRAME_SANDBOX = '';

/** `age: double, city: string (optional)`; `-` for none. */
export function columnsText(columns: readonly IModelColumn[]): string {
  if (!columns.length) {
    return '-';
  }
  return columns
    .map(column =>
      column.name ? `${column.name}: ${column.type}` : column.type
    )
    .join(', ');
}

/** Where to see a run in MLflow's UI: a link when configured, else the command to start one. */
export type MlflowUiLink =
  | { kind: 'link'; href: string }
  | { kind: 'command'; command: string };

export function mlflowRunLink(
  ui: IMlflowUi,
  experimentId: string,
  runId: string
): MlflowUiLink {
  const base = (ui.url ?? '').replace(/\/+$/, '');
  if (base && /^https?:\/\//i.test(base)) {
    return {
      kind: 'link',
      href: `${base}/#/experiments/${encodeURIComponent(experimentId)}/runs/${encodeURIComponent(runId)}`
    };
  }
  return { kind: 'command', command: ui.command };
}
