/**
 * Pure logic of the Pipelines view's schedules: how a schedule row reads
 * (cron and time zone, the next firing in local time, missed firings), the
 * "Add schedule" form (validation, the `POST pipelines/schedules` body), and
 * which field a server error is about.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import type { ApiError } from '../api/client';
import type { IScheduleRequest, ISchedule } from '../api/schedules';
import { clockTime } from '../common/format';
import { type IFormField, initialValues, parseWhole } from './form';
import { replaceById } from './logic';
import { buildParameters } from './request';

/** The inputs of the "Add schedule" form a message can be about. */
export type ScheduleField = 'name' | 'cron' | 'timezone' | 'max_concurrent';

/** The most launches of one schedule the server lets run at once. */
export const MAX_CONCURRENT = 100;

/** What the user typed in the "Add schedule" form. */
export interface IScheduleForm {
  name: string;
  cron: string;
  timezone: string;
  /** Field key -> input text (checkbox: boolean), as in the run form. */
  values: Record<string, string | boolean>;
  maxConcurrent: string;
  catchUp: boolean;
}

/** Problems with the form: per input, and about the rest (parameters). */
export interface IScheduleErrors {
  fields: Partial<Record<ScheduleField, string>>;
  general: string[];
}

/** The browser's IANA time zone (`Europe/Paris`), `UTC` when it has none. */
export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** True when the browser knows `zone` as an IANA time zone. */
export function isTimezone(zone: string): boolean {
  if (!zone.trim()) {
    return false;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone.trim() });
    return true;
  } catch {
    return false;
  }
}

/** The empty form: every parameter at its default, the browser's time zone. */
export function initialScheduleForm(
  fields: readonly IFormField[],
  timezone: string = browserTimezone()
): IScheduleForm {
  return {
    name: '',
    cron: '',
    timezone,
    values: initialValues(fields),
    maxConcurrent: '1',
    catchUp: false
  };
}

