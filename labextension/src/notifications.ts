/**
 * Toasts in JupyterLab's notification centre for the server's events (idle
 * policy warnings and actions, budget thresholds, pipeline and schedule runs
 * that ended badly), shown whether or not the MLOps panel is open.
 *
 * `EventToasts` polls `GET events?after=<seq>` from plugin activation: its
 * first read only learns the newest seq (a page load does not replay old
 * events), later reads show what came after. The poll backs off while the
 * server does not answer and stands by while the page is hidden (the server
 * keeps the last 500 events meanwhile).
 *
 * `toastOf` is the mapping of an event to a toast (type, text, actions);
 * `EventToasts` emits them through a `Notification`-shaped object (index.ts
 * passes `Notification` from @jupyterlab/apputils), so the mapping and the
 * polling are tested without a browser. Text is passed as text: JupyterLab
 * renders a toast's message as text, never as HTML.
 *
 * Actions: "Keep alive 2 h" on idle-policy warnings (`POST cost/keep-alive`,
 * then a confirmation toast), "Open run" when the event names an MLflow run.
 * A later event about the same kernel (action taken, activity back) replaces
 * or dismisses its warning.
 */
import { Poll } from '@lumino/polling';

import { toApiError } from './api/client';
import type { IEventsClient, IMlopsEvent } from './api/events';
import { clockTime } from './common/format';

/** How long the "Keep alive" action keeps a kernel from the idle policy. */
export const KEEP_ALIVE_MINUTES = 120;
/** Longest toast text (JupyterLab shows 140 characters of a toast). */
export const MAX_MESSAGE = 140;

export type ToastType = 'info' | 'success' | 'warning' | 'error';
export type ToastAction = 'keep-alive' | 'open-run';

/** What to show for one event. */
export interface IToast {
  type: ToastType;
  message: string;
  actions: ToastAction[];
  /** Milliseconds, or false: stays until dismissed. */
  autoClose: number | false;
  /** What the toast is about (`kernel:<id>`, `launch:<id>`, `budget:<project>`): one toast each. */
  subject: string;
  kernelId: string;
  runId: string;
  notebook: string;
}

/** The labels of the toast actions. */
export const ACTION_LABELS: Record<ToastAction, string> = {
  'keep-alive': 'Keep alive 2 h',
  'open-run': 'Open run'
};

const IDLE_TYPES: Record<string, ToastType> = {
  warning: 'warning',
  'would-act': 'info',
  acted: 'warning'
};

const PIPELINE_TYPES: Record<string, ToastType> = {
  FAILED: 'error',
  KILLED: 'warning',
  FINISHED: 'success'
};

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function cut(message: string): string {
  return message.length > MAX_MESSAGE
    ? `${message.slice(0, MAX_MESSAGE - 1)}…`
    : message;
}

/** The subject an event is about: its toasts replace one another. */
export function subjectOf(event: IMlopsEvent): string {
  switch (event.kind) {
    case 'idle-policy':
      return `kernel:${text(event.kernel_id)}`;
    case 'pipeline':
      return `launch:${text(event.launch_id)}`;
    case 'budget':
      return `budget:${text(event.project)}`;
    default:
      return `${event.kind}:${event.seq}`;
  }
}

/** True for an event that takes its subject's toast away (idle-policy `cleared`). */
export function clearsToast(event: IMlopsEvent): boolean {
  return event.kind === 'idle-policy' && event.state === 'cleared';
}

/**
 * The toast of `event`; null for events that are not toasted (`idle-gpu`,
 * `cleared`). The notebook's folders are left out of the text (JupyterLab
 * shows 140 characters of a toast: the end of the sentence matters more).
 */
