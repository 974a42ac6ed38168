/**
 * jupyter-mlops: the MLOps sidebar panel (experiment runs tracked with MLflow).
 */
import {
  ILabShell,
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { KernelAPI } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';

import { mlopsIcon } from './icons';
import { followCurrentKernel } from './kernels';
import { parseSettings } from './settings';
import { CostStatusWidget, type IKernelActions } from './widgets/cost';
import { MlopsPanel } from './widgets/panel';

export const PLUGIN_ID = 'jupyter-mlops:plugin';

export namespace CommandIDs {
  export const open = 'jupyter-mlops:open';
  export const refresh = 'jupyter-mlops:refresh';
  export const environment = 'jupyter-mlops:environment';
  export const cost = 'jupyter-mlops:cost';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    "The MLOps sidebar: experiment runs, details and comparisons, the current kernel's environment, and live compute cost (with a status bar item).",
  autoStart: true,
  requires: [ISettingRegistry],
  optional: [ILabShell, ILayoutRestorer, ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ): void => {
    const services = app.serviceManager;
    const kernelActions: IKernelActions = {
      interrupt: id => KernelAPI.interruptKernel(id, services.serverSettings),
      // Through the manager, so that its running-kernels model follows.
      shutdown: id => services.kernels.shutdown(id)
    };
    const panel = new MlopsPanel({
      kernelActions,
      openNotebook: path => {
        void app.commands.execute('docmanager:open', { path });
      }
    });
    panel.title.label = labShell ? '' : 'MLOps';
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, 'jupyter-mlops');
    }

    app.commands.addCommand(CommandIDs.open, {
      label: 'Open MLOps Panel',
      caption: 'Show experiment runs tracked with jupyter-mlops',
      icon: mlopsIcon,
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.environment, {
      label: 'Show Kernel Environment',
      caption: "The packages of the current notebook's kernel",
      icon: mlopsIcon,
      execute: () => {
        panel.view = 'environment';
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.cost, {
      label: 'Show Compute Cost',
      caption: 'The live compute cost of every running kernel',
      icon: mlopsIcon,
      execute: () => {
        panel.view = 'cost';
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh MLOps Runs',
      execute: () => panel.refresh()
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.environment, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.cost, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.refresh, category: 'MLOps' });
    }

    // The status bar item: the current kernel's `$so_far · $rate/h`. Hidden
    // until that kernel has a cost, and when the server has no cost at all.
    let costItem: CostStatusWidget | null = null;
    let updateCostItem = (): void => undefined;
    if (statusBar) {
      const item = new CostStatusWidget(panel.costModel, () => {
        void app.commands.execute(CommandIDs.cost);
      });
      const activeStateChanged = new Signal<CostStatusWidget, void>(item);
      let shown = false;
      updateCostItem = () => {
        if (item.hasValue !== shown) {
          shown = item.hasValue;
          activeStateChanged.emit();
        }
      };
      panel.costModel.changed.connect(updateCostItem);
      const registration = statusBar.registerStatusItem(
        'jupyter-mlops:cost-status',
        {
          item,
          align: 'left',
          rank: 100,
          isActive: () => item.hasValue,
          activeStateChanged
        }
      );
      panel.disposed.connect(() => registration.dispose());
      costItem = item;
      panel.keepCostCurrent();
    }

    // The Environment view describes the kernel of the notebook (or console)
    // last active in the main area; without one, the server's interpreter. The
    // Cost view highlights that kernel; the status bar item shows its cost.
    const following = followCurrentKernel(app.shell, kernel => {
      panel.envModel.setKernel(kernel);
      panel.currentKernel = kernel?.id ?? null;
      if (costItem) {
        costItem.kernelId = kernel?.id ?? null;
        updateCostItem();
      }
    });
    panel.disposed.connect(() => following.dispose());

    settingRegistry
      .load(PLUGIN_ID)
      .then(settings => {
        const apply = (): void => {
          panel.settings = parseSettings(settings.composite);
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
  }
};

export default plugin;
