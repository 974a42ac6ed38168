/**
 * Pure logic of the environment views: hash shortening, package search,
 * environment-diff rows and summaries, grouping runs by environment.
 *
 * Nothing here touches the DOM or the network, so it is unit-tested directly.
 */
import type { IEnvPackage, IEnvironmentDiff, IPackageChange } from '../api/env';
import { TAGS } from '../api/tags';
import type { IRunSummary } from '../api/types';

// ---------------------------------------------------------------- hashes

/** Characters shown of a content hash in tables and headers. */
export const SHORT_HASH_LENGTH = 8;

/**
 * `3f2a9c1b77e0...` -> `3f2a9c1b`: the hash cut to `length` characters (an
 * algorithm prefix such as `sha256:` is dropped first); empty for no hash.
 */
export function shortHash(
  hash: string | null | undefined,
  length: number = SHORT_HASH_LENGTH
): string {
  if (!hash) {
    return '';
  }
  const text = hash.trim();
  const colon = text.indexOf(':');
  const digest = colon >= 0 ? text.slice(colon + 1) : text;
  return digest.slice(0, Math.max(1, length));
}

/** The environment hash a run was tagged with, or null. */
export function runEnvHash(run: Pick<IRunSummary, 'tags'>): string | null {
  const value = run.tags?.[TAGS.ENV_HASH];
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}

/** True when both runs carry the same environment hash (both must have one). */
export function sameEnvironment(
  a: Pick<IRunSummary, 'tags'>,
  b: Pick<IRunSummary, 'tags'>
): boolean {
  const ha = runEnvHash(a);
  return ha !== null && ha === runEnvHash(b);
}

/** A hash that can be pasted into an MLflow filter literal as it is. */
const SAFE_HASH = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * The MLflow filter string selecting the runs of one environment, or null
 * for a value that is not a plain hash (it is never pasted in then).
 */
export function envHashFilter(hash: string): string | null {
  const text = hash.trim();
  return SAFE_HASH.test(text) ? `tags.\`${TAGS.ENV_HASH}\` = '${text}'` : null;
}

export interface IHashGroup {
  /** Null for the runs without an environment hash. */
  hash: string | null;
  runIds: string[];
}

/** Runs grouped by environment hash, groups in the order their first run appears. */
export function groupByEnvHash(
  runs: readonly Pick<IRunSummary, 'run_id' | 'tags'>[]
): IHashGroup[] {
  const groups = new Map<string | null, string[]>();
  for (const run of runs) {
    const hash = runEnvHash(run);
    const ids = groups.get(hash);
    if (ids) {
      ids.push(run.run_id);
    } else {
      groups.set(hash, [run.run_id]);
    }
  }
  return [...groups].map(([hash, runIds]) => ({ hash, runIds }));
}

// ---------------------------------------------------------------- package search

/** PEP 503 normalization, also applied to search text: `Scikit_Learn` -> `scikit-learn`. */
export function normalizeName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-_.]+/g, '-');
}

/** A package with its normalized name, computed once per environment. */
export interface IIndexedPackage {
  key: string;
  pkg: IEnvPackage;
}

/** The packages sorted by name (conda before pip for the same name), ready to search. */
export function indexPackages(
  packages: readonly IEnvPackage[]
): IIndexedPackage[] {
  return packages
    .map(pkg => ({ key: normalizeName(pkg.name), pkg }))
    .sort(
      (a, b) =>
        compareText(a.key, b.key) || compareText(a.pkg.source, b.pkg.source)
    );
}

export interface IPackageFilter {
  /** Text matched against package names; several words match any of them. */
  query: string;
  /** Only the packages the user asked for. */
  requestedOnly?: boolean;
  /** Only pip or only conda packages; empty for both. */
  source?: 'pip' | 'conda' | '';
}

/**
 * The packages matching `filter`: names equal to a search word first, then
 * names starting with one, then names containing one; each group in name
 * order. Without search words, all (filtered) packages in name order.
 */
