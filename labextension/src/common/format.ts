/**
 * Display formatting (plain strings; the widgets render them as text): run
 * fields (durations, times, metrics), money, rates, sizes and percentages.
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

// -- money, sizes, percentages, clock times -------------------------------------

const SYMBOLS: Record<string, string> = {
  USD: '$',
  EUR: '€',
  GBP: '£',
  JPY: '¥',
  INR: '₹'
};

function groupThousands(text: string): string {
  const [whole, fraction] = text.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** Below this (and above zero) an amount reads `<$0.0001`. */
export const MONEY_FLOOR = 0.0001;

/**
 * THE money format (status bar, tables, tooltips, chart axes; the Python
 * side's `format_money` follows the same rules): two decimals with thousands
 * grouped (`$12.40`, `$1,234.50`, `$0.42`, `$0.00`); below a cent two
 * significant digits (`$0.0031`), so that a cheap kernel's cost visibly
 * grows; below 0.0001 `<$0.0001`. `€ £ ¥ ₹` by symbol, other codes after the
 * number (`12.40 CHF`); `—` for unknown.
 */
export function formatMoney(
  amount: number | null | undefined,
  currency = 'USD'
): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) {
    return '—';
  }
  const code = (currency || 'USD').toUpperCase();
  const symbol = SYMBOLS[code];
  const money = (digits: string): string =>
    symbol ? `${symbol}${digits}` : `${digits} ${code}`;
  const abs = Math.abs(amount);
  if (abs > 0 && abs < MONEY_FLOOR) {
    return `${amount < 0 ? '>-' : '<'}${money(MONEY_FLOOR.toFixed(4))}`;
  }
  let digits = groupThousands(abs.toFixed(2));
  if (abs > 0 && abs < 0.01) {
    // Two significant digits: 0.0031, 0.00042; one that rounds up to a cent is `0.01`.
    const small = abs.toFixed(1 - Math.floor(Math.log10(abs)));
    digits = Number(small) < 0.01 ? small : '0.01';
  }
  const sign = amount < 0 && Number(digits.replace(/,/g, '')) !== 0 ? '-' : '';
  return `${sign}${money(digits)}`;
}

/** `$2.10/h`. */
export function formatRate(
  perHour: number | null | undefined,
  currency = 'USD'
): string {
  const money = formatMoney(perHour, currency);
  return money === '—' ? money : `${money}/h`;
}

/** `bytes` in powers of 1024: the value and the index of its unit. */
function scaleBytes(bytes: number, units: number): [number, number] {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < units - 1) {
    value /= 1024;
    unit++;
  }
  return [value, unit];
}

function unknownSize(
  bytes: number | null | undefined
): bytes is null | undefined {
  return bytes === null || bytes === undefined || !Number.isFinite(bytes);
}

