/**
 * The state of the Pipelines view and the requests that change it: the
 * pipelines under the server root, the run form of the selected one, the
 * recent launches, the launch being watched (kept current by a Lumino
 * `Poll` that stops once the launch is over; another reads the recent list
 * while one of its other launches runs), and the schedules
 * (`SchedulesModel`, when the client has the schedule routes).
 *
 * No DOM: the widgets render this model and call its methods; tests drive it
 * with a fake `IPipelinesClient`.
 */
import { Poll } from '@lumino/polling';

import type { ApiError } from '../api/client';
import { Model } from '../common/model';
import {
  formFields,
  type IFormField,
  type IFormState,
  initialForm
} from './form';
import { buildRunRequest } from './request';
import {
  type ILaunch,
  type IPipeline,
  type IPipelinesClient,
  isTerminal,
  pipelinesError
} from '../api/pipelines';
import {
  anyRunning,
  firingKeys,
  LAUNCH_POLL,
  LIST_POLL,
  MAX_LAUNCHES,
  upsertLaunch
} from './logic';
import { endPoll, type Frequency, pollAfter } from './polls';
import { SchedulesModel } from './schedulesModel';

export class PipelinesModel extends Model {
  constructor(options: {
    client: IPipelinesClient;
    /** The watched launch's poll. */
    poll?: Frequency;
    /** The recent list's poll (while another launch runs). */
    listPoll?: Frequency;
    /** The schedule list's poll. */
    schedulePoll?: Frequency;
  }) {
    super();
    this._client = options.client;
    this._pollFrequency = options.poll ?? LAUNCH_POLL;
    this._listFrequency = options.listPoll ?? LIST_POLL;
    const schedules = options.client.schedules;
    this.schedules = schedules
      ? new SchedulesModel({
          client: schedules,
          poll: options.schedulePoll,
          onLaunch: launch => this._launched(launch)
        })
      : null;
    this.schedules?.changed.connect(this._onSchedules, this);
  }

  /** The schedules; null when the client has no schedule routes. */
  readonly schedules: SchedulesModel | null;

  get client(): IPipelinesClient {
    return this._client;
  }

  pipelines: IPipeline[] = [];
  /** The server listed only the first pipelines it found. */
  truncated = false;
  loading = false;
  /** Set once the list was read (successfully or not). */
  loaded = false;
  /** The last error of the list requests. */
  error: ApiError | null = null;
  /** Problems of the form (client side), one per line. */
  formErrors: string[] = [];
  /** The server refused the run (its `errors` lines included). */
  runError: ApiError | null = null;
  launching = false;
  launches: ILaunch[] = [];
  /** The launch whose executions are shown. */
  watched: ILaunch | null = null;
  /** The last error reading the watched launch. */
  watchError: ApiError | null = null;
  /** Notes about the selected pipeline (the export's warnings). */
  notices: string[] = [];

  /** The selected pipeline's folder. */
  get selectedPath(): string | null {
    return this._selectedPath;
  }

  get selected(): IPipeline | null {
    return this.pipelines.find(p => p.path === this._selectedPath) ?? null;
  }

  /** The fields of the selected pipeline's form. */
  get fields(): readonly IFormField[] {
    return this._fields;
  }

  get form(): IFormState {
    return this._form;
  }

  protected onDispose(): void {
    this._poll = endPoll(this._poll);
    this._listPoll = endPoll(this._listPoll);
    this.schedules?.dispose();
  }

  /** Read the pipelines, the recent launches and the schedules. */
  async load(): Promise<void> {
    this.loading = true;
    this.emit();
    try {
      const [list, launches] = await Promise.all([
        this._client.pipelines(),
        this._client.launches().catch(() => null),
        this.schedules?.load()
      ]);
      this.pipelines = list.pipelines;
      this.truncated = list.truncated;
      if (launches) {
        this.launches = launches.slice(0, MAX_LAUNCHES);
        this._syncListPoll();
      }
      this.error = null;
      // Keep the selection (and what was typed) when the pipeline is still there.
      const selected = this.selected;
      if (this._selectedPath !== null && !selected) {
        this.select(null);
      }
    } catch (reason) {
      this.error = pipelinesError(reason);
    } finally {
      this.loading = false;
      this.loaded = true;
      this._onSchedules();
    }
  }

  /** Select a pipeline: its form, at its defaults. */
  select(path: string | null): void {
    this._selectedPath = path;
    const pipeline = this.selected;
    this._fields = pipeline ? formFields(pipeline) : [];
    this._form = initialForm(this._fields);
    this.formErrors = [];
    this.runError = null;
    this.notices = [];
    this.schedules?.setPipeline(pipeline);
    this.emit();
  }

  /** Show notes about the selected pipeline (e.g. the export's warnings). */
  setNotices(lines: readonly string[]): void {
    this.notices = [...lines];
    this.emit();
  }

  /** Set the value of a parameter (input text, or a checkbox state). */
  setValue(key: string, value: string | boolean): void {
    this._form = {
      ...this._form,
      values: { ...this._form.values, [key]: value }
    };
    this.emit();
  }

  /** Set the sweep of a parameter (comma-separated values; empty for none). */
  setSweep(key: string, text: string): void {
    this._form = {
      ...this._form,
      sweeps: { ...this._form.sweeps, [key]: text }
    };
    this.emit();
  }

  /** Set workers, executor, timeout, force, retries, retry on error or max cost. */
  setOptions(
    change: Partial<
      Pick<
        IFormState,
        | 'workers'
        | 'executor'
        | 'timeout'
        | 'force'
        | 'retries'
        | 'retryOnError'
        | 'maxCost'
      >
    >
  ): void {
    this._form = { ...this._form, ...change };
    this.emit();
  }

