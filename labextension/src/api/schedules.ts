/**
 * Client of the schedule routes (`pipelines/schedules`, `api/openapi.yaml`):
 * list, add, read, pause, resume, run now and remove the cron schedules of
 * pipelines.
 *
 * Built on `HttpClient.request`. A 404 that is not one of our JSON errors
 * means the server extension predates schedules (`schedulesError`).
 */
import { HttpClient, routeMissing } from './client';
import type { ILaunch } from './pipelines';

/** A pipeline launched on a cron schedule by the server. */
export interface ISchedule {
  id: string;
  name: string;
  /** The pipeline folder (or notebook), relative to the server root. */
  path: string;
  /** Five-field cron expression, read in `timezone`. */
  cron: string;
  /** IANA time zone name (`Europe/Paris`, `UTC`). */
  timezone: string;
  /** `step.param` -> value. */
  parameters: Record<string, unknown>;
  /** Launches of this schedule that may run at once. */
  max_concurrent: number;
  /** Fire the firings missed while the server was down. */
  catch_up: boolean;
  paused: boolean;
  /** Epoch seconds. */
  created: number;
  /** The next firing, epoch seconds; null when paused or none. */
  next_fire: number | null;
  last_fire: number | null;
  /** The launch of the last firing. */
  last_run_id: string | null;
  last_status: string | null;
  /** Firings that did not launch (server down, too many running), epoch seconds. */
  missed: number[];
}

/** `POST pipelines/schedules` body. */
export interface IScheduleRequest {
  path: string;
  cron: string;
  timezone?: string;
  parameters?: Record<string, unknown>;
  max_concurrent?: number;
  name?: string;
  catch_up?: boolean;
}

/** `POST pipelines/schedules/{id}/run-now` answer. */
export interface IRunNowResult {
  schedule: ISchedule;
  launch: ILaunch;
}

/** An error of a schedule request, as the views should show it (`isRouteMissing`). */
export const schedulesError = routeMissing('pipeline schedule');

/** The client the schedule views need; `SchedulesClient` implements it over HTTP. */
export interface ISchedulesClient {
  list(): Promise<ISchedule[]>;
  get(id: string): Promise<ISchedule>;
  create(request: IScheduleRequest): Promise<ISchedule>;
  remove(id: string): Promise<void>;
  pause(id: string): Promise<ISchedule>;
  resume(id: string): Promise<ISchedule>;
  runNow(id: string): Promise<IRunNowResult>;
}

/** HTTP client of the schedule routes. */
export class SchedulesClient implements ISchedulesClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

  async list(): Promise<ISchedule[]> {
    const body = await this._call<{ schedules?: ISchedule[] }>('GET', []);
    return Array.isArray(body.schedules) ? body.schedules : [];
  }

  get(id: string): Promise<ISchedule> {
    return this._call<ISchedule>('GET', [id]);
  }

  create(request: IScheduleRequest): Promise<ISchedule> {
    return this._call<ISchedule>('POST', [], request);
  }

  async remove(id: string): Promise<void> {
    await this._call<void>('DELETE', [id]);
  }

  pause(id: string): Promise<ISchedule> {
    return this._call<ISchedule>('POST', [id, 'pause'], {});
  }

  resume(id: string): Promise<ISchedule> {
    return this._call<ISchedule>('POST', [id, 'resume'], {});
  }

  runNow(id: string): Promise<IRunNowResult> {
    return this._call<IRunNowResult>('POST', [id, 'run-now'], {});
  }

  private async _call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    segments: string[],
    body?: object
  ): Promise<T> {
    try {
      return await this.http.request<T>(
        ['pipelines', 'schedules', ...segments],
        {},
        { method, body }
      );
    } catch (reason) {
      throw schedulesError(reason);
    }
  }
}