export function toastOf(event: IMlopsEvent): IToast | null {
  const runId = text(event.run_id);
  const path = text(event.notebook);
  const notebook = path.split('/').pop() ?? path;
  const message = text(event.message);
  const base = {
    message: cut(path ? message.split(path).join(notebook) : message),
    subject: subjectOf(event),
    kernelId: text(event.kernel_id),
    runId,
    notebook
  };
  const openRun: ToastAction[] = runId ? ['open-run'] : [];
  const type = IDLE_TYPES[event.state];
  if (event.kind === 'idle-policy' && type) {
    // Acted: too late to keep it alive.
    const keepAlive: ToastAction[] =
      event.state === 'acted' ? [] : ['keep-alive'];
    return {
      ...base,
      type,
      actions: [...keepAlive, ...openRun],
      autoClose: false
    };
  }
  if (event.kind === 'budget' && event.state === 'fired') {
    const reached = typeof event.threshold === 'number' && event.threshold >= 1;
    return {
      ...base,
      type: reached ? 'error' : 'warning',
      actions: [],
      autoClose: false
    };
  }
  if (event.kind === 'pipeline' && event.state in PIPELINE_TYPES) {
    const type = PIPELINE_TYPES[event.state];
    return {
      ...base,
      type,
      actions: openRun,
      autoClose: type === 'success' ? 8000 : false
    };
  }
  return null;
}

/** The part of JupyterLab's `Notification` the toasts use. */
export interface INotificationApi {
  emit(
    message: string,
    type: ToastType,
    options: {
      autoClose: number | false;
      actions?: { label: string; caption?: string; callback: () => void }[];
    }
  ): string;
  dismiss(id?: string): void;
}

export interface IEventToastsOptions {
  client: IEventsClient;
  notifications: INotificationApi;
  /** Show an MLflow run (the panel's Runs view). */
  openRun: (runId: string) => void;
  /** Milliseconds between reads of the feed (backs off to 12x on errors). */
  interval?: number;
}

/** Polls the event feed and shows each new event as a toast. */
export class EventToasts {
  constructor(options: IEventToastsOptions) {
    this._client = options.client;
    this._notifications = options.notifications;
    this._openRun = options.openRun;
    const interval = options.interval ?? 5000;
    this.poll = new Poll({
      auto: false,
      factory: () => this.read(),
      frequency: { interval, backoff: true, max: interval * 12 },
      name: 'jupyter-mlops:events',
      standby: 'when-hidden'
    });
  }

  /** The feed's poll; `start()` it once. */
  readonly poll: Poll;

  /** One read of the feed: the first learns where to start, later ones show events. */
  async read(): Promise<void> {
    const feed = await this._client.events(this._after);
    if (this._after !== null) {
      feed.events.forEach(event => this.show(event));
    }
    this._after = feed.seq;
  }

  /** Show (or clear) the toast of one event. */
  show(event: IMlopsEvent): void {
    const subject = subjectOf(event);
    if (clearsToast(event)) {
      this._dismiss(subject);
      return;
    }
    const toast = toastOf(event);
    if (!toast) {
      return;
    }
    this._dismiss(subject);
    const id = this._notifications.emit(toast.message, toast.type, {
      autoClose: toast.autoClose,
      actions: toast.actions.map(action => ({
        label: ACTION_LABELS[action],
        callback: () => {
          this._toasts.delete(subject);
          void this.act(action, toast);
        }
      }))
    });
    this._toasts.set(subject, id);
  }

  /** Run one toast action. */
  async act(action: ToastAction, toast: IToast): Promise<void> {
    if (action === 'open-run') {
      this._openRun(toast.runId);
      return;
    }
    const what = toast.notebook || `kernel ${toast.kernelId.slice(0, 8)}`;
    try {
      const kept = await this._client.keepAlive(
        toast.kernelId,
        KEEP_ALIVE_MINUTES
      );
      this._notifications.emit(
        `Kept alive until ${clockTime(kept.until)}: the idle policy leaves ${what} alone until then.`,
        'success',
        { autoClose: 8000 }
      );
    } catch (reason) {
      const error = toApiError(reason);
      this._notifications.emit(
        cut(
          `Could not keep ${what} alive: ${error.message}${error.hint ? ` (${error.hint})` : ''}`
        ),
        'error',
        { autoClose: false }
      );
    }
  }

  dispose(): void {
    this.poll.dispose();
  }

  private _dismiss(subject: string): void {
    const id = this._toasts.get(subject);
    if (id !== undefined) {
      this._notifications.dismiss(id);
      this._toasts.delete(subject);
    }
  }

  private readonly _client: IEventsClient;
  private readonly _notifications: INotificationApi;
  private readonly _openRun: (runId: string) => void;
  private _after: number | null = null;
  private readonly _toasts = new Map<string, string>();
}
