/**
 * The state of the Environment view (the current kernel's packages, searched
 * client-side) and of the environment diffs shown when comparing runs.
 *
 * No DOM: the widgets render these models; tests drive them with a fake
 * `IEnvClient`.
 */

import type { ApiError } from '../api/client';
import { Model } from '../common/model';
import { envError, type IEnvClient } from '../api/env';
import {
  filterPackages,
  type IIndexedPackage,
  indexPackages,
  type IPackageFilter
} from './logic';
import type {
  ICurrentEnvironment,
  IEnvPackage,
  IEnvironmentDiff,
  IRunEnvironment
} from '../api/env';

/** The kernel whose environment is shown. */
export interface IKernelRef {
  id: string;
  /** The kernel's display name (`Python 3 (ipykernel)`). */
  name?: string;
  /** The document it belongs to (`notebooks/train.ipynb`). */
  path?: string;
}

function sameKernel(a: IKernelRef | null, b: IKernelRef | null): boolean {
  return (
    (a?.id ?? null) === (b?.id ?? null) &&
    (a?.name ?? '') === (b?.name ?? '') &&
    (a?.path ?? '') === (b?.path ?? '')
  );
}

/** The Environment view: which kernel, its environment, the package filter. */
export class EnvironmentModel extends Model {
  constructor(options: { client: IEnvClient }) {
    super();
    this._client = options.client;
  }

  get client(): IEnvClient {
    return this._client;
  }

  /** The kernel to describe; null for the Jupyter server's own interpreter. */
  get kernel(): IKernelRef | null {
    return this._kernel;
  }

  /** The environment shown (for `kernel`), null before the first answer. */
  env: ICurrentEnvironment | null = null;
  error: ApiError | null = null;
  loading = false;

  get filter(): IPackageFilter {
    return this._filter;
  }

  /** The packages of `env` that match the filter, best matches first. */
  get packages(): IEnvPackage[] {
    if (this._filtered === null) {
      this._filtered = filterPackages(this._index(), this._filter);
    }
    return this._filtered;
  }

  /** True when the environment on screen is the server's, although a kernel was asked for. */
  get isFallback(): boolean {
    return this.env !== null && this.env.kernel_id === null;
  }

  /**
   * Follow another kernel (the current notebook's; null for none). Its
   * environment is read at once when the view is shown, else when it is next.
   */
  setKernel(kernel: IKernelRef | null): void {
    if (sameKernel(kernel, this._kernel)) {
      return;
    }
    const idChanged = (kernel?.id ?? null) !== (this._kernel?.id ?? null);
    this._kernel = kernel ? { ...kernel } : null;
    if (idChanged) {
      // Never show one kernel's packages under another kernel's name.
      this.env = null;
      this.error = null;
      this._indexed = null;
      this._filtered = null;
      this._loadedFor = undefined;
    }
    this.emit();
    if (idChanged && this._active) {
      void this.load();
    }
  }

  /** The view was shown (true) or hidden (false); shown and stale -> load. */
  setActive(active: boolean): void {
    this._active = active;
    if (active && this._loadedFor !== (this._kernel?.id ?? null)) {
      void this.load();
    }
  }

  /** Change the package filter (search text, requested only, source). */
  setFilter(change: Partial<IPackageFilter>): void {
    this._filter = { ...this._filter, ...change };
    this._filtered = null;
    this.emit();
  }

  /** Read the environment of the current kernel (or the server's). */
  async load(): Promise<void> {
    const generation = ++this._generation;
    const kernelId = this._kernel?.id ?? null;
    this.loading = true;
    this.emit();
    try {
      const env = await this._client.currentEnvironment(kernelId);
      if (generation !== this._generation || this.isDisposed) {
        return;
      }
      this.env = env;
      this.error = null;
      this._indexed = null;
      this._filtered = null;
      this._loadedFor = kernelId;
    } catch (reason) {
      if (generation === this._generation) {
        this.error = envError(reason);
        this._loadedFor = kernelId;
      }
    } finally {
      if (generation === this._generation) {
        this.loading = false;
        this.emit();
      }
    }
  }

