/**
 * The Lumino `Poll`s of the Pipelines view: one started after a first read
 * (`pollAfter`), and their end (`endPoll`, which also clears the pending
 * timer that `dispose` alone leaves behind).
 */
import { Poll } from '@lumino/polling';

/** How often a poll ticks, in ms, backing off on errors up to `max`. */
export type Frequency = { interval: number; backoff: boolean; max: number };

/**
 * A poll of `factory` whose first tick comes one interval from now (the
 * caller has just read what it polls); it stands by while the tab is hidden.
 */
export function pollAfter(
  name: string,
  factory: () => Promise<void>,
  frequency: Frequency
): Poll {
  const poll = new Poll({
    auto: false,
    factory,
    frequency,
    name,
    standby: 'when-hidden'
  });
  void poll.schedule({ interval: frequency.interval, phase: 'started' });
  return poll;
}

/** Stop and dispose `poll` (its pending timer too); returns null for the field that held it. */
export function endPoll(poll: Poll | null): null {
  if (poll) {
    void poll.stop();
    poll.dispose();
  }
  return null;
}
