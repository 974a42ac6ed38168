import {
  describeDiff,
  diffRows,
  diffSummary,
  envHashFilter,
  filterPackages,
  groupByEnvHash,
  indexPackages,
  normalizeName,
  packageCounts,
  runEnvHash,
  sameEnvironment,
  shortHash
} from '../../labextension/src/env/logic';
import type {
  IEnvPackage,
  IEnvironmentDiff
} from '../../labextension/src/api/env';
import {
  buildRunsQuery,
  DEFAULT_FILTER,
  DEFAULT_SORT,
  visibleColumns
} from '../../labextension/src/runs/logic';
import {
  DEFAULT_SETTINGS,
  parseSettings
} from '../../labextension/src/settings';
import { EMPTY_DIFF, makeRun } from './fixtures';

const HASH_A = 'sha256:3f2a9c1b77e0d4aa5f1e';
const HASH_B = 'sha256:0b1c2d3e4f5a6b7c8d9e';

function pkg(name: string, overrides: Partial<IEnvPackage> = {}): IEnvPackage {
  return {
    name,
    version: '1.0',
    source: 'pip',
    requested: false,
    origin: null,
    ...overrides
  };
}

describe('shortHash', () => {
  it('drops the algorithm prefix and keeps 8 characters', () => {
    expect(shortHash(HASH_A)).toBe('3f2a9c1b');
    expect(shortHash('abcdef0123456789')).toBe('abcdef01');
    expect(shortHash(HASH_A, 4)).toBe('3f2a');
  });

  it('is empty for no hash and keeps short digests whole', () => {
    expect(shortHash(null)).toBe('');
    expect(shortHash(undefined)).toBe('');
    expect(shortHash('')).toBe('');
    expect(shortHash('sha256:ab')).toBe('ab');
  });
});

describe('run environment hashes', () => {
  const a1 = makeRun('a1', { tags: { 'mlops.env.hash': HASH_A } });
  const a2 = makeRun('a2', { tags: { 'mlops.env.hash': HASH_A } });
  const b = makeRun('b', { tags: { 'mlops.env.hash': HASH_B } });
  const none = makeRun('n');

  it('reads the mlops.env.hash tag', () => {
    expect(runEnvHash(a1)).toBe(HASH_A);
    expect(runEnvHash(none)).toBeNull();
    expect(runEnvHash(makeRun('x', { tags: { 'mlops.env.hash': ' ' } }))).toBe(
      null
    );
  });

  it('calls two runs identical only when both carry the same hash', () => {
    expect(sameEnvironment(a1, a2)).toBe(true);
    expect(sameEnvironment(a1, b)).toBe(false);
    expect(sameEnvironment(none, makeRun('m'))).toBe(false);
  });

  it('groups runs by hash in order of appearance', () => {
    expect(groupByEnvHash([b, a1, none, a2])).toEqual([
      { hash: HASH_B, runIds: ['b'] },
      { hash: HASH_A, runIds: ['a1', 'a2'] },
      { hash: null, runIds: ['n'] }
    ]);
  });

  it('filters the runs of one environment, never pasting odd text', () => {
    expect(envHashFilter(HASH_A)).toBe(`tags.\`mlops.env.hash\` = '${HASH_A}'`);
    expect(envHashFilter("x' or 1=1")).toBeNull();
    expect(envHashFilter('')).toBeNull();
    const query = buildRunsQuery(
      { ...DEFAULT_FILTER, envHash: HASH_A },
      DEFAULT_SORT,
      50
    );
    expect(query.filter).toBe(`tags.\`mlops.env.hash\` = '${HASH_A}'`);
    expect(buildRunsQuery(DEFAULT_FILTER, DEFAULT_SORT, 50).filter).toBe(
      undefined
    );
    expect(
      buildRunsQuery({ ...DEFAULT_FILTER, envHash: "a'b" }, DEFAULT_SORT, 50)
        .filter
    ).toBe(undefined);
  });
});

describe('env hash column', () => {
  it('is known, sortable by the tag, and off by default', () => {
    const [column] = visibleColumns(['env_hash']).filter(
      c => c.id === 'env_hash'
    );
    expect(column.label).toBe('Env');
    expect(column.sortKey).toBe('tags.mlops.env.hash');
    expect(DEFAULT_SETTINGS.visibleColumns).not.toContain('env_hash');
    expect(
      parseSettings({ visibleColumns: ['status', 'env_hash'] }).visibleColumns
    ).toEqual(['status', 'env_hash']);
  });
});

