/**
 * The MLOps sidebar panel: a header with the "Runs | Environment | Cost |
 * Pipelines" switch over the Runs view (runs list on top, selection details
 * below), the Environment view (the current kernel's packages), the Cost
 * view (every kernel's live cost) or the Pipelines view (pipelines under the
 * root, run forms, live launches).
 *
 * The panel builds no client, model or poll: the plugin (`index.ts`) hands
 * it the models, and the panel tells each model's poll whether it shows it.
 * The same models may back two panels at once (the sidebar's and a main-area
 * tab, "Open in main area"): each panel tells the polls under its own id.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import { Signal } from '@lumino/signaling';
import { Panel, SplitPanel, type Widget } from '@lumino/widgets';
import React from 'react';

import type { IArtifactsClient } from '../api/artifacts';
import { mlopsIcon } from '../common/icons';
import { CostView } from '../cost/CostView';
import type { CostModel } from '../cost/model';
import type { IKernelActions } from '../cost/WasteList';
import { EnvironmentView } from '../env/EnvironmentView';
import type { EnvCompareModel, EnvironmentModel } from '../env/model';
import type { PipelinesModel } from '../pipelines/model';
import { PipelinesView } from '../pipelines/PipelinesView';
import type { RunsModel } from '../runs/model';
import { SelectionView } from '../runs/RunDetails';
import { RunsList } from '../runs/RunsList';
import { DEFAULT_SETTINGS, type IPanelSettings } from '../settings';
import { PanelHeader, type PanelView } from './header';

export const PANEL_ID = 'jupyter-mlops-panel';

/**
 * From this width on (a main-area tab, a wide sidebar) the Runs view shows
 * the runs list and the selection side by side; narrower, they stack.
 */
export const SIDE_BY_SIDE_WIDTH = 900;

/** The state behind the panel, built once by the plugin. */
export interface IMlopsModels {
  /** The Runs view's state. */
  runs: RunsModel;
  /** The Environment view's state. */
  env: EnvironmentModel;
  /** Environment diffs and snapshots of runs (the comparison view). */
  envCompare: EnvCompareModel;
  /** The Cost view's (and the status bar item's) state. */
  cost: CostModel;
  /** The Pipelines view's state. */
  pipelines: PipelinesModel;
}

export interface IMlopsPanelOptions {
  models: IMlopsModels;
  /** The widget id (and the name it gives the polls); `PANEL_ID` by default. */
  id?: string;
  /** Open the panel's content as a main-area tab (the header's button); none: no button. */
  openInMain?: () => void;
  /** Client of the artifact routes (the Artifacts section of a run). */
  artifacts?: IArtifactsClient;
  /** Interrupt / shut down a kernel (the Waste list's buttons). */
  kernelActions?: IKernelActions;
  settings?: IPanelSettings;
  /** Open a notebook (path relative to the server root). */
  openNotebook?: (path: string) => void;
  /** Export the current notebook to a pipeline (the Pipelines view's button). */
  exportPipeline?: () => void;
}

/** The ids of the panels showing the Environment view, per model. */
const envViewers = new WeakMap<EnvironmentModel, Set<string>>();

/** Panel `id` shows (or no longer shows) `env`: the model is active while any panel shows it. */
function showsEnvironment(
  env: EnvironmentModel,
  id: string,
  on: boolean
): void {
  const viewers = envViewers.get(env) ?? new Set<string>();
  envViewers.set(env, viewers);
  if (on) {
    viewers.add(id);
  } else {
    viewers.delete(id);
  }
  env.setActive(viewers.size > 0);
}

/** A React view of the panel: `render` reads the panel's state when called. */
class ViewWidget extends ReactWidget {
  constructor(
    className: string,
    private readonly _render: () => JSX.Element
  ) {
    super();
    this.addClass(className);
  }

  render(): JSX.Element {
    return this._render();
  }
}

export class MlopsPanel extends Panel {
  constructor(options: IMlopsPanelOptions) {
    super();
    this.id = options.id ?? PANEL_ID;
    this.addClass('jp-mlops-panel');
    this.node.dataset.testid = 'mlops-panel';
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps';
    this._settings = options.settings ?? DEFAULT_SETTINGS;
    this.models = options.models;
    const { runs, env, envCompare, cost, pipelines } = options.models;
    const openNotebook = options.openNotebook;

    this._header = new ViewWidget('jp-mlops-header-widget', () => (
      <PanelHeader
        runs={runs}
        env={env}
        view={this._view}
        onView={view => {
          this.view = view;
        }}
        onRefreshCost={() => void cost.reload()}
        onRefreshPipelines={() => void pipelines.load()}
        onOpenInMain={options.openInMain}
      />
    ));
    this.addWidget(this._header);

    const runsView = new SplitPanel({ orientation: 'vertical', spacing: 4 });
    runsView.addClass('jp-mlops-runs-view');
    this._list = new ViewWidget('jp-mlops-runs-widget', () => (
      <RunsList
        model={runs}
        columns={this._settings.visibleColumns}
        openNotebook={openNotebook}
      />
    ));
    runsView.addWidget(this._list);
    runsView.addWidget(
      new ViewWidget('jp-mlops-selection-widget', () => (
        <SelectionView
          model={runs}
          env={envCompare}
          artifacts={options.artifacts}
          openNotebook={openNotebook}
        />
      ))
    );
    runsView.setRelativeSizes([2, 3]);
    this._runsView = runsView;
    this._costView = new ViewWidget('jp-mlops-cost-widget', () => (
      <CostView
        model={cost}
        actions={options.kernelActions}
        currentKernel={this._currentKernel}
        openNotebook={openNotebook}
      />
    ));
    this._views = {
      runs: runsView,
      environment: new ViewWidget('jp-mlops-env-widget', () => (
        <EnvironmentView model={env} runs={runs} />
      )),
      cost: this._costView,
      pipelines: new ViewWidget('jp-mlops-pipelines-widget', () => (
        <PipelinesView
          model={pipelines}
          onOpenRun={runId => this.showRun(runId)}
          onOpenNotebook={openNotebook}
          onExport={options.exportPipeline}
        />
      ))
    };
    for (const [id, view] of Object.entries(this._views)) {
      view.setHidden(id !== this._view);
      this.addWidget(view);
    }
  }