/** `512 B`, `1.5 KiB`, `3.2 GiB`; `—` for unknown. */
export function formatBytes(bytes: number | null | undefined): string {
  if (unknownSize(bytes)) {
    return '—';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const [value, unit] = scaleBytes(bytes, units.length);
  if (unit === 0) {
    return `${Math.round(value)} B`;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** A file's size: `1.5 KB`, `12 MB` in powers of 1024, one decimal under 10; empty for unknown. */
export function formatFileSize(bytes: number | null | undefined): string {
  if (unknownSize(bytes)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const [value, unit] = scaleBytes(bytes, units.length);
  const text =
    unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/** `37%`, `0.5%`; `—` for unknown. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) {
    return '—';
  }
  return percent > 0 && percent < 10
    ? `${percent.toFixed(1)}%`
    : `${Math.round(percent)}%`;
}

/** `14:02` (or `14:02:09` with `seconds`) in the browser's time zone, from epoch seconds. */
export function clockTime(epochSeconds: number, seconds = false): string {
  const date = new Date(epochSeconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return seconds ? `${time}:${pad(date.getSeconds())}` : time;
}

/**
 * For each distinct path, the shortest suffix of whole segments that no other
 * path ends with: `a/train.ipynb` and `b/train.ipynb` beside `eval.ipynb`
 * (where space is short; show the full path in a tooltip).
 */
export function uniqueSuffixes(paths: readonly string[]): Map<string, string> {
  const distinct = [...new Set(paths)];
  const out = new Map<string, string>();
  for (const path of distinct) {
    const parts = path.split('/');
    let n = 1;
    const clashes = (suffix: string): boolean =>
      distinct.some(
        other =>
          other !== path && (other === suffix || other.endsWith(`/${suffix}`))
      );
    while (n < parts.length && clashes(parts.slice(-n).join('/'))) {
      n++;
    }
    out.set(path, parts.slice(-n).join('/'));
  }
  return out;
}

// -- numbers on axes and in metric tables ---------------------------------------

const SI_PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** `digits` significant digits of `value`, without trailing zeros (`1.5`, `120`). */
function significant(value: number, digits: number): string {
  return String(Number(value.toPrecision(digits)));
}

/**
 * THE number format of metric axes and tables, one rule: up to `digits`
 * significant digits, trailing zeros dropped;
 * - from 0.001 to below 1000 in fixed notation: `0.5`, `0.9123`, `123.5`;
 * - from 1000 up with an SI suffix: `1.5k`, `1.235M` (`1.23M` at 3 digits),
 *   `2G`, up to `E` (1e18), scientific beyond;
 * - below 0.001 in short scientific notation: `2.2e-5`, `1.23e-7`.
 * `0` is `0`; an em dash for unknown; NaN and infinities as JavaScript
 * writes them.
 */
export function formatNumber(
  value: number | null | undefined,
  digits = 4
): string {
  if (value === null || value === undefined) {
    return '\u2014';
  }
  if (!Number.isFinite(value)) {
    return String(value);
  }
  const abs = Math.abs(Number(value.toPrecision(digits)));
  if (abs === 0) {
    return '0';
  }
  if (abs < 1e-3) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
    return `${Number(mantissa)}e${Number(exponent)}`;
  }
  if (abs < 1000) {
    return significant(value, digits);
  }
  let scaled = value;
  let prefix = 0;
  while (
    Math.abs(Number(scaled.toPrecision(digits))) >= 1000 &&
    prefix < SI_PREFIXES.length - 1
  ) {
    scaled /= 1000;
    prefix++;
  }
  if (Math.abs(Number(scaled.toPrecision(digits))) >= 1000) {
    const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
    return `${Number(mantissa)}e${Number(exponent)}`;
  }
  return `${significant(scaled, digits)}${SI_PREFIXES[prefix]}`;
}

/**
 * The labels of an axis' tick values in `formatNumber`'s rule, with the
 * fewest significant digits (2 to 8) that tell every tick apart. On a log
 * axis only ticks whose leading digit is 1, 2 or 5 are labelled (the others
 * are blank) unless that leaves fewer than two labels.
 */
export function formatTicks(values: readonly number[], log = false): string[] {
  let shown = values.map(() => true);
  if (log) {
    const leading = values.map(value => {
      const abs = Math.abs(value);
      return abs > 0 ? Math.round(abs / 10 ** Math.floor(Math.log10(abs))) : 0;
    });
    const round = leading.map(digit => [1, 2, 5].includes(digit));
    if (round.filter(Boolean).length >= 2) {
      shown = round;
    }
  }
  const labelled = values.filter((_, index) => shown[index]);
  let digits = 2;
  while (
    digits < 8 &&
    new Set(labelled.map(value => formatNumber(value, digits))).size <
      new Set(labelled).size
  ) {
    digits++;
  }
  return values.map((value, index) =>
    shown[index] ? formatNumber(value, digits) : ''
  );
}

/** Time since a start on an axis: `0s`, `45s`, `2m 05s`, `1h 05m`, `2d 03h`. */
export function formatElapsed(seconds: number): string {
  if (!Number.isFinite(seconds)) {
    return '\u2014';
  }
  const sign = seconds < 0 ? '-' : '';
  const abs = Math.abs(seconds);
  if (abs < 60) {
    return `${sign}${significant(abs, abs < 10 ? 2 : 3)}s`;
  }
  return `${sign}${formatDuration(abs * 1000)}`;
}
