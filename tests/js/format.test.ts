import {
  formatDuration,
  formatMetric,
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
      refreshInterval: 1,
      pageSize: 1000,
      visibleColumns: ['status', 'metrics']
    });
  });
});
