/**
 * Client of the event feed (`GET events?after=<seq>`, `api/openapi.yaml`)
 * and of the idle policy's keep-alive (`POST cost/keep-alive`): what the
 * notification toasts read and their "Keep alive 2 h" action calls.
 *
 * Built on `HttpClient.request` (same URL building, auth and error parsing).
 */
import type { HttpClient } from './client';

/** One event of the feed (contract: `Event` in openapi.yaml, docs/notifications.md). */
export interface IMlopsEvent {
  seq: number;
  /** Epoch seconds. */
  time: number;
  /** `idle-policy`, `budget`, `pipeline` or `idle-gpu`. */
  kind: string;
  state: string;
  /** One plain-text sentence. */
  message: string;
  kernel_id?: string;
  notebook?: string;
  run_id?: string;
  launch_id?: string;
  name?: string;
  path?: string;
  project?: string;
  action?: string;
  resource?: string;
  threshold?: number | null;
  /** Epoch seconds of the announced action (idle-policy warnings). */
  act_at?: number;
  [field: string]: unknown;
}

/** `GET events`: the newest seq and the events after the one asked for. */
export interface IEventFeed {
  seq: number;
  events: IMlopsEvent[];
}

/** `POST cost/keep-alive`: the kernel is left alone until `until` (epoch seconds). */
export interface IKeepAlive {
  kernel_id: string;
  until: number;
}

export interface IEventsClient {
  /** Events after `after`; `null`: none, only the newest seq (where to start). */
  events(after: number | null): Promise<IEventFeed>;
  /** Keep `kernelId` out of the idle policy's reach for `minutes`. */
  keepAlive(kernelId: string, minutes: number): Promise<IKeepAlive>;
}

export class EventsClient implements IEventsClient {
  constructor(private readonly http: HttpClient) {}

  events(after: number | null): Promise<IEventFeed> {
    return this.http.request<IEventFeed>(
      ['events'],
      after === null ? {} : { after }
    );
  }

  keepAlive(kernelId: string, minutes: number): Promise<IKeepAlive> {
    return this.http.request<IKeepAlive>(
      ['cost', 'keep-alive'],
      {},
      { method: 'POST', body: { kernel_id: kernelId, minutes } }
    );
  }
}
