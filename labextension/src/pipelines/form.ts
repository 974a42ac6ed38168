/**
 * The run form of the Pipelines view, without DOM: one field per step
 * parameter (typed by the pipeline's parameter schema), the text the user
 * typed, and its parsing into values (`request.ts` builds the
 * `POST pipelines/runs` body from them).
 *
 * Values travel as JSON values (numbers, booleans, strings, lists, dicts),
 * never as code; the server validates them again.
 */
import type { IParamSpec, IPipeline, ParamType } from '../api/pipelines';

/**
 * How a parameter is edited: a number input (integers checked), a checkbox,
 * a text input, a JSON text area, or not at all (`fixed`: the notebook's
 * default is not a literal, so the notebook computes it).
 */
export type InputKind =
  | 'integer'
  | 'number'
  | 'checkbox'
  | 'text'
  | 'json'
  | 'fixed';

/** One parameter of one step, as the form shows it. */
export interface IFormField {
  /** `step.param`: the key of `parameters` and `grid`. */
  key: string;
  step: string;
  name: string;
  type: ParamType;
  kind: InputKind;
  default: unknown;
  annotation: string | null;
  /** False when the default is not a literal (flagged, not editable). */
  literal: boolean;
}

/** What the user typed. */
export interface IFormState {
  /** Field key -> input text (checkbox: boolean). */
  values: Record<string, string | boolean>;
  /** Field key -> comma-separated sweep values. */
  sweeps: Record<string, string>;
  workers: string;
  executor: 'local' | 'dask';
  /** Seconds per execution; empty for none. */
  timeout: string;
  /** Run every step even when a cached result fits. */
  force: boolean;
  /** Tries again after a failure, 0 to `MAX_RETRIES`. */
  retries: string;
  /** Retry failures of the notebook's own cells too. */
  retryOnError: boolean;
  /** Spend cap of the whole run (cost currency); empty for none. */
  maxCost: string;
}

/** The most retries the server accepts. */
export const MAX_RETRIES = 10;

/** A parsed value, or why it is not one. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The input of a parameter type. */
export function inputKind(
  spec: Pick<IParamSpec, 'type' | 'literal'>
): InputKind {
  if (spec.literal === false) {
    return 'fixed';
  }
  switch (spec.type) {
    case 'int':
      return 'integer';
    case 'float':
      return 'number';
    case 'bool':
      return 'checkbox';
    case 'str':
      return 'text';
    case 'list':
    case 'dict':
      return 'json';
    default:
      return 'fixed';
  }
}

/** The form's fields: every parameter of every step, in pipeline order. */
export function formFields(pipeline: IPipeline): IFormField[] {
  const fields: IFormField[] = [];
  for (const step of pipeline.steps) {
    for (const [name, spec] of Object.entries(step.parameters ?? {})) {
      const kind = inputKind(spec);
      fields.push({
        key: `${step.name}.${name}`,
        step: step.name,
        name,
        type: spec.type,
        kind,
        default: spec.default,
        annotation: spec.annotation ?? null,
        literal: kind !== 'fixed'
      });
    }
  }
  return fields;
}

/** A default as the input shows it. */
export function inputText(field: IFormField, value: unknown): string | boolean {
  switch (field.kind) {
    case 'checkbox':
      return value === true;
    case 'json':
      return value === undefined ? '' : JSON.stringify(value);
    case 'fixed':
      return '';
    default:
      return value === null || value === undefined ? '' : String(value);
  }
}

/** A default as a table shows it (strings quoted, the rest as JSON). */
export function displayValue(value: unknown): string {
  if (value === undefined) {
    return '';
  }
  return JSON.stringify(value) ?? String(value);
}

/** Every literal field at its default, as the inputs show it. */
export function initialValues(
  fields: readonly IFormField[]
): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const field of fields) {
    if (field.literal) {
      values[field.key] = inputText(field, field.default);
    }
  }
  return values;
}

/**
 * The form with every field at its default, one worker, the local executor,
 * the cache used, no retries.
 */
