/**
 * Pure logic of the run actions: the checks the server makes too (so the
 * panel says what is wrong before a request), which tags a user may edit,
 * the run's note, and the edit of one tag as a request body.
 *
 * Mirrors `jupyter_mlops/core/tracking/run_edit.py`: names of 1 to 250
 * characters on one line; tag keys of MLflow's characters, at most 250;
 * values and the note at most 8000; `mlops.*` and `mlflow.*` tags read-only.
 */
import type { IEditedRun, ITagEdit } from '../api/runEdit';

/** MLflow's run description tag (Markdown): the run's note. */
export const NOTE_TAG = 'mlflow.note.content';
export const MAX_NAME_LENGTH = 250;
export const MAX_KEY_LENGTH = 250;
export const MAX_VALUE_LENGTH = 8000;
/** Tags the system writes; shown, never edited. */
export const PROTECTED_PREFIXES = ['mlops.', 'mlflow.'] as const;

const KEY = /^[\w.\- :/]+$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether a tag is the system's (`mlops.*`, `mlflow.*`). */
export function isProtectedTag(key: string): boolean {
  return PROTECTED_PREFIXES.some(prefix => key.startsWith(prefix));
}

/** What is wrong with a new run name, or `null`. */
export function checkName(name: string): string | null {
  const text = name.trim();
  if (!text) {
    return 'A run name cannot be empty.';
  }
  if (text.length > MAX_NAME_LENGTH) {
    return `A run name has at most ${MAX_NAME_LENGTH} characters (this one ${text.length}).`;
  }
  if (CONTROL.test(text)) {
    return 'A run name is one line.';
  }
  return null;
}

/** What is wrong with a tag to set, or `null`. */
export function checkTag(key: string, value: string): string | null {
  if (!key) {
    return 'A tag needs a name.';
  }
  if (isProtectedTag(key)) {
    return `Tags under ${PROTECTED_PREFIXES.join(' and ')} are read-only.`;
  }
  if (key.length > MAX_KEY_LENGTH) {
    return `A tag name has at most ${MAX_KEY_LENGTH} characters.`;
  }
  const parts = key.split('/');
  if (!KEY.test(key) || parts.some(p => p === '' || p === '.' || p === '..')) {
    return 'A tag name may hold letters, digits, _ - . : / and spaces (a relative path).';
  }
  if (value.length > MAX_VALUE_LENGTH) {
    return `A tag value has at most ${MAX_VALUE_LENGTH} characters.`;
  }
  return null;
}

/** The tags a user may edit, sorted by name. */
export function userTags(
  tags: Readonly<Record<string, string>>
): [string, string][] {
  return Object.entries(tags)
    .filter(([key]) => !isProtectedTag(key))
    .sort(([a], [b]) => a.localeCompare(b));
}

/** The run's Markdown note ('' when it has none). */
export function runNote(run: Pick<IEditedRun, 'tags'>): string {
  return run.tags[NOTE_TAG] ?? '';
}

/** Whether the run is in MLflow's deleted stage. */
export function isDeleted(run: Pick<IEditedRun, 'lifecycle_stage'>): boolean {
  return run.lifecycle_stage === 'deleted';
}

/**
 * The request of one tag edit: set `key` to `value`, and remove `previous`
 * when the edit renamed the tag.
 */
export function tagEdit(
  key: string,
  value: string,
  previous?: string
): ITagEdit {
  const edit: ITagEdit = { set: { [key]: value } };
  if (previous && previous !== key) {
    edit.delete = [previous];
  }
  return edit;
}
