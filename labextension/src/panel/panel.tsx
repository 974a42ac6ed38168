/**
 * The MLOps sidebar panel: a header with the "Runs | Environment | Cost |
 * Pipelines" switch over the Runs view (runs list on top, selection details
 * below, kept current by a Lumino `Poll`), the Environment view (the current
 * kernel's packages), the Cost view (every kernel's live cost, kept current
 * by a second `Poll` that also feeds the status bar item) or the Pipelines
 * view (pipelines under the root, run forms, live launches).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { Panel, SplitPanel } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';
import React from 'react';

import { type IMlopsClient, MlopsClient } from '../api/client';
import { CostClient, type ICostClient } from '../api/cost';
import { CostModel } from '../cost/logic';
import { EnvClient, type IEnvClient } from '../api/env';
import { EnvCompareModel, EnvironmentModel } from '../env/model';
import { mlopsIcon } from '../common/icons';
import { type IPipelinesClient, PipelinesClient } from '../api/pipelines';
import { PipelinesModel } from '../pipelines/model';
import { RunsModel } from '../runs/model';
import { DEFAULT_SETTINGS, type IPanelSettings } from '../settings';
import { EnvironmentView } from '../env/EnvironmentView';
import { CostWidget, type IKernelActions } from '../cost/CostView';
import { PanelHeader, type PanelView } from './header';
import {
  type IPipelinesViewProps,
  PipelinesView
} from '../pipelines/PipelinesView';
import { SelectionView } from '../runs/RunDetails';
import { RunsList } from '../runs/RunsList';

export const PANEL_ID = 'jupyter-mlops-panel';

export interface IMlopsPanelOptions {
  client?: IMlopsClient;
  /** Client of the environment routes; by default one over `client` when that is an `MlopsClient`. */
  envClient?: IEnvClient;
  /** Client of the cost routes; by default one over `client` when that is an `MlopsClient`. */
  costClient?: ICostClient;
  /** Interrupt / shut down a kernel (the Waste list's buttons). */
  kernelActions?: IKernelActions;
  settings?: IPanelSettings;
  /** Client of the pipeline routes; by default one over `client` when that is an `MlopsClient`. */
  pipelinesClient?: IPipelinesClient;
  /** Open a notebook (path relative to the server root). */
  openNotebook?: (path: string) => void;
  /** Export the current notebook to a pipeline (the Pipelines view's button). */
  exportPipeline?: () => void;
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

class HeaderWidget extends ReactWidget {
  constructor(private readonly _panel: MlopsPanel) {
    super();
    this.addClass('jp-mlops-header-widget');
  }

  render(): JSX.Element {
    const panel = this._panel;
    return (
      <PanelHeader
        runs={panel.model}
        env={panel.envModel}
        view={panel.view}
        onView={view => {
          panel.view = view;
        }}
        onRefreshCost={() => {
          void panel.refreshCost();
        }}
        onRefreshPipelines={() => {
          void panel.pipelinesModel.load();
        }}
      />
    );
  }
}

class RunsListWidget extends ReactWidget {
  constructor(
    readonly model: RunsModel,
    private readonly _openNotebook?: (path: string) => void
  ) {
    super();
    this.addClass('jp-mlops-runs-widget');
  }

  columns: readonly string[] = DEFAULT_SETTINGS.visibleColumns;

  render(): JSX.Element {
    return (
      <RunsList
        model={this.model}
        columns={this.columns}
        openNotebook={this._openNotebook}
      />
    );
  }
}

class SelectionWidget extends ReactWidget {
  constructor(
    readonly model: RunsModel,
    private readonly _env: EnvCompareModel,
    private readonly _openNotebook?: (path: string) => void
  ) {
    super();
    this.addClass('jp-mlops-selection-widget');
  }

  render(): JSX.Element {
    return (
      <SelectionView
        model={this.model}
        env={this._env}
        openNotebook={this._openNotebook}
      />
    );
  }
}

class EnvironmentWidget extends ReactWidget {
  constructor(
    readonly model: EnvironmentModel,
    private readonly _runs: RunsModel
  ) {
    super();
    this.addClass('jp-mlops-env-widget');
  }

  render(): JSX.Element {
    return <EnvironmentView model={this.model} runs={this._runs} />;
  }
}

