/**
 * The actions on one run, in its details: rename, delete and restore
 * (MLflow's lifecycle), edit its tags, its Markdown note, the list of deleted
 * runs, and a link to the run in MLflow's UI when one is configured.
 *
 * Editing needs the `write` action on `mlops:runs`: users without it see the
 * note and the link, no edit controls (and the server refuses their edits
 * with a 403 anyway). The plugin hands the client, the renderers and what to
 * do after an edit to `configureRunActions` once; without that call the
 * component shows nothing. Run names, tags and notes are rendered as text
 * (the note as sanitized Markdown, `RunNote`).
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import React, { useEffect, useState } from 'react';

import type { IArtifactsClient } from '../api/artifacts';
import { type ApiError, toApiError } from '../api/client';
import type { IEditedRun, IRunEditClient, ITagEdit } from '../api/runEdit';
import type { IMlflowUi } from '../api/types';
import { mlflowRunLink } from '../artifacts/logic';
import { ErrorBox } from '../common/components';
import { RunNote } from './RunNote';
import {
  checkName,
  checkTag,
  isDeleted,
  runNote,
  tagEdit,
  userTags
} from './runEdit';

/** What the run actions need, given once by the plugin. */
export interface IRunActionsContext {
  client: IRunEditClient;
  /** The MLflow UI address (`GET /mlflow-ui`). */
  artifacts?: IArtifactsClient;
  rendermime?: IRenderMimeRegistry | null;
  /** Read the run again after an edit (its details and the runs list). */
  reload: (runId: string) => Promise<void>;
}

let context: IRunActionsContext | null = null;
let mlflowUi: Promise<IMlflowUi | null> | null = null;

/** Called once by the plugin: the run actions appear in every run's details. */
export function configureRunActions(value: IRunActionsContext | null): void {
  context = value;
  mlflowUi = null;
}

function useMlflowUi(): IMlflowUi | null {
  const [ui, setUi] = useState<IMlflowUi | null>(null);
  useEffect(() => {
    const artifacts = context?.artifacts;
    if (!artifacts) {
      return;
    }
    mlflowUi ??= artifacts.mlflowUi().catch(() => null);
    let live = true;
    void mlflowUi.then(value => live && setUi(value));
    return () => {
      live = false;
    };
  }, []);
  return ui;
}

function useCanEdit(client: IRunEditClient | undefined): boolean {
  const [canEdit, setCanEdit] = useState(false);
  useEffect(() => {
    let live = true;
    void client?.canEdit().then(value => live && setCanEdit(value));
    return () => {
      live = false;
    };
  }, [client]);
  return canEdit;
}

/** Rename, delete/restore, tags, note and the MLflow UI link of `run`. */
export function RunActions(props: { run: IEditedRun }): JSX.Element | null {
  const ctx = context;
  const { run } = props;
  const canEdit = useCanEdit(ctx?.client);
  const ui = useMlflowUi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [naming, setNaming] = useState<string | null>(null);
  const [trash, setTrash] = useState<IEditedRun[] | null>(null);
  useEffect(() => {
    setNaming(null);
    setError(null);
  }, [run.run_id]);
  if (!ctx) {
    return null;
  }
  const deleted = isDeleted(run);
  const editable = canEdit && !deleted;
  const link = ui ? mlflowRunLink(ui, run.experiment_id, run.run_id) : null;

  /** One request, then the run read again; `false` when it failed (shown). */
  const act = async (
    request: () => Promise<unknown>,
    runId = run.run_id
  ): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await request();
      await ctx.reload(runId);
      return true;
    } catch (reason) {
      setError(toApiError(reason));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const showTrash = async (): Promise<void> => {
    try {
      setTrash(await ctx.client.deletedRuns(run.experiment_id));
    } catch (reason) {
      setError(toApiError(reason));
    }
  };
  const nameError = naming === null ? null : checkName(naming);

  return (
    <div
      className="jp-mlops-run-actions"
      data-testid="mlops-run-actions"
      data-can-edit={canEdit ? 'true' : 'false'}
    >
      {deleted ? (
        <div className="jp-mlops-run-deleted" data-testid="mlops-run-deleted">
          This run is deleted: it is hidden from the runs list.
          {canEdit ? (
            <button
              className="jp-mlops-button"
              data-testid="mlops-run-restore"
              disabled={busy}
              onClick={() => void act(() => ctx.client.restoreRun(run.run_id))}
            >
              Restore
            </button>
          ) : null}
        </div>
      ) : null}
      <div className="jp-mlops-run-actions-bar">
        {editable && naming === null ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-run-rename"
            disabled={busy}
            onClick={() => setNaming(run.run_name)}
          >
            Rename
          </button>
        ) : null}
        {editable ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-run-delete"
            disabled={busy || run.status === 'RUNNING'}
            title={
              run.status === 'RUNNING'
                ? 'End the run first'
                : 'Delete the run (it can be restored)'
            }
            onClick={() => void act(() => ctx.client.deleteRun(run.run_id))}
          >
            Delete
          </button>
        ) : null}
        {canEdit ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-show-deleted"
            aria-pressed={trash !== null}
            onClick={() => (trash ? setTrash(null) : void showTrash())}
          >
            Deleted runs
          </button>
        ) : null}
        {link?.kind === 'link' ? (
          <a
            className="jp-mlops-link"
            data-testid="mlops-open-mlflow"
            href={link.href}
            target="_blank"
            rel="noopener noreferrer"
          >
            Open in MLflow UI
          </a>
        ) : null}
      </div>
      {naming !== null ? (
        <form
          className="jp-mlops-run-actions-bar"
          onSubmit={e => {
            e.preventDefault();
            if (!nameError) {
              void act(() => ctx.client.rename(run.run_id, naming)).then(
                ok => ok && setNaming(null)
              );
            }
          }}
        >
          <input
            className="jp-mlops-input"
            data-testid="mlops-rename-input"
            aria-label="New run name"
            value={naming}
            onChange={e => setNaming(e.target.value)}
          />
          <button
            type="submit"
            className="jp-mlops-button jp-mod-accept"
            data-testid="mlops-rename-save"
            disabled={busy || !!nameError}
          >
            Save
          </button>
          <button
            type="button"
            className="jp-mlops-button"
            onClick={() => setNaming(null)}
          >
            Cancel
          </button>
          {nameError ? (
            <span className="jp-mlops-action-error">{nameError}</span>
          ) : null}
        </form>
      ) : null}
      {error ? (
        <ErrorBox error={error} testId="mlops-run-action-error" />
      ) : null}
      {trash ? (
        <DeletedRuns
          runs={trash}
          busy={busy}
          onRestore={id =>
            void act(() => ctx.client.restoreRun(id), id).then(showTrash)
          }
        />
      ) : null}
      {editable ? (
        <TagEditor
          tags={run.tags}
          busy={busy}
          onEdit={edit => act(() => ctx.client.editTags(run.run_id, edit))}
        />
      ) : null}
      <RunNote
        note={runNote(run)}
        rendermime={ctx.rendermime ?? null}
        editable={editable}
        busy={busy}
        onSave={text => act(() => ctx.client.setNote(run.run_id, text))}
      />
    </div>
  );
}

