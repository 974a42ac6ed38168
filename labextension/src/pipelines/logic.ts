/**
 * Pure logic of the Pipelines view's launches: the recent list, progress.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import { type ILaunch, isTerminal } from '../api/pipelines';

/** At most this many recent launches are listed. */
export const MAX_LAUNCHES = 20;

/** How often the watched launch is read, in ms (backs off on errors). */
export const LAUNCH_POLL = { interval: 1000, backoff: true, max: 15_000 };

/** `launch` first, then `launches` without it (newest first), at most `MAX_LAUNCHES`. */
export function upsertLaunch(
  launches: readonly ILaunch[],
  launch: ILaunch
): ILaunch[] {
  const index = launches.findIndex(item => item.id === launch.id);
  if (index >= 0) {
    const next = [...launches];
    next[index] = launch;
    return next;
  }
  return [launch, ...launches].slice(0, MAX_LAUNCHES);
}

/** Counts of a launch's executions by status: `{FINISHED: 2, RUNNING: 1}`. */
export function progressCounts(launch: ILaunch): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const execution of launch.executions) {
    counts[execution.status] = (counts[execution.status] ?? 0) + 1;
  }
  return counts;
}

/** `2/3 done` (finished, failed or killed of all). */
export function progressText(launch: ILaunch): string {
  const done = launch.executions.filter(e => isTerminal(e.status)).length;
  return `${done}/${launch.executions.length} done`;
}
