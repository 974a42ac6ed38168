import {
  type ICostReport,
  type ICostTarget,
  normalizeStatus
} from '../../labextension/src/api/cost';
import {
  carbonLabel,
  co2eTotal,
  costRows,
  formatGrams
} from '../../labextension/src/cost/logic';
import { reportRows } from '../../labextension/src/cost/ReportTable';

const GERMANY = {
  g_per_kwh: 380.95,
  region: 'DEU',
  name: 'Germany',
  source: 'codecarbon 3.3.2 (2023)',
  year: 2023
};

function target(id: string, co2e?: number): ICostTarget {
  return {
    target_id: id,
    kernel_id: id,
    notebook: `${id}.ipynb`,
    project: 'p',
    user: 'ana',
    time: 1,
    alive: true,
    cpu_percent: 0,
    rss_bytes: 0,
    gpus: [],
    ...(co2e === undefined
      ? {}
      : {
          co2e_g: co2e,
          cost: {
            target_id: id,
            kernel_id: id,
            time: 1,
            currency: 'USD',
            rate_per_hour: 1,
            cost_so_far: 0.5
          }
        })
  } as ICostTarget;
}

describe('gCO2e in the Cost view', () => {
  it('formats grams, kilograms and tonnes as text', () => {
    expect(formatGrams(null)).toBe('—');
    expect(formatGrams(Number.NaN)).toBe('—');
    expect(formatGrams(3.25)).toBe('3.3 gCO2e');
    expect(formatGrams(0.04712)).toBe('0.047 gCO2e');
    expect(formatGrams(0)).toBe('0.0 gCO2e');
    expect(formatGrams(761.9)).toBe('762 gCO2e');
    expect(formatGrams(2500)).toBe('2.50 kgCO2e');
    expect(formatGrams(45_000)).toBe('45.0 kgCO2e');
    expect(formatGrams(1_250_000)).toBe('1.25 tCO2e');
  });

  it('names the intensity and its source', () => {
    expect(carbonLabel(GERMANY)).toBe(
      'gCO2e at 380.95 g/kWh: Germany (DEU), codecarbon 3.3.2 (2023)'
    );
    expect(
      carbonLabel({
        ...GERMANY,
        region: '',
        name: 'world average',
        g_per_kwh: 475
      })
    ).toBe('gCO2e at 475 g/kWh: world average, codecarbon 3.3.2 (2023)');
    expect(carbonLabel(undefined)).toBe('');
  });

  it("reads each kernel's grams from the status and sums the known ones", () => {
    const status = normalizeStatus({
      time: 1,
      currency: 'USD',
      carbon: GERMANY,
      targets: { a: target('a', 100), b: target('b', 50.5), c: target('c') },
      alerts: []
    });
    expect(status.carbon).toEqual(GERMANY);
    const rows = costRows(status);
    expect(Object.fromEntries(rows.map(r => [r.kernelId, r.co2eG]))).toEqual({
      a: 100,
      b: 50.5,
      c: null
    });
    expect(co2eTotal(rows)).toBe(150.5);
    expect(co2eTotal(rows.filter(r => r.kernelId === 'c'))).toBeNull();
  });

  it('reads co2e_g of each report row', () => {
    const report: ICostReport = {
      by: 'project',
      groups: ['project'],
      since: null,
      until: null,
      currency: 'USD',
      rows: [
        { project: 'churn', cost: 3, energy_kwh: 2, co2e_g: 761.9 },
        { project: 'vision', cost: 1 }
      ],
      total: { cost: 4, co2e_g: 761.9 },
      carbon: GERMANY
    };
    const rows = reportRows(report, { by: 'project', tagKey: '' });
    expect(rows.map(r => [r.key, r.co2eG])).toEqual([
      ['churn', 761.9],
      ['vision', 0]
    ]);
  });
});
