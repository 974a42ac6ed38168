/**
 * The state of the Pipelines view's schedules and the requests that change
 * them: the list (kept current by a slow Lumino `Poll` while the view has
 * been shown), pause, resume, run now, remove, and the "Add schedule" form
 * of the selected pipeline.
 *
 * A refused change keeps the list: a 403 (read-only user) says so in words
 * (`READ_ONLY_MESSAGE`); a bad cron or time zone goes next to its input.
 * No DOM; tests drive it with a fake `ISchedulesClient`.
 */
import type { Poll } from '@lumino/polling';

import type { ApiError } from '../api/client';
import type { ILaunch, IPipeline } from '../api/pipelines';
import {
  type ISchedule,
  type ISchedulesClient,
  schedulesError
} from '../api/schedules';
import { Model } from '../common/model';
import { formFields, type IFormField } from './form';
import { endPoll, type Frequency, pollAfter } from './polls';
import {
  buildScheduleRequest,
  errorField,
  initialScheduleForm,
  type IScheduleErrors,
  type IScheduleForm,
  isForbidden,
  sortSchedules,
  upsertSchedule
} from './schedules';

/** How often the schedule list is read while shown, in ms (backs off on errors). */
export const SCHEDULE_POLL = { interval: 30_000, backoff: true, max: 300_000 };

const NO_ERRORS: IScheduleErrors = { fields: {}, general: [] };

/** A server error as its input shows it: the message, its lines, the hint. */
function fieldMessage(error: ApiError): string {
  const text = [error.message, ...error.errors].join(' ');
  return error.hint ? `${text} \u2014 ${error.hint}` : text;
}

export class SchedulesModel extends Model {
  constructor(options: {
    client: ISchedulesClient;
    /** A launch started by "Run now": the view watches it. */
    onLaunch?: (launch: ILaunch) => void;
    poll?: Frequency;
  }) {
    super();
    this._client = options.client;
    this._onLaunch = options.onLaunch ?? null;
    this._pollFrequency = options.poll ?? SCHEDULE_POLL;
  }

  schedules: ISchedule[] = [];
  loaded = false;
  /** The last error reading the list. */
  error: ApiError | null = null;
  /** The last refused change (pause, resume, run now, remove), and of which schedule. */
  actionError: { id: string; error: ApiError } | null = null;
  /** A change was refused with 403: the user may only read. */
  readOnly = false;
  /** Ids of schedules with a change in flight. */
  busy = new Set<string>();
  /** Whether the "Add schedule" form is shown. */
  formOpen = false;
  /** Problems with the form, client side or from the server. */
  formErrors: IScheduleErrors = NO_ERRORS;
  /** The server's refusal of the form that names no input. */
  submitError: ApiError | null = null;
  submitting = false;

  /** The pipeline the form schedules. */
  get pipeline(): IPipeline | null {
    return this._pipeline;
  }

  /** The parameter fields of the form (the run form's). */
  get fields(): readonly IFormField[] {
    return this._fields;
  }

  get form(): IScheduleForm {
    return this._form;
  }

  protected onDispose(): void {
    this._poll = endPoll(this._poll);
  }

  /** Read the list; the first call also starts the slow poll. Never rejects. */
  async load(): Promise<void> {
    await this._read().catch(() => undefined);
    if (!this._poll && !this.isDisposed) {
      this._poll = pollAfter(
        'jupyter-mlops:pipeline-schedules',
        () => this._read(),
        this._pollFrequency
      );
    }
  }

  /** The pipeline the "Add schedule" form is for (the selected one); resets the form. */
  setPipeline(pipeline: IPipeline | null): void {
    if (pipeline?.path === this._pipeline?.path) {
      return;
    }
    this._pipeline = pipeline;
    this._fields = pipeline ? formFields(pipeline) : [];
    this._form = initialScheduleForm(this._fields);
    this.formOpen = false;
    this._clearFormErrors();
    this.emit();
  }

  /** Show or hide the "Add schedule" form. */
  openForm(open: boolean): void {
    this.formOpen = open && this._pipeline !== null;
    if (!open) {
      this._form = initialScheduleForm(this._fields);
      this._clearFormErrors();
    }
    this.emit();
  }