  /** The models the views render (the plugin's). */
  readonly models: IMlopsModels;

  /** Show the Pipelines view with the pipeline in folder `path` selected, and notes about it. */
  async showPipeline(
    path: string,
    notices: readonly string[] = []
  ): Promise<void> {
    this.view = 'pipelines';
    const pipelines = this.models.pipelines;
    await pipelines.load();
    pipelines.select(path);
    pipelines.setNotices(notices);
  }

  /** Show one MLflow run in the Runs view. */
  showRun(runId: string): void {
    this.view = 'runs';
    void this.models.runs.select(runId);
  }

  /** The current notebook's kernel (highlighted in the Cost view). */
  set currentKernel(id: string | null) {
    if (id !== this._currentKernel && !this.isDisposed) {
      this._currentKernel = id;
      this._costView.update();
    }
  }

  /** Emitted with the view shown when it changes. */
  readonly viewChanged = new Signal<this, PanelView>(this);

  /** The view shown. */
  get view(): PanelView {
    return this._view;
  }

  set view(view: PanelView) {
    if (view === this._view) {
      return;
    }
    this._view = view;
    for (const [id, widget] of Object.entries(this._views)) {
      widget.setHidden(id !== view);
    }
    this._header.update();
    this._syncPolls();
    if (view === 'runs' && this._started) {
      void this.models.runs.poll.refresh();
    }
    if (this.isVisible) {
      this._shown(view);
    }
    this.viewChanged.emit(view);
  }

  get settings(): IPanelSettings {
    return this._settings;
  }

  /** Apply new user settings (columns, page size). */
  set settings(settings: IPanelSettings) {
    const previous = this._settings;
    this._settings = settings;
    this._list.update();
    if (settings.pageSize !== previous.pageSize) {
      this.models.runs.pageSize = settings.pageSize;
      if (this._started) {
        void this.models.runs.reload();
      }
    }
  }

  /** Refresh the view shown now (the toolbar button and the refresh command). */
  async refresh(): Promise<void> {
    if (!this._started) {
      this._start();
      return;
    }
    const { runs, env, cost, pipelines } = this.models;
    switch (this._view) {
      case 'environment':
        return env.load();
      case 'cost':
        return cost.reload();
      case 'pipelines':
        return pipelines.load();
      default:
        return runs.poll.refresh();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose();
    // The models are the plugin's (the status bar item keeps reading the cost).
    this._syncPolls();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._started) {
      this._start();
    } else if (this._view === 'runs') {
      void this.models.runs.poll.refresh();
    }
    this._syncPolls();
    this._shown(this._view);
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    const width = msg.width >= 0 ? msg.width : this.node.offsetWidth;
    const wide = width >= SIDE_BY_SIDE_WIDTH;
    const orientation = wide ? 'horizontal' : 'vertical';
    if (width > 0 && this._runsView.orientation !== orientation) {
      this._runsView.orientation = orientation;
      this._runsView.setRelativeSizes(wide ? [1, 1] : [2, 3]);
      this.toggleClass('jp-mod-wide', wide);
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._syncPolls();
  }

  /** Tell the models which of them the panel shows now (their polls stand by otherwise). */
  private _syncPolls(): void {
    const shown = this.isVisible && !this.isDisposed ? this._view : null;
    showsEnvironment(this.models.env, this.id, shown === 'environment');
    this.models.runs.poll.want(this.id, shown === 'runs');
    this.models.cost.poll.want(this.id, shown === 'cost');
  }

  /** `view` was shown: read what it shows now. */
  private _shown(view: PanelView): void {
    if (view === 'cost') {
      this.models.cost.shown();
    }
    if (view === 'pipelines') {
      void this.models.pipelines.load();
    }
  }

  private _start(): void {
    this._started = true;
    const runs = this.models.runs;
    // A second panel over the same models: the runs are open already.
    void (runs.poll.started ? runs.poll.refresh() : runs.open());
  }

  private _settings: IPanelSettings;
  private _header: Widget;
  private _list: Widget;
  private _runsView: SplitPanel;
  private _costView: Widget;
  private _views: Record<PanelView, Widget>;
  private _view: PanelView = 'runs';
  private _currentKernel: string | null = null;
  private _started = false;
}
