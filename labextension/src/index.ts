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
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { mlopsIcon } from './icons';
import { followCurrentKernel } from './kernels';
import { parseSettings } from './settings';
import { MlopsPanel } from './widgets/panel';

export const PLUGIN_ID = 'jupyter-mlops:plugin';

export namespace CommandIDs {
  export const open = 'jupyter-mlops:open';
  export const refresh = 'jupyter-mlops:refresh';
  export const environment = 'jupyter-mlops:environment';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    "The MLOps sidebar: experiment runs, details and comparisons, and the current kernel's environment.",
  autoStart: true,
  requires: [ISettingRegistry],
  optional: [ILabShell, ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    settingRegistry: ISettingRegistry,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ): void => {
    const panel = new MlopsPanel({
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
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh MLOps Runs',
      execute: () => panel.refresh()
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.environment, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.refresh, category: 'MLOps' });
    }

    // The Environment view describes the kernel of the notebook (or console)
    // last active in the main area; without one, the server's interpreter.
    const following = followCurrentKernel(app.shell, kernel =>
      panel.envModel.setKernel(kernel)
    );
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