  /** Put every field back to its default. */
  resetForm(): void {
    this._form = initialForm(this._fields);
    this.formErrors = [];
    this.runError = null;
    this.emit();
  }

  /**
   * Launch the selected pipeline with the form's values and watch it. Form
   * problems (`formErrors`) and the server's refusal (`runError`) are shown,
   * and nothing runs. Resolves to the launch, or null.
   */
  async run(): Promise<ILaunch | null> {
    const path = this._selectedPath;
    if (path === null || this.launching) {
      return null;
    }
    const built = buildRunRequest(path, this._fields, this._form);
    if (!built.ok) {
      this.formErrors = built.errors;
      this.runError = null;
      this.emit();
      return null;
    }
    this.formErrors = [];
    this.runError = null;
    this.launching = true;
    this.emit();
    try {
      const launch = await this._client.launch(built.request);
      this._launched(launch);
      return launch;
    } catch (reason) {
      this.runError = pipelinesError(reason);
      return null;
    } finally {
      this.launching = false;
      this.emit();
    }
  }

  /** Show a launch's executions (from the recent list), and follow it while it runs. */
  async watch(id: string): Promise<void> {
    const known = this.launches.find(launch => launch.id === id);
    if (known) {
      this._watch(known);
    }
    await this.refreshWatched(id);
  }

  /** Stop showing a launch. */
  unwatch(): void {
    this._poll = endPoll(this._poll);
    this.watched = null;
    this.watchError = null;
    this.emit();
  }

  /**
   * Read the watched launch again (one poll tick). Rejects on failure so the
   * poll backs off; stops the poll once the launch is over.
   */
  async refreshWatched(
    id: string | null = this.watched?.id ?? null
  ): Promise<void> {
    if (id === null || this.isDisposed) {
      return;
    }
    let launch: ILaunch;
    try {
      launch = await this._client.getLaunch(id);
    } catch (reason) {
      if (this.watched?.id === id || this.watched === null) {
        this.watchError = pipelinesError(reason);
        this.emit();
      }
      throw reason;
    }
    if (this.isDisposed || (this.watched !== null && this.watched.id !== id)) {
      return;
    }
    this.watchError = null;
    this.launches = upsertLaunch(this.launches, launch);
    this._watch(launch);
    this.emit();
  }

  /** Cancel a launch that is still running. */
  async cancel(id: string): Promise<void> {
    try {
      const launch = await this._client.cancel(id);
      this.launches = upsertLaunch(this.launches, launch);
      if (this.watched?.id === id) {
        this._watch(launch);
      }
      this.watchError = null;
    } catch (reason) {
      this.watchError = pipelinesError(reason);
    }
    this.emit();
  }

  /** A launch this view started (a run, a schedule's "Run now"): listed and watched. */
  private _launched(launch: ILaunch): void {
    this.launches = upsertLaunch(this.launches, launch);
    this._watch(launch);
    this.emit();
  }

  /** Read the recent list again (one tick of its poll); rejects on failure. */
  async refreshList(): Promise<void> {
    const launches = await this._client.launches();
    if (this.isDisposed) {
      return;
    }
    let next = launches.slice(0, MAX_LAUNCHES);
    // The watched launch's own poll is fresher: keep its copy.
    if (this.watched && next.some(item => item.id === this.watched?.id)) {
      next = upsertLaunch(next, this.watched);
    }
    this.launches = next;
    this._syncListPoll();
    this.emit();
  }

  /** Poll the recent list while a launch other than the watched one runs. */
  private _syncListPoll(): void {
    const needed =
      !this.isDisposed && anyRunning(this.launches, this.watched?.id ?? null);
    if (!needed) {
      this._listPoll = endPoll(this._listPoll);
    } else if (!this._listPoll) {
      this._listPoll = pollAfter(
        'jupyter-mlops:pipeline-launches',
        () => this.refreshList(),
        this._listFrequency
      );
    }
  }

  /** A schedule fired since the list was read: read it again (its launch is new). */
  private _onSchedules(): void {
    const keys = firingKeys(this.schedules?.schedules ?? []);
    const fresh = keys.filter(key => !this._firings.has(key));
    keys.forEach(key => this._firings.add(key));
    // While loading, `load` reads the list itself.
    if (fresh.length && this.loaded && !this.loading) {
      void this.refreshList().catch(() => undefined);
    }
    this.emit();
  }

  /** Watch `launch`: poll while it is not over. */
  private _watch(launch: ILaunch): void {
    const same = this.watched?.id === launch.id;
    this.watched = launch;
    this._syncListPoll();
    if (isTerminal(launch.status)) {
      this._poll = endPoll(this._poll);
      return;
    }
    if (same && this._poll) {
      return;
    }
    endPoll(this._poll);
    const id = launch.id;
    this._poll = new Poll({
      auto: true,
      factory: () => this.refreshWatched(id),
      frequency: this._pollFrequency,
      name: 'jupyter-mlops:pipeline-launch',
      standby: 'when-hidden'
    });
  }

  private _client: IPipelinesClient;
  private _pollFrequency: Frequency;
  private _listFrequency: Frequency;
  private _poll: Poll | null = null;
  private _listPoll: Poll | null = null;
  /** The schedules' firings (`firingKeys`) seen so far. */
  private _firings = new Set<string>();
  private _selectedPath: string | null = null;
  private _fields: IFormField[] = [];
  private _form: IFormState = initialForm([]);
}