/** The user's tags, each editable and removable, and a line to add one. */
function TagEditor(props: {
  tags: Readonly<Record<string, string>>;
  busy: boolean;
  onEdit: (edit: ITagEdit) => Promise<boolean>;
}): JSX.Element {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [previous, setPrevious] = useState<string | undefined>(undefined);
  const problem = key || value ? checkTag(key.trim(), value) : null;
  const clear = (): void => {
    setKey('');
    setValue('');
    setPrevious(undefined);
  };
  return (
    <div className="jp-mlops-tag-editor" data-testid="mlops-tag-editor">
      <ul className="jp-mlops-tag-list">
        {userTags(props.tags).map(([name, text]) => (
          <li key={name} data-testid="mlops-tag-item" data-key={name}>
            <span className="jp-mlops-tag-key">{name}</span>
            <span className="jp-mlops-tag-value" title={text}>
              {text}
            </span>
            <button
              className="jp-mlops-button"
              data-testid="mlops-tag-edit"
              disabled={props.busy}
              onClick={() => {
                setKey(name);
                setValue(text);
                setPrevious(name);
              }}
            >
              Edit
            </button>
            <button
              className="jp-mlops-button"
              data-testid="mlops-tag-remove"
              disabled={props.busy}
              onClick={() => void props.onEdit({ delete: [name] })}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        className="jp-mlops-run-actions-bar"
        onSubmit={e => {
          e.preventDefault();
          if (!problem && key.trim()) {
            void props
              .onEdit(tagEdit(key.trim(), value, previous))
              .then(ok => ok && clear());
          }
        }}
      >
        {(
          [
            ['key', 'Tag name', 'tag', key, setKey],
            ['value', 'Tag value', 'value', value, setValue]
          ] as const
        ).map(([field, label, placeholder, text, set]) => (
          <input
            key={field}
            className="jp-mlops-input"
            data-testid={`mlops-tag-${field}`}
            aria-label={label}
            placeholder={placeholder}
            value={text}
            onChange={e => set(e.target.value)}
          />
        ))}
        <button
          type="submit"
          className="jp-mlops-button"
          data-testid="mlops-tag-save"
          disabled={props.busy || !key.trim() || !!problem}
        >
          {previous ? 'Save tag' : 'Add tag'}
        </button>
        {problem ? (
          <span className="jp-mlops-action-error">{problem}</span>
        ) : null}
      </form>
    </div>
  );
}

/** Deleted runs of the experiment, each with Restore. */
function DeletedRuns(props: {
  runs: IEditedRun[];
  busy: boolean;
  onRestore: (runId: string) => void;
}): JSX.Element {
  if (!props.runs.length) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-deleted-runs">
        No deleted runs in this experiment.
      </div>
    );
  }
  return (
    <ul className="jp-mlops-deleted-runs" data-testid="mlops-deleted-runs">
      {props.runs.map(item => (
        <li key={item.run_id} data-run-id={item.run_id}>
          <span title={item.run_id}>{item.run_name || item.run_id}</span>
          <button
            className="jp-mlops-button"
            data-testid="mlops-deleted-restore"
            disabled={props.busy}
            onClick={() => props.onRestore(item.run_id)}
          >
            Restore
          </button>
        </li>
      ))}
    </ul>
  );
}