const CRON_NICKNAMES = [
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly'
];
const CRON_FIELD = /^[0-9A-Za-z*/,?#-]+$/;

/** Why `cron` is not a cron expression the server could read, or null (the server checks it fully). */
export function cronProblem(cron: string): string | null {
  const text = cron.trim();
  if (!text) {
    return 'Enter a cron expression, e.g. "0 6 * * 1-5" (06:00 on weekdays).';
  }
  if (text.startsWith('@')) {
    return CRON_NICKNAMES.includes(text.toLowerCase())
      ? null
      : `"${text}" is not one of ${CRON_NICKNAMES.join(', ')}.`;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5 || !parts.every(part => CRON_FIELD.test(part))) {
    return (
      `"${text}" is not a cron expression: five fields are needed, ` +
      'minute hour day-of-month month day-of-week (e.g. "*/15 * * * *").'
    );
  }
  return null;
}

/**
 * The `POST pipelines/schedules` body for `path` from the form, or every
 * problem with it. Only parameters that differ from their defaults are sent.
 */
export function buildScheduleRequest(
  path: string,
  fields: readonly IFormField[],
  form: IScheduleForm
):
  | { ok: true; request: IScheduleRequest }
  | { ok: false; errors: IScheduleErrors } {
  const errors: IScheduleErrors = { fields: {}, general: [] };
  const cron = cronProblem(form.cron);
  if (cron) {
    errors.fields.cron = cron;
  }
  if (!isTimezone(form.timezone)) {
    errors.fields.timezone = `"${form.timezone}" is not a time zone; use an IANA name such as UTC or Europe/Paris.`;
  }
  const maxConcurrent = parseWhole(form.maxConcurrent, 1, MAX_CONCURRENT);
  if (maxConcurrent === null) {
    errors.fields.max_concurrent = `"${form.maxConcurrent}" is not a whole number from 1 to ${MAX_CONCURRENT}.`;
  }
  const { parameters, errors: problems } = buildParameters(fields, form.values);
  errors.general.push(...problems);
  if (
    maxConcurrent === null ||
    errors.general.length ||
    Object.keys(errors.fields).length
  ) {
    return { ok: false, errors };
  }
  const request: IScheduleRequest = {
    path,
    cron: form.cron.trim().replace(/\s+/g, ' '),
    timezone: form.timezone.trim(),
    parameters,
    max_concurrent: maxConcurrent,
    catch_up: form.catchUp
  };
  if (form.name.trim()) {
    request.name = form.name.trim();
  }
  return { ok: true, request };
}

/**
 * The input a server error is about (`cron`, `timezone`, `max_concurrent`,
 * `name`), found in its message; null when it names none (shown as the
 * form's error).
 */
export function errorField(error: ApiError): ScheduleField | null {
  const text = [error.message, ...error.errors].join('\n').toLowerCase();
  if (/\bcron\b/.test(text)) {
    return 'cron';
  }
  if (/time ?zone/.test(text)) {
    return 'timezone';
  }
  if (/max_concurrent|concurren/.test(text)) {
    return 'max_concurrent';
  }
  if (/\bname\b/.test(text) && !/parameter/.test(text)) {
    return 'name';
  }
  return null;
}

/** True when the server refused a change for lack of permission (not a bad path). */
export function isForbidden(error: ApiError | null | undefined): boolean {
  return !!error && error.status === 403 && error.error === 'HTTPError';
}

/** What a read-only user is told when a change is refused. */
export const READ_ONLY_MESSAGE =
  'You can see the schedules but not change them: this Jupyter server gives ' +
  'you read access only. Ask its administrator for the "execute" permission ' +
  'on mlops:pipelines.';

/** `in 40 s`, `in 5 min`, `in 3 h`, `in 2 d`; `due` once past. */
export function untilText(ms: number, now: number = Date.now()): string {
  const seconds = Math.round((ms - now) / 1000);
  if (seconds <= 0) {
    return 'due';
  }
  if (seconds < 60) {
    return `in ${seconds} s`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) {
    return `in ${minutes} min`;
  }
  const hours = Math.round(minutes / 60);
  if (hours < 48) {
    return `in ${hours} h`;
  }
  return `in ${Math.round(hours / 24)} d`;
}

function dayStart(ms: number): number {
  const date = new Date(ms);
  return new Date(
    date.getFullYear(),
    date.getMonth(),
    date.getDate()
  ).getTime();
}

/**
 * A firing in the browser's local time, short: `today 14:05`,
 * `tomorrow 06:00`, `yesterday 23:10`, else `Mon, 8 Dec 06:00` (the
 * browser's date format).
 */
export function fireTime(
  epochSeconds: number,
  now: number = Date.now()
): string {
  const ms = epochSeconds * 1000;
  const days = Math.round((dayStart(ms) - dayStart(now)) / 86_400_000);
  const time = clockTime(epochSeconds);
  const day =
    days === 0
      ? 'today'
      : days === 1
        ? 'tomorrow'
        : days === -1
          ? 'yesterday'
          : new Date(ms).toLocaleDateString(undefined, {
              weekday: 'short',
              day: 'numeric',
              month: 'short'
            });
  return `${day} ${time}`;
}

/** `next today 14:05 (in 4 h)`; `paused`; `no next firing`. */
export function nextFireText(
  schedule: Pick<ISchedule, 'paused' | 'next_fire'>,
  now: number = Date.now()
): string {
  if (schedule.paused) {
    return 'paused';
  }
  if (schedule.next_fire === null || !Number.isFinite(schedule.next_fire)) {
    return 'no next firing';
  }
  return `next ${fireTime(schedule.next_fire, now)} (${untilText(schedule.next_fire * 1000, now)})`;
}

/** `3 missed firings`, `1 missed firing`, or null. */
export function missedText(schedule: Pick<ISchedule, 'missed'>): string | null {
  const count = schedule.missed?.length ?? 0;
  if (!count) {
    return null;
  }
  return `${count} missed firing${count === 1 ? '' : 's'}`;
}

/** The missed firings in local time, newest first. */
export function missedTimes(
  schedule: Pick<ISchedule, 'missed'>,
  now: number = Date.now()
): string[] {
  return [...(schedule.missed ?? [])]
    .sort((a, b) => b - a)
    .map(when => fireTime(when, now));
}

/** `0 6 * * 1-5 (Europe/Paris)` */
export function cronText(
  schedule: Pick<ISchedule, 'cron' | 'timezone'>
): string {
  return `${schedule.cron} (${schedule.timezone})`;
}

/** `last today 06:00` (its status is a badge beside it); `never fired`. */
export function lastText(
  schedule: Pick<ISchedule, 'last_fire'>,
  now: number = Date.now()
): string {
  if (schedule.last_fire === null) {
    return 'never fired';
  }
  return `last ${fireTime(schedule.last_fire, now)}`;
}

/** Replace a schedule of the list (same id), or add it in name order. */
export function upsertSchedule(
  schedules: readonly ISchedule[],
  schedule: ISchedule
): ISchedule[] {
  return (
    replaceById(schedules, schedule) ?? sortSchedules([...schedules, schedule])
  );
}

/** Schedules by name, then id. */
export function sortSchedules(schedules: readonly ISchedule[]): ISchedule[] {
  return [...schedules].sort(
    (a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)
  );
}
