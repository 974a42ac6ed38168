/**
 * Pure logic of the Pipelines view's launches: the recent list, progress of
 * a launch and of each running execution (its cell, its last output lines),
 * retries and cache hits, the swept values and metrics of each execution.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import {
  type IExecution,
  type IExecutionProgress,
  type ILaunch,
  isTerminal
} from '../api/pipelines';
import type { ISchedule } from '../api/schedules';
import { formatMetric } from '../common/format';
import { valueKey, varyingParams } from '../runs/sweep';

/** At most this many recent launches are listed. */
export const MAX_LAUNCHES = 20;

/** How often the watched launch is read, in ms (backs off on errors). */
export const LAUNCH_POLL = { interval: 1000, backoff: true, max: 15_000 };

/** How often the recent list is read while one of its launches runs, in ms. */
export const LIST_POLL = { interval: 2000, backoff: true, max: 15_000 };

/** At most this many output lines are shown per running execution. */
export const TAIL_LINES = 4;

/** `launch` first, then `launches` without it (newest first), at most `MAX_LAUNCHES`. */
export function upsertLaunch(
  launches: readonly ILaunch[],
  launch: ILaunch
): ILaunch[] {
  return (
    replaceById(launches, launch) ??
    [launch, ...launches].slice(0, MAX_LAUNCHES)
  );
}

/** `items` with the one of `item`'s id replaced by it; null when none has it. */
export function replaceById<T extends { id: string }>(
  items: readonly T[],
  item: T
): T[] | null {
  const index = items.findIndex(other => other.id === item.id);
  if (index < 0) {
    return null;
  }
  const next = [...items];
  next[index] = item;
  return next;
}

/** Counts of a launch's executions by status: `{FINISHED: 2, RUNNING: 1}`. */
export function progressCounts(launch: ILaunch): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const execution of launch.executions) {
    counts[execution.status] = (counts[execution.status] ?? 0) + 1;
  }
  return counts;
}

/** `2/3 done` (finished, failed or killed of all), `2/3 done, 1 cached`. */
export function progressText(launch: ILaunch): string {
  const done = launch.executions.filter(e => isTerminal(e.status)).length;
  const cached = launch.executions.filter(isCached).length;
  const text = `${done}/${launch.executions.length} done`;
  return cached ? `${text}, ${cached} cached` : text;
}

/** One key per schedule that fired (`id@last_fire`): a new key is a new firing. */
export function firingKeys(
  schedules: readonly Pick<ISchedule, 'id' | 'last_fire'>[]
): string[] {
  return schedules
    .filter(schedule => schedule.last_fire !== null)
    .map(schedule => `${schedule.id}@${schedule.last_fire}`);
}

/** True when some launch of `launches` (other than `except`) is not over. */
export function anyRunning(
  launches: readonly ILaunch[],
  except: string | null = null
): boolean {
  return launches.some(
    launch => launch.id !== except && !isTerminal(launch.status)
  );
}

/** `cell 7/23` while an execution runs with a known position, else null. */
export function cellText(execution: IExecution): string | null {
  const progress = execution.progress;
  if (!progress || isTerminal(execution.status) || !progress.cells) {
    return null;
  }
  return `cell ${progress.cell}/${progress.cells}`;
}

// Terminal escapes (colours of tracebacks, cursor moves): CSI and OSC sequences.
const ESC = String.fromCharCode(27);
const BEL = String.fromCharCode(7);
const ESCAPES = new RegExp(
  `${ESC}(?:\\[[0-?]*[ -/]*[@-~]|\\][^${BEL}${ESC}]*(?:${BEL}|${ESC}\\\\)?)`,
  'g'
);

/** One output line as a terminal would leave it: escapes gone, the text after its last `\r`. */
export function cleanLine(line: string): string {
  const plain = line.replace(ESCAPES, '').replace(/[\r\n]+$/, '');
  const parts = plain.split('\r');
  return parts[parts.length - 1].trimEnd();
}

/** The last `max` non-empty output lines of a running execution, oldest first. */
export function outputTail(
  progress: IExecutionProgress | null | undefined,
  max = TAIL_LINES
): string[] {
  if (!progress || max <= 0) {
    return [];
  }
  const lines: string[] = [];
  for (const raw of progress.lines ?? []) {
    for (const piece of String(raw).split('\n')) {
      const line = cleanLine(piece);
      if (line) {
        lines.push(line);
      }
    }
  }
  return lines.slice(-max);
}

/** `attempt 2` from the second try on, else null. */
export function attemptText(execution: IExecution): string | null {
  const attempt = execution.attempt ?? 1;
  return attempt > 1 ? `attempt ${attempt}` : null;
}

/** True when the execution's result came from the cache (run `cache_hit`). */
export function isCached(execution: IExecution): boolean {
  return !!execution.cache_hit;
}

/** At most this many metrics are shown per execution. */
export const SHOWN_METRICS = 3;

/**
 * The parameters a launch sweeps: per step, those whose value is not the same
 * in all of that step's executions (in the order first seen).
 */
export function sweptKeys(executions: readonly IExecution[]): string[] {
  const keys: string[] = [];
  for (const step of new Set(executions.map(e => e.step))) {
    for (const key of varyingParams(
      executions.filter(e => e.step === step).map(e => e.parameters ?? {})
    )) {
      if (!keys.includes(key)) {
        keys.push(key);
      }
    }
  }
  return keys;
}

/** `lr=0.3, layers=[1,2]`: the execution's values of the swept `keys` it has. */
export function sweptText(
  execution: IExecution,
  keys: readonly string[]
): string {
  const params = execution.parameters ?? {};
  return keys
    .filter(key => key in params)
    .map(key => `${key}=${valueKey(params[key])}`)
    .join(', ');
}

/** `accuracy=0.91, loss=0.21`: the first `max` metrics of an execution, by name. */
export function metricsText(
  execution: IExecution,
  max: number = SHOWN_METRICS
): string {
  return Object.keys(execution.metrics ?? {})
    .sort()
    .slice(0, max)
    .map(key => `${key}=${formatMetric(execution.metrics?.[key])}`)
    .join(', ');
}

/** True when the launch runs more than one trial (a sweep). */
export function isSweep(launch: ILaunch): boolean {
  return new Set(launch.executions.map(e => e.trial)).size > 1;
}