  private _index(): IIndexedPackage[] {
    if (this._indexed === null || this._indexedFor !== this.env) {
      this._indexed = indexPackages(this.env?.packages ?? []);
      this._indexedFor = this.env;
    }
    return this._indexed;
  }

  private _client: IEnvClient;
  private _kernel: IKernelRef | null = null;
  private _filter: IPackageFilter = { query: '', requestedOnly: false };
  private _indexed: IIndexedPackage[] | null = null;
  private _indexedFor: ICurrentEnvironment | null = null;
  private _filtered: IEnvPackage[] | null = null;
  /** The kernel id `env`/`error` belong to; undefined before any answer. */
  private _loadedFor: string | null | undefined = undefined;
  private _active = false;
  private _generation = 0;
}

/** One cached answer: loading, loaded, or failed. */
export interface IRequestState<T> {
  status: 'loading' | 'ready' | 'error';
  value?: T;
  error?: ApiError;
}

/**
 * Answers of one kind of request, by key, kept for the session (a finished
 * run's environment does not change). Errors stay until `retry`, so a run
 * without a snapshot is not asked for again on every render.
 */
export class RequestCache<T> extends Model<string> {
  constructor(options: {
    fetch: (key: string) => Promise<T>;
    /** At most this many answers are kept; the oldest go first. */
    limit?: number;
  }) {
    super();
    this._fetch = options.fetch;
    this._limit = options.limit ?? 100;
  }

  get(key: string): IRequestState<T> | undefined {
    return this._entries.get(key);
  }

  /** Start loading `key` unless it is loaded, loading or failed. */
  request(key: string): void {
    if (!this._entries.has(key)) {
      void this._load(key);
    }
  }

  /** Load `key` again (after an error, or to refresh). */
  retry(key: string): Promise<void> {
    return this._load(key);
  }

  private async _load(key: string): Promise<void> {
    const token = {};
    this._tokens.set(key, token);
    this._set(key, { status: 'loading' });
    let state: IRequestState<T>;
    try {
      state = { status: 'ready', value: await this._fetch(key) };
    } catch (reason) {
      state = { status: 'error', error: envError(reason) };
    }
    if (this._tokens.get(key) === token && !this.isDisposed) {
      this._tokens.delete(key);
      this._set(key, state);
    }
  }

  private _set(key: string, state: IRequestState<T>): void {
    this._entries.delete(key);
    this._entries.set(key, state);
    while (this._entries.size > this._limit) {
      const oldest = this._entries.keys().next().value as string;
      this._entries.delete(oldest);
    }
    this.emit(key);
  }

  private _fetch: (key: string) => Promise<T>;
  private _limit: number;
  private _entries = new Map<string, IRequestState<T>>();
  private _tokens = new Map<string, object>();
}

/**
 * The cache key of the diff from run `a` to run `b`. With the runs'
 * environment hashes in it, a diff is read again once a run's environment is
 * recorded (it is logged in the background after the run starts) or replaced.
 */
export function diffKey(
  a: string,
  b: string,
  hashA?: string | null,
  hashB?: string | null
): string {
  return [a, b, hashA ?? '', hashB ?? ''].join('\n');
}

/** Environment diffs of run pairs and run snapshots, fetched once each. */
export class EnvCompareModel extends Model {
  constructor(options: { client: IEnvClient }) {
    super();
    this.client = options.client;
    this.diffs = new RequestCache<IEnvironmentDiff>({
      fetch: key => {
        const [a, b] = key.split('\n');
        return this.client.environmentDiff(a, b);
      }
    });
    this.snapshots = new RequestCache<IRunEnvironment>({
      fetch: runId => this.client.runEnvironment(runId),
      limit: 20
    });
  }

  readonly client: IEnvClient;
  readonly diffs: RequestCache<IEnvironmentDiff>;
  readonly snapshots: RequestCache<IRunEnvironment>;

  protected onDispose(): void {
    this.diffs.dispose();
    this.snapshots.dispose();
  }
}
