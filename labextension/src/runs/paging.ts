/**
 * Merging pages of runs: "load more", the auto-refreshed first page, and
 * runs re-read one by one. Pure functions, re-exported by `logic.ts`.
 */
import type { IRunSummary } from '../api/types';

/** `existing` followed by the runs of `page` it does not hold yet (page tokens can overlap). */
export function appendPage(
  existing: readonly IRunSummary[],
  page: readonly IRunSummary[]
): IRunSummary[] {
  const seen = new Set(existing.map(run => run.run_id));
  return [...existing, ...page.filter(run => !seen.has(run.run_id))];
}

/**
 * Merge a freshly fetched first page into the loaded list (auto-refresh).
 *
 * The fresh page replaces the head; runs loaded beyond it (by "load more")
 * stay after it. When the fresh page is the whole result (`complete`), it is
 * the whole list, so deleted runs go away too.
 */
export function mergeHead(
  existing: readonly IRunSummary[],
  head: readonly IRunSummary[],
  complete: boolean
): IRunSummary[] {
  if (complete) {
    return [...head];
  }
  const inHead = new Set(head.map(run => run.run_id));
  const tail = existing.slice(head.length).filter(r => !inHead.has(r.run_id));
  return [...head, ...tail];
}

/** `list` with each run of `updates` replaced by its newer version (matched by id). */
export function replaceRuns(
  list: readonly IRunSummary[],
  updates: readonly IRunSummary[]
): IRunSummary[] {
  const byId = new Map(updates.map(run => [run.run_id, run]));
  return list.map(run => byId.get(run.run_id) ?? run);
}