describe('package search', () => {
  const packages = [
    pkg('mlflow-skinny', { version: '3.17.0' }),
    pkg('numpy', { version: '2.1.0', requested: true }),
    pkg('mlflow', { version: '3.17.0', requested: true }),
    pkg('scikit-learn', { version: '1.5.2', requested: true }),
    pkg('openssl', { version: '3.3.1', source: 'conda' }),
    pkg('pyflakes'),
    pkg('mlflow-tracing')
  ];
  const index = indexPackages(packages);
  const names = (list: IEnvPackage[]): string[] => list.map(p => p.name);

  it('normalizes names like PEP 503', () => {
    expect(normalizeName(' Scikit_Learn ')).toBe('scikit-learn');
    expect(normalizeName('zope.interface')).toBe('zope-interface');
    expect(normalizeName('a-_.b')).toBe('a-b');
  });

  it('lists everything in name order without a query', () => {
    expect(names(filterPackages(index, { query: '' }))).toEqual([
      'mlflow',
      'mlflow-skinny',
      'mlflow-tracing',
      'numpy',
      'openssl',
      'pyflakes',
      'scikit-learn'
    ]);
  });

  it('ranks an exact name first, then prefixes, then substrings', () => {
    expect(names(filterPackages(index, { query: 'MLflow' }))).toEqual([
      'mlflow',
      'mlflow-skinny',
      'mlflow-tracing'
    ]);
    expect(names(filterPackages(index, { query: 'fl' }))).toEqual([
      'mlflow',
      'mlflow-skinny',
      'mlflow-tracing',
      'pyflakes'
    ]);
  });

  it('matches any of several words, and normalized spellings', () => {
    expect(
      names(filterPackages(index, { query: 'numpy  scikit_learn' }))
    ).toEqual(['numpy', 'scikit-learn']);
    expect(names(filterPackages(index, { query: 'nothing-like-it' }))).toEqual(
      []
    );
  });

  it('filters by requested and by source', () => {
    expect(
      names(filterPackages(index, { query: '', requestedOnly: true }))
    ).toEqual(['mlflow', 'numpy', 'scikit-learn']);
    expect(
      names(filterPackages(index, { query: '', source: 'conda' }))
    ).toEqual(['openssl']);
    expect(
      names(filterPackages(index, { query: 'ml', requestedOnly: true }))
    ).toEqual(['mlflow']);
  });

  it('filters a thousand packages quickly enough to run on every keystroke', () => {
    const many = indexPackages(
      Array.from({ length: 1000 }, (_, i) => pkg(`package-${i}`))
    );
    const found = filterPackages(many, { query: 'package-99' });
    expect(found[0].name).toBe('package-99');
    expect(found).toHaveLength(11);
  });

  it('counts packages by source and requested', () => {
    expect(packageCounts(packages)).toEqual({
      total: 7,
      pip: 6,
      conda: 1,
      requested: 3
    });
  });
});

describe('environment diffs', () => {
  const diff: IEnvironmentDiff = {
    added: [
      { section: 'pip', name: 'zlib-ng', old: null, new: '1.0' },
      { section: 'pip', name: 'Attrs', old: null, new: '24.1' }
    ],
    removed: [{ section: 'conda', name: 'mkl', old: '2024.0=h1', new: null }],
    changed: [
      { section: 'pip', name: 'numpy', old: '1.26.4', new: '2.1.0' },
      {
        section: 'conda',
        name: 'numpy',
        old: '1.26.4=py311',
        new: '2.1.0=py311'
      },
      { section: 'pip', name: 'mlflow', old: '3.16.0', new: '3.17.0' }
    ],
    python: { old: '3.11.7', new: '3.12.1' },
    listed_only: false,
    drift: true
  };

  it('lists python first, then changed, added, removed, each by name', () => {
    const rows = diffRows(diff);
    expect(rows.map(r => `${r.change}:${r.section}:${r.name}`)).toEqual([
      'changed:python:python',
      'changed:pip:mlflow',
      'changed:conda:numpy',
      'changed:pip:numpy',
      'added:pip:Attrs',
      'added:pip:zlib-ng',
      'removed:conda:mkl'
    ]);
    expect(rows[0]).toMatchObject({ old: '3.11.7', new: '3.12.1' });
    expect(rows[1]).toMatchObject({ old: '3.16.0', new: '3.17.0' });
  });

  it('summarizes and describes a diff', () => {
    expect(diffSummary(diff)).toEqual({
      added: 2,
      removed: 1,
      changed: 3,
      python: true,
      identical: false
    });
    expect(describeDiff(diff)).toBe(
      '3 changed, 2 added, 1 removed, Python 3.11.7 \u2192 3.12.1'
    );
  });

  it('calls an empty diff identical', () => {
    const empty: IEnvironmentDiff = { ...EMPTY_DIFF };
    expect(diffSummary(empty).identical).toBe(true);
    expect(describeDiff(empty)).toBe('no differences');
    expect(diffRows(empty)).toEqual([]);
  });
});
