/**
 * jupyter-mlops: the MLOps sidebar panel (experiment runs tracked with
 * MLflow, the kernel's environment, live compute cost, notebook pipelines)
 * and the status bar cost item.
 *
 * The composition root: the REST clients, the models and their polls are
 * built here once and handed to the panel and to the status bar item, so
 * the item keeps showing the cost whether or not the sidebar is open.
 */
import {
  ILabShell,
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { KernelAPI } from '@jupyterlab/services';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { ArtifactsClient } from './api/artifacts';
import { HttpClient } from './api/client';
import { CostClient } from './api/cost';
import { EnvClient } from './api/env';
import { PipelinesClient } from './api/pipelines';
import { RunsClient } from './api/runs';
import { RunEditClient } from './api/runEdit';
import { IMlopsApi } from './api/tokens';
import { addCommands, CommandIDs } from './commands';
import { CostModel } from './cost/model';
import { CostStatusWidget } from './cost/StatusItem';
import type { IKernelActions } from './cost/WasteList';
import { followCurrentKernel } from './env/kernels';
import { EnvCompareModel, EnvironmentModel } from './env/model';
import { type IMlopsModels, MlopsPanel } from './panel/panel';
import { PipelinesModel } from './pipelines/model';
import { RunsModel } from './runs/model';
import {
  DEFAULT_SETTINGS,
import { configureRunActions } from './runs/RunActions';
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
    const services = app.serviceManager;
    const kernelActions: IKernelActions = {
    configureRunActions({
      client: new RunEditClient(api.http),
      artifacts: api.artifacts,
      rendermime,
      reload: runId => models.runs.reloadRun(runId)
    });
      interrupt: id => KernelAPI.interruptKernel(id, services.serverSettings),
      // Through the manager, so that its running-kernels model follows.
      shutdown: id => services.kernels.shutdown(id)
    };
    const panel = new MlopsPanel({
      models,
      artifacts: api.artifacts,
      kernelActions,
      openNotebook: path => {
        void app.commands.execute('docmanager:open', { path });
      },
      exportPipeline: () => {
        void app.commands.execute(CommandIDs.exportPipeline);
      }
    });
    panel.title.label = labShell ? '' : 'MLOps';
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, 'jupyter-mlops');
    }

    addCommands(app, panel, api.pipelines, palette);
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
      panel.currentKernel = kernel?.id ?? null;
      setStatusKernel?.(kernel?.id ?? null);
    });

    settingRegistry
      .load(PLUGIN_ID)
      .then(settings => {
        const apply = (): void => {
          const parsed = parseSettings(settings.composite);
          models.runs.poll.refreshInterval = parsed.refreshInterval;
          models.cost.poll.refreshInterval = parsed.refreshInterval;
          panel.settings = parsed;
        };
        apply();
        settings.changed.connect(apply);
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