class PipelinesWidget extends ReactWidget {
  constructor(
    readonly model: PipelinesModel,
    private readonly _options: Omit<IPipelinesViewProps, 'model'>
  ) {
    super();
    this.addClass('jp-mlops-pipelines-widget');
  }

  render(): JSX.Element {
    return <PipelinesView model={this.model} {...this._options} />;
  }
}

export class MlopsPanel extends Panel {
  constructor(options: IMlopsPanelOptions = {}) {
    super();
    this.id = PANEL_ID;
    this.addClass('jp-mlops-panel');
    this.node.dataset.testid = 'mlops-panel';
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps';
    this._settings = options.settings ?? DEFAULT_SETTINGS;
    const client = options.client ?? new MlopsClient();
    const envClient =
      options.envClient ??
      new EnvClient(client instanceof MlopsClient ? client : undefined);
    this.model = new RunsModel({
      client,
      pageSize: this._settings.pageSize
    });
    this.envModel = new EnvironmentModel({ client: envClient });
    this.envCompare = new EnvCompareModel({ client: envClient });
    this.costModel = new CostModel({
      client:
        options.costClient ??
        new CostClient(client instanceof MlopsClient ? client : undefined)
    });

    this._header = new HeaderWidget(this);
    this.addWidget(this._header);

    this._runsView = new SplitPanel({ orientation: 'vertical', spacing: 4 });
    this._runsView.addClass('jp-mlops-runs-view');
    this._list = new RunsListWidget(this.model, options.openNotebook);
    this._list.columns = this._settings.visibleColumns;
    this._runsView.addWidget(this._list);
    this._runsView.addWidget(
      new SelectionWidget(this.model, this.envCompare, options.openNotebook)
    );
    this._runsView.setRelativeSizes([2, 3]);
    this.addWidget(this._runsView);

    this._envView = new EnvironmentWidget(this.envModel, this.model);
    this._envView.hide();
    this.addWidget(this._envView);

    this._costView = new CostWidget(this.costModel, {
      actions: options.kernelActions,
      openNotebook: options.openNotebook
    });
    this._costView.hide();
    this.addWidget(this._costView);

    this.pipelinesModel = new PipelinesModel({
      client:
        options.pipelinesClient ??
        new PipelinesClient(client instanceof MlopsClient ? client : undefined)
    });
    this._pipelinesView = new PipelinesWidget(this.pipelinesModel, {
      onOpenRun: runId => this.showRun(runId),
      onOpenNotebook: options.openNotebook,
      onExport: options.exportPipeline
    });
    this._pipelinesView.hide();
    this.addWidget(this._pipelinesView);

    this._poll = new Poll({
      auto: false,
      factory: () => this.model.refresh(),
      frequency: pollFrequency(this._settings.refreshInterval),
      name: 'jupyter-mlops:runs',
      // Poll only while the Runs view is shown and the browser tab is visible.
      standby: () =>
        this.isVisible && this._view === 'runs' ? 'when-hidden' : true
    });
    this._costPoll = new Poll({
      auto: false,
      factory: () => this.costModel.load(),
      frequency: pollFrequency(this._settings.refreshInterval),
      name: 'jupyter-mlops:cost',
      // While the Cost view or the status bar item shows it, the browser tab
      // is visible, and the server has cost at all.
      standby: () =>
        !this.costModel.unavailable &&
        (this._costAlwaysOn || (this.isVisible && this._view === 'cost'))
          ? 'when-hidden'
          : true
    });
  }

  /** The Runs view's state. */
  readonly model: RunsModel;
  /** The Environment view's state. */
  readonly envModel: EnvironmentModel;
  /** Environment diffs and snapshots of runs (the comparison view). */
  readonly envCompare: EnvCompareModel;
  /** The Cost view's (and the status bar item's) state. */
  readonly costModel: CostModel;
  /** The Pipelines view's state. */
  readonly pipelinesModel: PipelinesModel;

  /** Show the Pipelines view with the pipeline in folder `path` selected, and notes about it. */
  async showPipeline(
    path: string,
    notices: readonly string[] = []
  ): Promise<void> {
    this.view = 'pipelines';
    await this.pipelinesModel.load();
    this.pipelinesModel.select(path);
    this.pipelinesModel.setNotices(notices);
  }

