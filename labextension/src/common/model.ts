/**
 * What the panel's models share: `Model` (a `changed` signal and disposal)
 * and `Refresher`, a model's own Lumino `Poll` that ticks while someone
 * wants the model current (a view shows it, the status bar item) and the
 * browser tab is visible.
 */
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { type ISignal, Signal } from '@lumino/signaling';

/** State the widgets render: `changed` tells them to render again. */
export class Model<A = void> implements IDisposable {
  /** Emitted whenever anything the views show changes. */
  get changed(): ISignal<this, A> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.onDispose();
    Signal.clearData(this);
  }

  /** Release what the model holds (its polls); called once, by `dispose`. */
  protected onDispose(): void {
    // Nothing by default.
  }

  /** Tell the views (nothing once disposed). */
  protected emit(args: A): void {
    if (!this._isDisposed) {
      this._changed.emit(args);
    }
  }

  private _isDisposed = false;
  private _changed = new Signal<this, A>(this);
}

/** Poll frequency for a refresh interval in seconds: backs off on errors up to a minute or more. */
export function pollFrequency(refreshInterval: number): {
  interval: number;
  backoff: boolean;
  max: number;
} {
  const interval = refreshInterval * 1000;
  return { interval, backoff: true, max: Math.max(60_000, interval * 12) };
}

/**
 * A model's own `Poll`. It is built stopped; `start` starts it once. It
 * ticks while at least one viewer `want`s it, the browser tab is visible and
 * `available()` holds (the server has the routes); otherwise it stands by.
 */
export class Refresher implements IDisposable {
  constructor(options: {
    name: string;
    factory: () => Promise<void>;
    /** Seconds between ticks (the user's refresh interval). */
    refreshInterval?: number;
    available?: () => boolean;
  }) {
    const available = options.available ?? (() => true);
    this._poll = new Poll({
      auto: false,
      factory: options.factory,
      frequency: pollFrequency(options.refreshInterval ?? 5),
      name: options.name,
      standby: () =>
        available() && this._viewers.size > 0 ? 'when-hidden' : true
    });
  }

  /** Whether a viewer wants the model current. */
  get wanted(): boolean {
    return this._viewers.size > 0;
  }

  /** `viewer` (a view, the status bar item) shows the model (true) or not (false). */
  want(viewer: string, on: boolean): void {
    if (on) {
      this._viewers.add(viewer);
    } else {
      this._viewers.delete(viewer);
    }
  }

  get started(): boolean {
    return this._started;
  }

  /** Start polling (once). */
  start(): void {
    if (!this._started && !this.isDisposed) {
      this._started = true;
      void this._poll.start();
    }
  }

  /** Tick now (also wakes a poll in standby). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  /** Seconds between ticks (the user's refresh interval). */
  set refreshInterval(seconds: number) {
    this._poll.frequency = pollFrequency(seconds);
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  dispose(): void {
    this._poll.dispose();
  }

  private _poll: Poll;
  private _viewers = new Set<string>();
  private _started = false;
}
