/**
 * The Artifacts section of a run's details: the folder tree with sizes, a
 * preview of the selected file, the run's MLflow models, downloads, and the
 * way to the run in MLflow's UI.
 *
 * Everything from the run is rendered as text. Images load from the raw route
 * into an `<img>`; HTML reports and SVG only ever appear in an
 * `<iframe sandbox="">` (no scripts, opaque origin) whose response also
 * carries `Content-Security-Policy: sandbox`.
 */
import React, { useEffect, useMemo, useState } from 'react';

import { formatFileSize } from '../common/format';
import {
  columnsText,
  FRAME_SANDBOX,
  mlflowRunLink,
  previewMode
} from './logic';
import { ArtifactsModel } from './model';
import { ArtifactsClient, type IArtifactsClient } from '../api/artifacts';
import type { IMlModel, IMlflowUi, IRunSummary } from '../api/types';
import { ErrorBox, Section } from '../common/components';
import { useSignal } from '../common/hooks';

let defaultClient: IArtifactsClient | null = null;

function sharedClient(): IArtifactsClient {
  defaultClient = defaultClient ?? new ArtifactsClient();
  return defaultClient;
}

/** The Artifacts section of one run. */
export function ArtifactsSection(props: {
  run: IRunSummary;
  client?: IArtifactsClient;
}): JSX.Element {
  const client = props.client ?? sharedClient();
  const { run_id: runId, experiment_id: experimentId } = props.run;
  const model = useMemo(
    () => new ArtifactsModel(client, runId),
    [client, runId]
  );
  useSignal(model.changed);
  useEffect(() => {
    void model.start();
  }, [model]);
  const root = model.root;
  const rows = model.rows();
  const count = root?.listing
    ? root.listing.entries.length + root.listing.models.length
    : undefined;
  return (
    <Section title="Artifacts" count={count}>
      <div className="jp-mlops-artifacts" data-testid="mlops-artifacts">
        <MlflowUiLine
          client={client}
          experimentId={experimentId}
          runId={runId}
        />
        {root?.error ? (
          <ErrorBox error={root.error} testId="mlops-artifacts-error" />
        ) : null}
        {root?.loading ? (
          <div className="jp-mlops-muted">Loading artifacts{'\u2026'}</div>
        ) : null}
        {root?.listing && !rows.length && !root.listing.models.length ? (
          <div className="jp-mlops-muted" data-testid="mlops-artifacts-empty">
            This run has no artifacts.
          </div>
        ) : null}
        {rows.length ? (
          <ul
            className="jp-mlops-artifact-tree"
            data-testid="mlops-artifact-tree"
            role="tree"
          >
            {rows.map(({ entry, depth, expanded }) => {
              const folder = entry.is_dir
                ? model.folder(entry.path)
                : undefined;
              const selected = model.selected?.entry.path === entry.path;
              return (
                <li
                  key={entry.path}
                  role="treeitem"
                  aria-expanded={entry.is_dir ? expanded : undefined}
                  aria-selected={selected}
                  data-path={entry.path}
                  data-kind={entry.kind}
                  className={`jp-mlops-artifact-row${selected ? ' jp-mod-selected' : ''}`}
                  style={{ paddingLeft: `${4 + depth * 14}px` }}
                >
                  <button
                    className="jp-mlops-artifact-name"
                    title={entry.path}
                    data-testid="mlops-artifact-entry"
                    onClick={() => void model.select(entry)}
                  >
                    <span className="jp-mlops-artifact-icon" aria-hidden="true">
                      {entry.is_dir
                        ? expanded
                          ? '\u25BE'
                          : '\u25B8'
                        : '\u00B7'}
                    </span>
                    {entry.name}
                    {entry.is_model ? (
                      <span className="jp-mlops-artifact-badge">model</span>
                    ) : null}
                  </button>
                  <span className="jp-mlops-artifact-size jp-mlops-muted">
                    {entry.is_dir
                      ? folder?.loading
                        ? '\u2026'
                        : ''
                      : formatFileSize(entry.size)}
                  </span>
                  {!entry.is_dir ? (
                    <a
                      className="jp-mlops-link jp-mlops-artifact-download"
                      href={model.rawUrl(entry.path, { download: true })}
                      download={entry.name}
                      title={`Download ${entry.path}`}
                      data-testid="mlops-artifact-download"
                    >
                      download
                    </a>
                  ) : null}
                  {folder?.error ? (
                    <div className="jp-mlops-error">{folder.error.message}</div>
                  ) : null}
                </li>
              );
            })}
          </ul>
        ) : null}
        {rows
          .filter(row => row.entry.is_dir && row.expanded)
          .map(row => {
            const found = model.folder(row.entry.path)?.listing?.model;
            return found ? (
              <ModelCard
                key={row.entry.path}
                title={row.entry.path}
                model={found}
              />
            ) : null;
          })}
        {root?.listing?.models.map(logged => (
          <div key={logged.model_id} data-testid="mlops-logged-model">
            {logged.model ? (
              <ModelCard
                title={`${logged.name} (${logged.uri})`}
                model={logged.model}
              />
            ) : (
              <div className="jp-mlops-muted">
                {logged.name} ({logged.uri}): {logged.error}
              </div>
            )}
          </div>
        ))}
        <ArtifactPreview model={model} />
      </div>
    </Section>
  );
}