  /** Show one MLflow run in the Runs view. */
  showRun(runId: string): void {
    this.view = 'runs';
    void this.model.select(runId);
  }

  /**
   * Keep reading the cost while the panel is hidden (the status bar item
   * shows it). Starts the cost poll.
   */
  keepCostCurrent(): void {
    this._costAlwaysOn = true;
    this._startCost();
  }

  /** The current notebook's kernel (highlighted in the Cost view). */
  set currentKernel(id: string | null) {
    this._costView.currentKernel = id;
  }

  /** Read the cost now (the refresh button; also wakes a poll in standby). */
  async refreshCost(): Promise<void> {
    this._startCost();
    this.costModel.invalidateBudgets();
    try {
      await this.costModel.load();
    } catch {
      // Shown in the Cost view (costModel.error).
    }
  }

  /** The view shown: `runs` or `environment`. */
  get view(): PanelView {
    return this._view;
  }

  set view(view: PanelView) {
    if (view === this._view) {
      return;
    }
    this._view = view;
    this._runsView.setHidden(view !== 'runs');
    this._envView.setHidden(view !== 'environment');
    this._costView.setHidden(view !== 'cost');
    this._pipelinesView.setHidden(view !== 'pipelines');
    this._header.update();
    this.envModel.setActive(this.isVisible && view === 'environment');
    if (view === 'runs' && this._started) {
      void this._poll.refresh();
    }
    if (view === 'cost' && this.isVisible) {
      this._startCost();
      this.costModel.invalidateBudgets();
      void this._costPoll.refresh();
    }
    if (view === 'pipelines' && this.isVisible) {
      void this.pipelinesModel.load();
    }
  }

  get settings(): IPanelSettings {
    return this._settings;
  }

  /** Apply new user settings (refresh interval, columns, page size). */
  set settings(settings: IPanelSettings) {
    const previous = this._settings;
    this._settings = settings;
    this._poll.frequency = pollFrequency(settings.refreshInterval);
    this._costPoll.frequency = pollFrequency(settings.refreshInterval);
    this._list.columns = settings.visibleColumns;
    this._list.update();
    if (settings.pageSize !== previous.pageSize) {
      this.model.pageSize = settings.pageSize;
      if (this._started) {
        void this.model.reload();
      }
    }
  }

  /** Refresh the view shown now (the toolbar button and the refresh command). */
  async refresh(): Promise<void> {
    if (!this._started) {
      this._start();
      return;
    }
    if (this._view === 'environment') {
      await this.envModel.load();
      return;
    }
    if (this._view === 'cost') {
      await this.refreshCost();
      return;
    }
    if (this._view === 'pipelines') {
      await this.pipelinesModel.load();
      return;
    }
    await this._poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this._costPoll.dispose();
    this.model.dispose();
    this.costModel.dispose();
    this.pipelinesModel.dispose();
    this.envModel.dispose();
    this.envCompare.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._started) {
      this._start();
    } else if (this._view === 'runs') {
      void this._poll.refresh();
    }
    this.envModel.setActive(this._view === 'environment');
    if (this._view === 'cost') {
      this._startCost();
      this.costModel.invalidateBudgets();
      void this._costPoll.refresh();
    }
    if (this._view === 'pipelines') {
      void this.pipelinesModel.load();
    }
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.envModel.setActive(false);
  }

  private _start(): void {
    this._started = true;
    void this.model.start().then(() => {
      if (!this.isDisposed) {
        void this._poll.start();
      }
    });
  }

  private _startCost(): void {
    if (!this._costStarted && !this.isDisposed) {
      this._costStarted = true;
      void this._costPoll.start();
    }
  }

  private _settings: IPanelSettings;
  private _header: HeaderWidget;
  private _runsView: SplitPanel;
  private _list: RunsListWidget;
  private _envView: EnvironmentWidget;
  private _view: PanelView = 'runs';
  private _poll: Poll;
  private _costView: CostWidget;
  private _pipelinesView: PipelinesWidget;
  private _costPoll: Poll;
  private _costStarted = false;
  private _costAlwaysOn = false;
  private _started = false;
}