export function initialForm(fields: readonly IFormField[]): IFormState {
  return {
    values: initialValues(fields),
    sweeps: {},
    workers: '1',
    executor: 'local',
    timeout: '',
    force: false,
    retries: '0',
    retryOnError: false,
    maxCost: ''
  };
}

const INTEGER = /^[+-]?\d+$/;

/** One value of `field` from what the user typed. */
export function parseValue(
  field: IFormField,
  input: string | boolean
): Parsed<unknown> {
  const label = field.key;
  if (field.kind === 'checkbox') {
    if (typeof input === 'boolean') {
      return { ok: true, value: input };
    }
    const text = input.trim().toLowerCase();
    if (text === 'true' || text === 'false') {
      return { ok: true, value: text === 'true' };
    }
    return { ok: false, error: `${label}: "${input}" is not true or false` };
  }
  const text = typeof input === 'boolean' ? String(input) : input;
  switch (field.kind) {
    case 'integer': {
      const value = Number(text.trim());
      if (!INTEGER.test(text.trim()) || !Number.isSafeInteger(value)) {
        return { ok: false, error: `${label}: "${text}" is not an integer` };
      }
      return { ok: true, value };
    }
    case 'number': {
      const value = Number(text.trim());
      if (!text.trim() || !Number.isFinite(value)) {
        return { ok: false, error: `${label}: "${text}" is not a number` };
      }
      return { ok: true, value };
    }
    case 'text':
      return { ok: true, value: text };
    case 'json': {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return { ok: false, error: `${label}: not valid JSON` };
      }
      const isList = Array.isArray(value);
      const isDict =
        value !== null && typeof value === 'object' && !Array.isArray(value);
      if (field.type === 'list' ? !isList : !isDict) {
        return {
          ok: false,
          error: `${label}: expected a JSON ${field.type === 'list' ? 'list [...]' : 'object {...}'}`
        };
      }
      return { ok: true, value };
    }
    default:
      return {
        ok: false,
        error: `${label}: set in the notebook (not a literal)`
      };
  }
}

/**
 * The values of a sweep: comma-separated (`0.1, 0.3`), or a JSON list
 * (`[[1, 2], [3]]`, needed for list and dict parameters). Empty: no sweep.
 */
export function parseSweep(
  field: IFormField,
  text: string
): Parsed<unknown[] | null> {
  const trimmed = text.trim();
  if (!trimmed) {
    return { ok: true, value: null };
  }
  if (!field.literal) {
    return {
      ok: false,
      error: `${field.key}: set in the notebook (not a literal)`
    };
  }
  let items: unknown[];
  let typed = false;
  if (trimmed.startsWith('[') || field.kind === 'json') {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (!Array.isArray(parsed)) {
        throw new Error('not a list');
      }
      items = parsed;
      typed = true;
    } catch {
      return {
        ok: false,
        error: `${field.key}: sweep values must be a JSON list such as [1, 2]`
      };
    }
  } else {
    items = trimmed.split(',').map(item => item.trim());
  }
  if (!items.length) {
    return { ok: false, error: `${field.key}: the sweep has no values` };
  }
  const values: unknown[] = [];
  for (const item of items) {
    // A JSON item is parsed back from its JSON text, so types are checked alike.
    const input: string | boolean = !typed
      ? (item as string)
      : typeof item === 'boolean' && field.kind === 'checkbox'
        ? item
        : typeof item === 'string' && field.kind === 'text'
          ? item
          : JSON.stringify(item);
    const parsed = parseValue(field, input);
    if (!parsed.ok) {
      return { ok: false, error: `${parsed.error} (in the sweep)` };
    }
    values.push(parsed.value);
  }
  return { ok: true, value: values };
}

/** A whole number from `low` to `high` typed in `text`, or null. */
export function parseWhole(
  text: string,
  low: number,
  high = Number.MAX_SAFE_INTEGER
): number | null {
  const value = Number(text.trim());
  return INTEGER.test(text.trim()) && value >= low && value <= high
    ? value
    : null;
}

/** How many executions a grid makes per step: the product of its value counts. */
export function trialCount(grid: Readonly<Record<string, unknown[]>>): number {
  return Object.values(grid).reduce((n, values) => n * values.length, 1);
}