  /** Change what the form holds (name, cron, time zone, max concurrent, catch up). */
  setForm(change: Partial<Omit<IScheduleForm, 'values'>>): void {
    this._form = { ...this._form, ...change };
    this.emit();
  }

  /** Set a parameter of the form (input text, or a checkbox state). */
  setValue(key: string, value: string | boolean): void {
    this._form = {
      ...this._form,
      values: { ...this._form.values, [key]: value }
    };
    this.emit();
  }

  /**
   * Add a schedule of the selected pipeline from the form. Problems are
   * shown (next to their input where they name one) and nothing is sent or
   * stored. Resolves to the new schedule, or null.
   */
  async add(): Promise<ISchedule | null> {
    const pipeline = this._pipeline;
    if (!pipeline || this.submitting) {
      return null;
    }
    const built = buildScheduleRequest(pipeline.path, this._fields, this._form);
    if (!built.ok) {
      this.formErrors = built.errors;
      this.submitError = null;
      this.emit();
      return null;
    }
    this._clearFormErrors();
    this.submitting = true;
    this.emit();
    try {
      const schedule = await this._client.create(built.request);
      this.schedules = upsertSchedule(this.schedules, schedule);
      this.formOpen = false;
      this._form = initialScheduleForm(this._fields);
      return schedule;
    } catch (reason) {
      const error = schedulesError(reason);
      const field = isForbidden(error) ? null : errorField(error);
      this.readOnly = this.readOnly || isForbidden(error);
      if (field) {
        this.formErrors = {
          fields: { [field]: fieldMessage(error) },
          general: []
        };
      } else {
        this.submitError = error;
      }
      return null;
    } finally {
      this.submitting = false;
      this.emit();
    }
  }

  pause(id: string): Promise<void> {
    return this._change(id, () => this._client.pause(id));
  }

  resume(id: string): Promise<void> {
    return this._change(id, () => this._client.resume(id));
  }

  /** Fire a schedule now; its launch goes to `onLaunch`. */
  runNow(id: string): Promise<void> {
    return this._change(id, async () => {
      const result = await this._client.runNow(id);
      this._onLaunch?.(result.launch);
      return result.schedule;
    });
  }

  /** Remove a schedule (the view asks first). */
  remove(id: string): Promise<void> {
    return this._change(id, async () => {
      await this._client.remove(id);
      this.schedules = this.schedules.filter(item => item.id !== id);
      return null;
    });
  }

  /** One change of one schedule: busy while in flight, its answer put in the list. */
  private async _change(
    id: string,
    request: () => Promise<ISchedule | null>
  ): Promise<void> {
    if (this.busy.has(id)) {
      return;
    }
    this.busy = new Set(this.busy).add(id);
    this.actionError = null;
    this.emit();
    try {
      const schedule = await request();
      if (schedule) {
        this.schedules = upsertSchedule(this.schedules, schedule);
      }
    } catch (reason) {
      const error = schedulesError(reason);
      this.readOnly = this.readOnly || isForbidden(error);
      this.actionError = { id, error };
    } finally {
      const busy = new Set(this.busy);
      busy.delete(id);
      this.busy = busy;
      this.emit();
    }
  }

  /** Read the list (one poll tick); rejects on failure so the poll backs off. */
  private async _read(): Promise<void> {
    try {
      this.schedules = sortSchedules(await this._client.list());
      this.error = null;
    } catch (reason) {
      this.error = schedulesError(reason);
      throw reason;
    } finally {
      this.loaded = true;
      this.emit();
    }
  }

  private _clearFormErrors(): void {
    this.formErrors = NO_ERRORS;
    this.submitError = null;
  }

  private _client: ISchedulesClient;
  private _onLaunch: ((launch: ILaunch) => void) | null;
  private _pollFrequency: Frequency;
  private _poll: Poll | null = null;
  private _pipeline: IPipeline | null = null;
  private _fields: IFormField[] = [];
  private _form: IScheduleForm = initialScheduleForm([]);
}
