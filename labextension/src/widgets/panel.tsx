/**
 * The MLOps sidebar panel: runs list on top, selection details below, kept
 * current by a Lumino `Poll`.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { SplitPanel } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';
import React from 'react';

import { type IMlopsClient, MlopsClient } from '../api';
import { mlopsIcon } from '../icons';
import { RunsModel } from '../runsmodel';
import { DEFAULT_SETTINGS, type IPanelSettings } from '../settings';
import { SelectionView } from './RunDetails';
import { RunsList } from './RunsList';

export const PANEL_ID = 'jupyter-mlops-panel';

export interface IMlopsPanelOptions {
  client?: IMlopsClient;
  settings?: IPanelSettings;
  /** Open a notebook (path relative to the server root). */
  openNotebook?: (path: string) => void;
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
    private readonly _openNotebook?: (path: string) => void
  ) {
    super();
    this.addClass('jp-mlops-selection-widget');
  }

  render(): JSX.Element {
    return (
      <SelectionView model={this.model} openNotebook={this._openNotebook} />
    );
  }
}

export class MlopsPanel extends SplitPanel {
  constructor(options: IMlopsPanelOptions = {}) {
    super({ orientation: 'vertical', spacing: 4 });
    this.id = PANEL_ID;
    this.addClass('jp-mlops-panel');
    this.node.dataset.testid = 'mlops-panel';
    this.title.icon = mlopsIcon;
    this.title.caption = 'MLOps';
    this._settings = options.settings ?? DEFAULT_SETTINGS;
    this.model = new RunsModel({
      client: options.client ?? new MlopsClient(),
      pageSize: this._settings.pageSize
    });
    this._list = new RunsListWidget(this.model, options.openNotebook);
    this._list.columns = this._settings.visibleColumns;
    this.addWidget(this._list);
    this.addWidget(new SelectionWidget(this.model, options.openNotebook));
    this.setRelativeSizes([2, 3]);
    this._poll = new Poll({
      auto: false,
      factory: () => this.model.refresh(),
      frequency: pollFrequency(this._settings.refreshInterval),
      name: 'jupyter-mlops:runs',
      // Poll only while the panel is shown and the browser tab is visible.
      standby: () => (this.isVisible ? 'when-hidden' : true)
    });
  }

  readonly model: RunsModel;

  get settings(): IPanelSettings {
    return this._settings;
  }

  /** Apply new user settings (refresh interval, columns, page size). */
  set settings(settings: IPanelSettings) {
    const previous = this._settings;
    this._settings = settings;
    this._poll.frequency = pollFrequency(settings.refreshInterval);
    this._list.columns = settings.visibleColumns;
    this._list.update();
    if (settings.pageSize !== previous.pageSize) {
      this.model.pageSize = settings.pageSize;
      if (this._started) {
        void this.model.reload();
      }
    }
  }

  /** Refresh now (the toolbar button and the refresh command). */
  async refresh(): Promise<void> {
    if (!this._started) {
      this._start();
      return;
    }
    await this._poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._poll.dispose();
    this.model.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (!this._started) {
      this._start();
    } else {
      void this._poll.refresh();
    }
  }

  private _start(): void {
    this._started = true;
    void this.model.start().then(() => {
      if (!this.isDisposed) {
        void this._poll.start();
      }
    });
  }

  private _settings: IPanelSettings;
  private _list: RunsListWidget;
  private _poll: Poll;
  private _started = false;
}
