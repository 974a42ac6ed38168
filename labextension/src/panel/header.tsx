/**
 * The panel header: title, the "Runs | Environment | Cost | Pipelines" view switch, the project
 * of the tracking store, a refresh button for the view shown and (in the
 * sidebar) "Open in main area".
 */
import { launchIcon, refreshIcon } from '@jupyterlab/ui-components';
import React from 'react';

import type { EnvironmentModel } from '../env/model';
import type { RunsModel } from '../runs/model';
import { useSignal } from '../common/hooks';

/** The views of the panel. */
export type PanelView = 'runs' | 'environment' | 'cost' | 'pipelines';

export const PANEL_VIEWS: readonly { id: PanelView; label: string }[] = [
  { id: 'runs', label: 'Runs' },
  { id: 'environment', label: 'Environment' },
  { id: 'cost', label: 'Cost' },
  { id: 'pipelines', label: 'Pipelines' }
];

export interface IPanelHeaderProps {
  runs: RunsModel;
  env: EnvironmentModel;
  view: PanelView;
  onView: (view: PanelView) => void;
  /** Read the cost again (the Cost view's refresh). */
  onRefreshCost?: () => void;
  /** Read the pipelines and launches again (the Pipelines view's refresh). */
  onRefreshPipelines?: () => void;
  /** Open the panel's content as a main-area tab; none: no button. */
  onOpenInMain?: () => void;
}

export function PanelHeader(props: IPanelHeaderProps): JSX.Element {
  const { runs, env, view } = props;
  useSignal(runs.changed);
  const health = runs.health;
  const refresh = (): void => {
    if (view === 'environment') {
      void env.load();
      return;
    }
    if (view === 'cost') {
      props.onRefreshCost?.();
      return;
    }
    if (view === 'pipelines') {
      props.onRefreshPipelines?.();
      return;
    }
    // Failures show in the panel (model.error); nothing to rethrow here.
    (runs.serverMissing ? runs.start() : runs.refresh()).catch(() => undefined);
  };
  return (
    <div className="jp-mlops-header">
      <span className="jp-mlops-header-title">MLOps</span>
      <ViewSwitch view={view} onView={props.onView} />
      {health ? (
        <span
          className="jp-mlops-header-store"
          data-testid="mlops-store"
          title={`Tracking URI: ${health.tracking_uri}\nServer extension ${health.version}`}
        >
          {health.project}
        </span>
      ) : null}
      <button
        className="jp-mlops-icon-button"
        data-testid="mlops-refresh"
        title={
          view === 'environment'
            ? 'Read the environment again'
            : view === 'cost'
              ? 'Read the cost again'
              : view === 'pipelines'
                ? 'Read the pipelines again'
                : 'Refresh'
        }
        aria-label="Refresh"
        onClick={refresh}
      >
        <refreshIcon.react tag="span" elementSize="normal" />
      </button>
      {props.onOpenInMain ? (
        <button
          className="jp-mlops-icon-button jp-mlops-open-main"
          data-testid="mlops-open-main"
          title="Open in the main area (a tab, for wide work)"
          aria-label="Open in main area"
          onClick={props.onOpenInMain}
        >
          <launchIcon.react tag="span" elementSize="normal" />
        </button>
      ) : null}
    </div>
  );
}

/** Tabs choosing the view; arrow keys move between them. */
export function ViewSwitch(props: {
  view: PanelView;
  onView: (view: PanelView) => void;
}): JSX.Element {
  const move = (step: number): PanelView => {
    const index = PANEL_VIEWS.findIndex(v => v.id === props.view);
    const next =
      PANEL_VIEWS[(index + step + PANEL_VIEWS.length) % PANEL_VIEWS.length];
    props.onView(next.id);
    return next.id;
  };
  return (
    <div
      className="jp-mlops-view-switch"
      role="tablist"
      aria-label="MLOps view"
      data-testid="mlops-view-switch"
      onKeyDown={event => {
        if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
          event.preventDefault();
          const id = move(event.key === 'ArrowRight' ? 1 : -1);
          event.currentTarget
            .querySelector<HTMLElement>(`[data-view="${id}"]`)
            ?.focus();
        }
      }}
    >
      {PANEL_VIEWS.map(({ id, label }) => {
        const active = id === props.view;
        return (
          <button
            key={id}
            role="tab"
            className={`jp-mlops-view-tab${active ? ' jp-mod-active' : ''}`}
            data-view={id}
            aria-selected={active}
            tabIndex={active ? 0 : -1}
            onClick={() => props.onView(id)}
          >
            {label}
          </button>
        );
      })}
    </div>
  );
}
