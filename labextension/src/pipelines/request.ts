/**
 * The requests of the Pipelines view's forms, from what was typed: the
 * parameters that differ from their defaults and the sweeps (shared with the
 * "Add schedule" form), and the `POST pipelines/runs` body with its options
 * (workers, executor, timeout, force, retries, max cost).
 */
import type { IRunRequest } from '../api/pipelines';
import {
  type IFormField,
  type IFormState,
  inputText,
  MAX_RETRIES,
  parseSweep,
  parseValue,
  parseWhole
} from './form';

/** A spend cap typed in `text`: null when empty, undefined when not an amount above 0. */
export function parseMaxCost(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (!trimmed) {
    return null;
  }
  const value = Number(trimmed);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The parameters that differ from their defaults, the sweeps (`grid`), and
 * every problem with what was typed.
 */
export function buildParameters(
  fields: readonly IFormField[],
  values: Readonly<Record<string, string | boolean>>,
  sweeps: Readonly<Record<string, string>> = {}
): {
  parameters: Record<string, unknown>;
  grid: Record<string, unknown[]>;
  errors: string[];
} {
  const errors: string[] = [];
  const parameters: Record<string, unknown> = {};
  const grid: Record<string, unknown[]> = {};
  for (const field of fields) {
    if (!field.literal) {
      continue;
    }
    const sweep = parseSweep(field, sweeps[field.key] ?? '');
    if (!sweep.ok) {
      errors.push(sweep.error);
      continue;
    }
    if (sweep.value) {
      grid[field.key] = sweep.value;
      continue;
    }
    const input = values[field.key] ?? inputText(field, field.default);
    const parsed = parseValue(field, input);
    if (!parsed.ok) {
      errors.push(parsed.error);
    } else if (!sameValue(parsed.value, field.default)) {
      parameters[field.key] = parsed.value;
    }
  }
  return { parameters, grid, errors };
}

/**
 * The run request for `path` from the form, or every problem with it. Only
 * values that differ from the defaults are sent; a swept parameter goes to
 * `grid` instead of `parameters`; `force`, `retries`, `retry_on_error` and
 * `max_cost` only when set.
 */
export function buildRunRequest(
  path: string,
  fields: readonly IFormField[],
  form: IFormState
): { ok: true; request: IRunRequest } | { ok: false; errors: string[] } {
  const { parameters, grid, errors } = buildParameters(
    fields,
    form.values,
    form.sweeps
  );
  const workers = parseWhole(form.workers, 1);
  if (workers === null) {
    errors.push(
      `workers: "${form.workers}" is not a whole number of 1 or more`
    );
  }
  let timeout: number | null = null;
  if (form.timeout.trim()) {
    timeout = Number(form.timeout.trim());
    if (!Number.isFinite(timeout) || timeout <= 0) {
      errors.push(`timeout: "${form.timeout}" is not a number of seconds`);
    }
  }
  const maxCost = parseMaxCost(form.maxCost);
  if (maxCost === undefined) {
    errors.push(`max cost: "${form.maxCost}" is not an amount above 0`);
  }
  const retries = parseWhole(form.retries, 0, MAX_RETRIES);
  if (retries === null) {
    errors.push(
      `retries: "${form.retries}" is not a whole number from 0 to ${MAX_RETRIES}`
    );
  }
  if (errors.length || workers === null || retries === null) {
    return { ok: false, errors };
  }
  const request: IRunRequest = {
    path,
    parameters,
    grid,
    workers,
    executor: form.executor,
    timeout
  };
  if (form.force) {
    request.force = true;
  }
  if (maxCost !== null && maxCost !== undefined) {
    request.max_cost = maxCost;
  }
  if (retries > 0) {
    request.retries = retries;
    if (form.retryOnError) {
      request.retry_on_error = true;
    }
  }
  return { ok: true, request };
}
