/**
 * jupyter-mlops: the MLOps sidebar panel (experiment runs tracked with MLflow).
 */
import {
  ILabShell,
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  showErrorMessage
} from '@jupyterlab/apputils';
import { KernelAPI } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import React from 'react';

import { mlopsIcon, pipelineIcon } from './common/icons';
import { followCurrentKernel } from './env/kernels';
import { parseSettings } from './settings';
import { CostStatusWidget, type IKernelActions } from './cost/CostView';
import {
  ExportForm,
  type ExportState,
  exportToPipeline,
  notebookOf
} from './pipelines/ExportDialog';
import { MlopsPanel } from './panel/panel';

export const PLUGIN_ID = 'jupyter-mlops:plugin';

export namespace CommandIDs {
  export const open = 'jupyter-mlops:open';
  export const refresh = 'jupyter-mlops:refresh';
  export const environment = 'jupyter-mlops:environment';
  export const cost = 'jupyter-mlops:cost';
  export const pipelines = 'jupyter-mlops:pipelines';
  export const exportPipeline = 'jupyter-mlops:export-pipeline';
}

/** The "Export to pipeline" dialog for `state`; true on "Export". */
async function askExport(state: ExportState): Promise<boolean> {
  const body = ReactWidget.create(React.createElement(ExportForm, { state }));
  body.addClass('jp-mlops-export-body');
  const dialog = new Dialog({
    title: 'Export to pipeline',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export' })],
    focusNodeSelector: 'input'
  });
  dialog.addClass('jp-mlops-export-dialog');
  const result = await dialog.launch();
  return result.button.accept;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    "The MLOps sidebar: experiment runs, details and comparisons, the current kernel's environment, live compute cost (with a status bar item), and notebook pipelines (Export to pipeline in the notebook toolbar).",
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
    app.commands.addCommand(CommandIDs.pipelines, {
      label: 'Show Pipelines',
      caption:
        'Notebook pipelines: run them, sweep their parameters, follow their runs',
      icon: pipelineIcon,
      execute: () => {
        panel.view = 'pipelines';
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.exportPipeline, {
      label: 'Export to pipeline',
      caption:
        'Export this notebook to a pipeline (papermill steps, parameters, dvc.yaml)',
      icon: pipelineIcon,
      // The notebook toolbar's button belongs to a notebook: always enabled.
      isEnabled: args =>
        !!args.toolbar || notebookOf(app.shell.currentWidget) !== null,
      execute: async () => {
        const notebook = notebookOf(app.shell.currentWidget);
        if (!notebook) {
          await showErrorMessage(
            'Export to pipeline',
            'Open a notebook (and click into it) to export it to a pipeline.'
          );
          return;
        }
        const result = await exportToPipeline({
          client: panel.pipelinesModel.client,
          notebook,
          ask: askExport
        });
        if (result) {
          app.shell.activateById(panel.id);
          await panel.showPipeline(result.path, result.warnings ?? []);
        }
      }
    });
    labShell?.currentChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.exportPipeline)
    );
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh MLOps Runs',
      execute: () => panel.refresh()
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.environment, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.cost, category: 'MLOps' });
      palette.addItem({ command: CommandIDs.pipelines, category: 'MLOps' });
      palette.addItem({
        command: CommandIDs.exportPipeline,
        category: 'MLOps'
      });
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
