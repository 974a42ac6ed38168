import type { IRunSummary } from '../../labextension/src/types';

/** A run summary with sensible defaults; override what the test is about. */
export function makeRun(
  id: string,
  overrides: Partial<IRunSummary> = {}
): IRunSummary {
  return {
    run_id: id,
    run_name: `run-${id}`,
    experiment_id: '1',
    status: 'FINISHED',
    start_time: 1_700_000_000_000,
    end_time: 1_700_000_060_000,
    duration_ms: 60_000,
    notebook: 'train.ipynb',
    project: 'demo',
    user: 'ada',
    params: {},
    metrics: {},
    tags: {},
    ...overrides
  };
}
