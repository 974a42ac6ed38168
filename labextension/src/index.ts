/**
 * jupyter-mlops: the MLOps sidebar panel (experiment runs tracked with
 * MLflow, the kernel's environment, live compute cost, notebook pipelines)
 * and the status bar cost item.
 *
 * The composition root: the REST clients, the models and their polls are
 * built here once and handed to the panel, to its main-area tab ("Open in
 * main area") and to the status bar item, so the item keeps showing the cost
 * whether or not the sidebar is open.
 */
import {
  ILabShell,
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { KernelAPI } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { ArtifactsClient } from './api/artifacts';
import { HttpClient } from './api/client';
import { CostClient } from './api/cost';
import { EnvClient } from './api/env';
import { EventsClient } from './api/events';
import { PipelinesClient } from './api/pipelines';
import { RunEditClient } from './api/runEdit';
import { RunsClient } from './api/runs';
import { IMlopsApi } from './api/tokens';
import { addCommands, CommandIDs } from './commands';
import { CostModel } from './cost/model';
import { CostStatusWidget } from './cost/StatusItem';
import type { IKernelActions } from './cost/WasteList';
import { followCurrentKernel } from './env/kernels';
import { EnvCompareModel, EnvironmentModel } from './env/model';
import { EventToasts } from './notifications';
import { MAIN_AREA_RESTORE_NAME, MainAreaOpener } from './panel/mainArea';
import { type IMlopsModels, MlopsPanel } from './panel/panel';
import { PipelinesModel } from './pipelines/model';
import { RunsModel } from './runs/model';
import { configureRunActions } from './runs/RunActions';
import {
  columnStore,
  DEFAULT_SETTINGS,
  type IPanelSettings,
  parseSettings
} from './settings';

export { CommandIDs } from './commands';
export { IMlopsApi } from './api/tokens';

export const PLUGIN_ID = 'jupyter-mlops:plugin';

/** The clients of the REST API, one per subject, over one HTTP client. */
export function createApi(http: HttpClient = new HttpClient()): IMlopsApi {
  return {
    http,
    runs: new RunsClient(http),
    environment: new EnvClient(http),
    cost: new CostClient(http),
    pipelines: new PipelinesClient(http),
    artifacts: new ArtifactsClient(http)
  };
}

/** The models of the panel and the status bar item; each polls on its own. */
export function createModels(
  api: IMlopsApi,
  settings: IPanelSettings = DEFAULT_SETTINGS
): IMlopsModels {
  const { refreshInterval, pageSize } = settings;
  return {
    runs: new RunsModel({ client: api.runs, pageSize, refreshInterval }),
    env: new EnvironmentModel({ client: api.environment }),
    envCompare: new EnvCompareModel({ client: api.environment }),
    cost: new CostModel({ client: api.cost, refreshInterval }),
    pipelines: new PipelinesModel({ client: api.pipelines })
  };
}

/**
 * The status bar item: the current kernel's `$so_far · $rate/h`. Hidden
 * until that kernel has a cost, and when the server has no cost at all.
 * It keeps the cost model's poll going on its own.
 */
function addCostStatus(
  statusBar: IStatusBar,
  cost: CostModel,
  onClick: () => void
): (kernelId: string | null) => void {
  const item = new CostStatusWidget(cost, onClick);
  const activeStateChanged = new Signal<CostStatusWidget, void>(item);
  let shown = false;
  const update = (): void => {
    if (item.hasValue !== shown) {
      shown = item.hasValue;
      activeStateChanged.emit();
    }
  };
  cost.changed.connect(update);
  statusBar.registerStatusItem('jupyter-mlops:cost-status', {
    item,
    align: 'left',
    rank: 100,
    isActive: () => item.hasValue,
    activeStateChanged
  });
  cost.poll.want('status-bar', true);
  cost.poll.start();
  return kernelId => {
    item.kernelId = kernelId;
    update();
  };
}

const plugin: JupyterFrontEndPlugin<IMlopsApi> = {
  id: PLUGIN_ID,
  description:
    "The MLOps sidebar: experiment runs, details and comparisons, the current kernel's environment, live compute cost (with a status bar item), and notebook pipelines (Export to pipeline in the notebook toolbar).",
  autoStart: true,
  requires: [ISettingRegistry],
  optional: [
    ILabShell,
    ILayoutRestorer,
    ICommandPalette,
    IStatusBar,
    IRenderMimeRegistry
  ],
  provides: IMlopsApi,
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null,
    rendermime: IRenderMimeRegistry | null
  ): IMlopsApi => {
    const api = createApi();
    const models = createModels(api);
    configureRunActions({
      client: new RunEditClient(api.http),
      artifacts: api.artifacts,
      rendermime,
      reload: runId => models.runs.reloadRun(runId)
    });
    const services = app.serviceManager;
    const kernelActions: IKernelActions = {
      interrupt: id => KernelAPI.interruptKernel(id, services.serverSettings),
      // Through the manager, so that its running-kernels model follows.
      shutdown: id => services.kernels.shutdown(id)
    };
    let settings = DEFAULT_SETTINGS;
    let currentKernel: string | null = null;
    // The sidebar's panel and the main-area tab's share the models.
    const createPanel = (id?: string, openInMain?: () => void): MlopsPanel =>
      new MlopsPanel({
        id,
        models,
        settings,
        openInMain,
        artifacts: api.artifacts,
        kernelActions,
        openNotebook: path => {
          void app.commands.execute('docmanager:open', { path });
        },
        exportPipeline: () => {
          void app.commands.execute(CommandIDs.exportPipeline);
        }
      });
    const mainArea = new MainAreaOpener(app.shell, id => {
      const tab = createPanel(id);
      tab.currentKernel = currentKernel;
      return tab;
    });
    const panels = (): MlopsPanel[] =>
      mainArea.widget ? [panel, mainArea.widget.content] : [panel];
    const panel = createPanel(undefined, () => {
      void app.commands.execute(CommandIDs.openMain);
    });
    panel.title.label = labShell ? '' : 'MLOps';
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, 'jupyter-mlops');
      // An open main-area tab comes back after a reload, on its view.
      void restorer.restore(mainArea.tracker, {
        command: CommandIDs.openMain,
        args: tab => ({ view: tab.content.view }),
        name: () => MAIN_AREA_RESTORE_NAME
      });
    }

    addCommands(app, panel, api.pipelines, palette, mainArea);
    // Toasts for the server's events (idle policy, budgets, ended pipeline
    // runs), polled from activation: shown whether or not the panel is open.
    const toasts = new EventToasts({
      client: new EventsClient(api.http),
      notifications: Notification,
      openRun: runId => {
        app.shell.activateById(panel.id);
        panel.showRun(runId);
      }
    });
    void toasts.poll.start();
    labShell?.currentChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.exportPipeline)
    );

    const setStatusKernel = statusBar
      ? addCostStatus(statusBar, models.cost, () => {
          void app.commands.execute(CommandIDs.cost);
        })
      : null;

    // The Environment view describes the kernel of the notebook (or console)
    // last active in the main area; without one, the server's interpreter. The
    // Cost view highlights that kernel; the status bar item shows its cost.
    followCurrentKernel(app.shell, kernel => {
      models.env.setKernel(kernel);
      currentKernel = kernel?.id ?? null;
      panels().forEach(p => (p.currentKernel = currentKernel));
      setStatusKernel?.(currentKernel);
    });

    const loading = settingRegistry.load(PLUGIN_ID);
    // "column" in a run's details and "hide" in the table edit the setting.
    models.runs.columnStore = columnStore(loading);
    loading
      .then(loaded => {
        const apply = (): void => {
          settings = parseSettings(loaded.composite);
          models.runs.poll.refreshInterval = settings.refreshInterval;
          models.cost.poll.refreshInterval = settings.refreshInterval;
          panels().forEach(p => (p.settings = settings));
        };
        apply();
        loaded.changed.connect(apply);
      })
      .catch(reason => {
        console.warn(
          'jupyter-mlops: could not load settings, using defaults',
          reason
        );
      });
    return api;
  }
};

export default plugin;