/** The link to the run in MLflow's UI, or the command that starts one on this store. */
function MlflowUiLine(props: {
  client: IArtifactsClient;
  experimentId: string;
  runId: string;
}): JSX.Element | null {
  const [ui, setUi] = useState<IMlflowUi | null>(null);
  useEffect(() => {
    let live = true;
    props.client.mlflowUi().then(
      value => live && setUi(value),
      () => live && setUi(null)
    );
    return () => {
      live = false;
    };
  }, [props.client]);
  if (!ui) {
    return null;
  }
  const link = mlflowRunLink(ui, props.experimentId, props.runId);
  return (
    <div className="jp-mlops-artifacts-mlflow" data-testid="mlops-mlflow-ui">
      {link.kind === 'link' ? (
        <a
          className="jp-mlops-link"
          href={link.href}
          target="_blank"
          rel="noopener noreferrer"
        >
          Open in MLflow UI
        </a>
      ) : (
        <>
          <span className="jp-mlops-muted">MLflow UI: </span>
          <code className="jp-mlops-mono" title="Run this in a terminal">
            {link.command}
          </code>
        </>
      )}
    </div>
  );
}

/** Flavours and signature of an MLflow model. */
function ModelCard(props: { title: string; model: IMlModel }): JSX.Element {
  const { model } = props;
  return (
    <div className="jp-mlops-model-card" data-testid="mlops-model-card">
      <div className="jp-mlops-model-title" title={props.title}>
        Model {props.title}
      </div>
      <dl className="jp-mlops-meta">
        <dt>Flavours</dt>
        <dd data-testid="mlops-model-flavors">
          {model.flavors.map(f => f.name).join(', ') || '-'}
        </dd>
        {model.signature ? (
          <>
            <dt>Inputs</dt>
            <dd className="jp-mlops-mono">
              {columnsText(model.signature.inputs)}
            </dd>
            <dt>Outputs</dt>
            <dd className="jp-mlops-mono">
              {columnsText(model.signature.outputs)}
            </dd>
            {model.signature.params.length ? (
              <>
                <dt>Params</dt>
                <dd className="jp-mlops-mono">
                  {columnsText(model.signature.params)}
                </dd>
              </>
            ) : null}
          </>
        ) : (
          <>
            <dt>Signature</dt>
            <dd className="jp-mlops-muted">none</dd>
          </>
        )}
      </dl>
    </div>
  );
}

/** The selected file: an image, a sandboxed frame, text, a model, or just its size. */
function ArtifactPreview({
  model
}: {
  model: ArtifactsModel;
}): JSX.Element | null {
  const selected = model.selected;
  if (!selected) {
    return null;
  }
  const { entry, preview } = selected;
  const mode = previewMode(preview?.kind ?? entry.kind);
  return (
    <div
      className="jp-mlops-artifact-preview"
      data-testid="mlops-artifact-preview"
      data-path={entry.path}
    >
      <div className="jp-mlops-artifact-preview-title">
        <span title={entry.path}>{entry.path}</span>
        <span className="jp-mlops-muted"> {formatFileSize(entry.size)}</span>
      </div>
      {selected.error ? (
        <ErrorBox
          error={selected.error}
          testId="mlops-artifact-preview-error"
        />
      ) : null}
      {mode === 'image' ? (
        <img
          className="jp-mlops-artifact-image"
          data-testid="mlops-artifact-image"
          src={model.rawUrl(entry.path)}
          alt={entry.name}
        />
      ) : null}
      {mode === 'frame' ? (
        <iframe
          className="jp-mlops-artifact-frame"
          data-testid="mlops-artifact-frame"
          sandbox={FRAME_SANDBOX}
          referrerPolicy="no-referrer"
          src={model.rawUrl(entry.path, { preview: true })}
          title={entry.name}
        />
      ) : null}
      {selected.loading ? (
        <div className="jp-mlops-muted">Loading{'\u2026'}</div>
      ) : null}
      {preview?.model ? (
        <ModelCard title={entry.path} model={preview.model} />
      ) : null}
      {mode === 'text' &&
      preview?.text !== null &&
      preview?.text !== undefined ? (
        <>
          <pre
            className="jp-mlops-artifact-text"
            data-testid="mlops-artifact-text"
          >
            {preview.text}
          </pre>
          {preview.truncated ? (
            <div className="jp-mlops-muted">
              Showing the first {formatFileSize(preview.text.length)}; download
              the file for the rest.
            </div>
          ) : null}
        </>
      ) : null}
      {mode === 'none' && preview ? (
        <div className="jp-mlops-muted">No preview for this kind of file.</div>
      ) : null}
    </div>
  );
}
