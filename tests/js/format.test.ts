import {
  formatDuration,
  formatMetric,
  formatMoney,
  formatRate,
  formatRecord,
  formatRelativeTime,
  runDuration
} from '../../labextension/src/common/format';
import {
  parseSettings,
  DEFAULT_SETTINGS
} from '../../labextension/src/settings';
import { makeRun } from './fixtures';

describe('formatting', () => {
  it('formats durations at a readable unit', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4m 05s');
    expect(formatDuration(2 * 3600_000 + 3 * 60_000)).toBe('2h 03m');
    expect(formatDuration(null)).toBe('\u2014');
  });

  it('uses the server duration, else end or now minus start', () => {
    expect(runDuration(makeRun('a', { duration_ms: 5 }))).toBe(5);
    expect(
      runDuration(
        makeRun('a', { duration_ms: null, start_time: 10, end_time: 25 })
      )
    ).toBe(15);
    expect(
      runDuration(
        makeRun('a', {
          duration_ms: null,
          status: 'RUNNING',
          start_time: 1000,
          end_time: null
        }),
        4000
      )
    ).toBe(3000);
  });

  it('formats metrics with four significant digits', () => {
    expect(formatMetric(0.912345)).toBe('0.9123');
    expect(formatMetric(3)).toBe('3');
    expect(formatMetric(123456789.5)).toBe('1.235e+8');
    expect(formatMetric(null)).toBe('\u2014');
  });

  it('formats records with sorted keys', () => {
    expect(formatRecord({ b: '2', a: '1' })).toBe('a=1, b=2');
  });

  it('says how long ago', () => {
    expect(formatRelativeTime(1000, 1000 + 10_000)).toBe('just now');
    expect(formatRelativeTime(0, 5 * 60_000)).toBe('5 min ago');
  });
});

describe('parseSettings', () => {
  it('falls back to the defaults', () => {
    expect(parseSettings(undefined)).toEqual(DEFAULT_SETTINGS);
  });

  it('clamps the interval and page size and drops unknown columns', () => {
    expect(
      parseSettings({
        refreshInterval: 0.1,
        pageSize: 100_000,
        visibleColumns: ['metrics', 'nope', 'status']
      })
    ).toEqual({
      columns: [],
      refreshInterval: 1,
      pageSize: 1000,
      visibleColumns: ['status', 'metrics']
    });
  });
});

describe('formatMoney: the one money format', () => {
  it('writes two decimals, thousands grouped', () => {
    expect(formatMoney(12.4)).toBe('$12.40');
    expect(formatMoney(1234.5)).toBe('$1,234.50');
    expect(formatMoney(1_234_567.891)).toBe('$1,234,567.89');
    expect(formatMoney(0.42)).toBe('$0.42');
    expect(formatMoney(0.01)).toBe('$0.01');
    expect(formatMoney(-2)).toBe('-$2.00');
  });

  it('writes zero as $0.00', () => {
    expect(formatMoney(0)).toBe('$0.00');
    expect(formatMoney(-0)).toBe('$0.00');
  });

  it('keeps two significant digits below a cent', () => {
    expect(formatMoney(0.0031)).toBe('$0.0031');
    expect(formatMoney(0.00314159)).toBe('$0.0031');
    expect(formatMoney(0.0099)).toBe('$0.0099');
    expect(formatMoney(0.00042)).toBe('$0.00042');
    expect(formatMoney(0.0001)).toBe('$0.00010');
    // Rounding up to a cent reads as a cent, not `$0.010`.
    expect(formatMoney(0.009996)).toBe('$0.01');
    expect(formatMoney(-0.0031)).toBe('-$0.0031');
  });

  it('writes <$0.0001 below 0.0001 but above zero', () => {
    expect(formatMoney(0.00009999)).toBe('<$0.0001');
    expect(formatMoney(4.8e-7)).toBe('<$0.0001');
    expect(formatMoney(Number.MIN_VALUE)).toBe('<$0.0001');
    expect(formatMoney(-4.8e-7)).toBe('>-$0.0001');
    expect(formatMoney(4.8e-7, 'CHF')).toBe('<0.0001 CHF');
  });

  it('puts € £ ¥ ₹ first and other codes after the number', () => {
    expect(formatMoney(1234.5, 'EUR')).toBe('€1,234.50');
    expect(formatMoney(12.4, 'GBP')).toBe('£12.40');
    expect(formatMoney(12.4, 'jpy')).toBe('¥12.40');
    expect(formatMoney(0.0031, 'INR')).toBe('₹0.0031');
    expect(formatMoney(12.4, 'CHF')).toBe('12.40 CHF');
    expect(formatMoney(1234.5, 'chf')).toBe('1,234.50 CHF');
    expect(formatMoney(12.4, '')).toBe('$12.40');
  });

  it('writes a dash for unknown amounts, and rates per hour', () => {
    expect(formatMoney(null)).toBe('\u2014');
    expect(formatMoney(undefined)).toBe('\u2014');
    expect(formatMoney(NaN)).toBe('\u2014');
    expect(formatMoney(Infinity)).toBe('\u2014');
    expect(formatRate(0.00022)).toBe('$0.00022/h');
    expect(formatRate(2.1, 'EUR')).toBe('€2.10/h');
  });
});
