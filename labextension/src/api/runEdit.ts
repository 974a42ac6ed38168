/**
 * Client of the run edit routes (`api/openapi.yaml`): `runs/{id}/rename`,
 * `runs/{id}/tags`, `runs/{id}/note`, `runs/{id}/delete`, `runs/{id}/restore`
 * and `deleted-runs`, and whether the signed-in user may edit runs at all
 * (Jupyter's `GET /api/me?permissions=...`, the `write` action on `mlops:runs`).
 *
 * Every edit answers the run after it (`IRunSummary` with `lifecycle_stage`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { HttpClient } from './client';
import type { IRunSummary } from './types';

/** MLflow's lifecycle of a run: a deleted run is hidden from the list until restored. */
export type LifecycleStage = 'active' | 'deleted';

/** A run as the edit routes answer it. */
export type IEditedRun = IRunSummary & { lifecycle_stage?: LifecycleStage };

/** `POST runs/{id}/tags` body: tags to set and names to remove, in one edit. */
export interface ITagEdit {
  set?: Record<string, string>;
  delete?: string[];
}

/** The resource and action the edit routes are authorized on. */
export const EDIT_PERMISSION = { 'mlops:runs': ['write'] } as const;

/** The client the run actions need; `RunEditClient` implements it over HTTP. */
export interface IRunEditClient {
  /** Whether the user may edit runs (false when the server says no, or cannot say). */
  canEdit(): Promise<boolean>;
  rename(runId: string, name: string): Promise<IEditedRun>;
  editTags(runId: string, edit: ITagEdit): Promise<IEditedRun>;
  setNote(runId: string, note: string): Promise<IEditedRun>;
  deleteRun(runId: string): Promise<IEditedRun>;
  restoreRun(runId: string): Promise<IEditedRun>;
  deletedRuns(experimentId?: string): Promise<IEditedRun[]>;
}

/** HTTP client of the run edit routes. */
export class RunEditClient implements IRunEditClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

  /** Asked once: Jupyter answers with the actions the user has on `mlops:runs`. */
  canEdit(): Promise<boolean> {
    this._canEdit ??= this._askPermission();
    return this._canEdit;
  }

  rename(runId: string, name: string): Promise<IEditedRun> {
    return this._post(runId, 'rename', { name });
  }

  editTags(runId: string, edit: ITagEdit): Promise<IEditedRun> {
    return this._post(runId, 'tags', edit);
  }

  setNote(runId: string, note: string): Promise<IEditedRun> {
    return this._post(runId, 'note', { note });
  }

  deleteRun(runId: string): Promise<IEditedRun> {
    return this._post(runId, 'delete', {});
  }

  restoreRun(runId: string): Promise<IEditedRun> {
    return this._post(runId, 'restore', {});
  }

  async deletedRuns(experimentId?: string): Promise<IEditedRun[]> {
    const body = await this.http.request<{ runs?: IEditedRun[] }>(
      ['deleted-runs'],
      { experiment_id: experimentId }
    );
    return Array.isArray(body.runs) ? body.runs : [];
  }

  private _post(
    runId: string,
    action: string,
    body: object
  ): Promise<IEditedRun> {
    return this.http.request<IEditedRun>(
      ['runs', runId, action],
      {},
      { method: 'POST', body }
    );
  }

  private async _askPermission(): Promise<boolean> {
    const settings = this.http.serverSettings;
    const url =
      URLExt.join(settings.baseUrl, 'api/me') +
      `?permissions=${encodeURIComponent(JSON.stringify(EDIT_PERMISSION))}`;
    try {
      const response = await ServerConnection.makeRequest(
        url,
        { method: 'GET', cache: 'no-cache' },
        settings
      );
      if (!response.ok) {
        return false;
      }
      return canWrite(await response.json());
    } catch {
      return false;
    }
  }

  private _canEdit: Promise<boolean> | null = null;
}

/** Whether an `/api/me` answer grants `write` on `mlops:runs`. */
export function canWrite(body: unknown): boolean {
  const permissions = (body as { permissions?: Record<string, unknown> })
    ?.permissions;
  const actions = permissions?.['mlops:runs'];
  return Array.isArray(actions) && actions.includes('write');
}