export function filterPackages(
  index: readonly IIndexedPackage[],
  filter: IPackageFilter
): IEnvPackage[] {
  const words = filter.query
    .split(/[\s,]+/)
    .map(normalizeName)
    .filter(Boolean);
  const exact: IEnvPackage[] = [];
  const prefix: IEnvPackage[] = [];
  const inside: IEnvPackage[] = [];
  for (const { key, pkg } of index) {
    if (filter.requestedOnly && !pkg.requested) {
      continue;
    }
    if (filter.source && pkg.source !== filter.source) {
      continue;
    }
    if (!words.length) {
      inside.push(pkg);
      continue;
    }
    let rank = 3;
    for (const word of words) {
      if (key === word) {
        rank = 0;
        break;
      }
      if (rank > 1 && key.startsWith(word)) {
        rank = 1;
      } else if (rank > 2 && key.includes(word)) {
        rank = 2;
      }
    }
    if (rank === 0) {
      exact.push(pkg);
    } else if (rank === 1) {
      prefix.push(pkg);
    } else if (rank === 2) {
      inside.push(pkg);
    }
  }
  return [...exact, ...prefix, ...inside];
}

/** How many packages come from pip and from conda, and how many were requested. */
export function packageCounts(packages: readonly IEnvPackage[]): {
  total: number;
  pip: number;
  conda: number;
  requested: number;
} {
  let pip = 0;
  let conda = 0;
  let requested = 0;
  for (const pkg of packages) {
    if (pkg.source === 'conda') {
      conda++;
    } else {
      pip++;
    }
    if (pkg.requested) {
      requested++;
    }
  }
  return { total: packages.length, pip, conda, requested };
}

// ---------------------------------------------------------------- diffs

export type EnvChangeKind = 'added' | 'removed' | 'changed';

/** One row of the environment diff table. */
export interface IEnvDiffRow {
  change: EnvChangeKind;
  /** `conda`, `pip`, or `python` for the interpreter's own version. */
  section: IPackageChange['section'] | 'python';
  name: string;
  old: string | null;
  new: string | null;
}

/** The order change kinds are listed in: what changed first, then additions, then removals. */
export const CHANGE_ORDER: readonly EnvChangeKind[] = [
  'changed',
  'added',
  'removed'
];

/**
 * The rows of a diff: a Python change first, then changed, added and removed
 * packages, each group sorted by name (then section).
 */
export function diffRows(diff: IEnvironmentDiff): IEnvDiffRow[] {
  const rows: IEnvDiffRow[] = [];
  if (diff.python) {
    rows.push({
      change: 'changed',
      section: 'python',
      name: 'python',
      old: diff.python.old,
      new: diff.python.new
    });
  }
  for (const change of CHANGE_ORDER) {
    const list = [...(diff[change] ?? [])].sort(
      (a, b) =>
        compareText(normalizeName(a.name), normalizeName(b.name)) ||
        compareText(a.section, b.section)
    );
    list.forEach(item => rows.push({ ...item, change }));
  }
  return rows;
}

export interface IDiffSummary {
  added: number;
  removed: number;
  changed: number;
  /** The Python version differs. */
  python: boolean;
  /** Nothing differs. */
  identical: boolean;
}

export function diffSummary(diff: IEnvironmentDiff): IDiffSummary {
  const added = diff.added?.length ?? 0;
  const removed = diff.removed?.length ?? 0;
  const changed = diff.changed?.length ?? 0;
  const python = !!diff.python;
  return {
    added,
    removed,
    changed,
    python,
    identical: !added && !removed && !changed && !python
  };
}

/** `2 changed, 1 added, 0 removed, Python 3.11 -> 3.12`, or `no differences`. */
export function describeDiff(diff: IEnvironmentDiff): string {
  const summary = diffSummary(diff);
  if (summary.identical) {
    return 'no differences';
  }
  const parts = [
    `${summary.changed} changed`,
    `${summary.added} added`,
    `${summary.removed} removed`
  ];
  if (diff.python) {
    parts.push(`Python ${diff.python.old} \u2192 ${diff.python.new}`);
  }
  return parts.join(', ');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
