/**
 * The Pipelines view: the pipelines under the server root; for the selected
 * one, a run form generated from its steps' parameter schema (typed inputs,
 * non-literal defaults flagged and left to the notebook, a sweep per
 * parameter); the live executions of the launch being watched, with links
 * to each MLflow run and output notebook, the cell and last output lines
 * of each running one; the recent launches; and the schedules.
 *
 * Names, paths, parameter values and errors are rendered as text, never as
 * HTML.
 */
import React from 'react';

import { isRouteMissing } from '../api/client';
import type { IPipeline } from '../api/pipelines';
import type { PipelinesModel } from './model';
import { Section } from '../common/components';
import { useSignal } from '../common/hooks';
import { ErrorList, LaunchList, LaunchView } from './launches';
import { RunForm } from './RunForm';
import { SchedulesSection } from './Schedules';

export interface IPipelinesViewProps {
  model: PipelinesModel;
  /** Show an MLflow run in the Runs view. */
  onOpenRun?: (runId: string) => void;
  /** Open a notebook (path relative to the server root). */
  onOpenNotebook?: (path: string) => void;
  /** Export the current notebook (the "Export to pipeline" command). */
  onExport?: () => void;
}

export function PipelinesView(props: IPipelinesViewProps): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  const selected = model.selected;
  return (
    <div
      className="jp-mlops-pipelines"
      data-testid="mlops-pipelines-view"
      aria-busy={model.loading}
    >
      <div className="jp-mlops-pipelines-toolbar">
        {props.onExport ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-pipelines-export"
            title="Export the current notebook to a pipeline"
            onClick={props.onExport}
          >
            Export to pipeline
          </button>
        ) : null}
      </div>
      {model.error ? (
        <ErrorList error={model.error} testId="mlops-pipelines-error" />
      ) : null}
      {isRouteMissing(model.error) ? null : (
        <>
          <PipelineList
            pipelines={model.pipelines}
            truncated={model.truncated}
            loaded={model.loaded}
            selectedPath={model.selectedPath}
            onSelect={path => model.select(path)}
          />
          {selected && model.notices.length ? (
            <div
              className="jp-mlops-pipeline-notices"
              data-testid="mlops-pipeline-notices"
            >
              <ul className="jp-mlops-error-list">
                {model.notices.map((line, i) => (
                  <li key={i}>{line}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {selected ? <RunForm model={model} pipeline={selected} /> : null}
          {model.watched ? (
            <LaunchView
              launch={model.watched}
              error={model.watchError}
              onCancel={id => void model.cancel(id)}
              onOpenRun={props.onOpenRun}
              onOpenNotebook={props.onOpenNotebook}
            />
          ) : null}
          <LaunchList
            launches={model.launches}
            watchedId={model.watched?.id ?? null}
            onWatch={id => void model.watch(id).catch(() => undefined)}
          />
          {model.schedules ? (
            <SchedulesSection model={model.schedules} />
          ) : null}
        </>
      )}
    </div>
  );
}

export function PipelineList(props: {
  pipelines: readonly IPipeline[];
  truncated: boolean;
  loaded: boolean;
  selectedPath: string | null;
  onSelect: (path: string | null) => void;
}): JSX.Element {
  const { pipelines } = props;
  return (
    <Section title="Pipelines" count={pipelines.length}>
      {pipelines.length ? (
        <ul className="jp-mlops-pipeline-list" data-testid="mlops-pipelines">
          {pipelines.map(pipeline => {
            const active = pipeline.path === props.selectedPath;
            return (
              <li key={pipeline.path}>
                <button
                  className={`jp-mlops-pipeline-item${active ? ' jp-mod-selected' : ''}`}
                  data-testid="mlops-pipeline-item"
                  data-path={pipeline.path}
                  aria-pressed={active}
                  title={pipeline.path}
                  onClick={() => props.onSelect(active ? null : pipeline.path)}
                >
                  <span className="jp-mlops-pipeline-name">
                    {pipeline.name}
                  </span>
                  <span className="jp-mlops-muted">
                    {` ${pipeline.path} \u00B7 ${pipeline.steps.length} step${pipeline.steps.length === 1 ? '' : 's'}`}
                  </span>
                </button>
              </li>
            );
          })}
        </ul>
      ) : props.loaded ? (
        <div className="jp-mlops-muted" data-testid="mlops-pipelines-empty">
          No pipeline under the server root yet. Open a notebook and use
          {' \u201CExport to pipeline\u201D.'}
        </div>
      ) : null}
      {props.truncated ? (
        <div className="jp-mlops-muted">
          Only the first pipelines found are listed.
        </div>
      ) : null}
    </Section>
  );
}
