/**
 * Display formatting of run fields (plain strings; the widgets render them as text).
 */
import type { IRunSummary } from '../api/types';

/** `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`, `3d 04h`; an em dash when unknown. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return '\u2014';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const seconds = ms / 1000;
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const total = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  const minutes = Math.floor(total / 60);
  if (minutes < 60) {
    return `${minutes}m ${pad(total % 60)}s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    return `${hours}h ${pad(minutes % 60)}m`;
  }
  return `${Math.floor(hours / 24)}d ${pad(hours % 24)}h`;
}

/** The duration of a run: the server's `duration_ms`, else end (or `now`) minus start. */
export function runDuration(
  run: Pick<IRunSummary, 'duration_ms' | 'start_time' | 'end_time' | 'status'>,
  now: number = Date.now()
): number | null {
  if (run.duration_ms !== undefined && run.duration_ms !== null) {
    return run.duration_ms;
  }
  if (run.start_time === null) {
    return null;
  }
  if (run.end_time !== null) {
    return run.end_time - run.start_time;
  }
  return run.status === 'RUNNING' ? now - run.start_time : null;
}

/** Local date and time of an epoch-milliseconds timestamp. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '\u2014';
  }
  return new Date(ms).toLocaleString();
}

/** `just now`, `5 min ago`, `3 h ago`, `2 d ago`, else the date. */
export function formatRelativeTime(
  ms: number | null | undefined,
  now: number = Date.now()
): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    return '\u2014';
  }
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 45) {
    return 'just now';
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ago`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 24) {
    return `${hours} h ago`;
  }
  const days = Math.round(hours / 24);
  if (days < 7) {
    return `${days} d ago`;
  }
  return new Date(ms).toLocaleDateString();
}

/** A metric value with up to 4 significant digits (`0.9123`, `1.235e+5`). */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '\u2014';
  }
  if (!Number.isFinite(value)) {
    return String(value);
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e6) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(4)));
}

/** `a=1, b=x` for a params or metrics record, keys sorted. */
export function formatRecord<T>(
  record: Readonly<Record<string, T>>,
  formatValue: (value: T) => string = String
): string {
  return Object.keys(record)
    .sort()
    .map(key => `${key}=${formatValue(record[key])}`)
    .join(', ');
}
