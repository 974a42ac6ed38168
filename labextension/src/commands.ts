/**
 * The plugin's commands (and their palette items): open the panel on a
 * view, open it in the main area, refresh it, "Export to pipeline".
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  type ICommandPalette,
  showErrorMessage
} from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import type { IPipelinesClient } from './api/pipelines';
import { mlopsIcon, pipelineIcon } from './common/icons';
import type { PanelView } from './panel/header';
import { type MainAreaOpener, panelViewOf } from './panel/mainArea';
import type { MlopsPanel } from './panel/panel';
import {
  ExportForm,
  type ExportState,
  exportToPipeline,
  notebookOf
} from './pipelines/ExportDialog';

export namespace CommandIDs {
  export const open = 'jupyter-mlops:open';
  export const openMain = 'jupyter-mlops:open-main';
  export const refresh = 'jupyter-mlops:refresh';
  export const environment = 'jupyter-mlops:environment';
  export const cost = 'jupyter-mlops:cost';
  export const pipelines = 'jupyter-mlops:pipelines';
  export const exportPipeline = 'jupyter-mlops:export-pipeline';
}

/** The commands that show one view of the panel. */
const VIEW_COMMANDS: readonly {
  id: string;
  view: PanelView;
  label: string;
  caption: string;
  icon: typeof mlopsIcon;
}[] = [
  {
    id: CommandIDs.environment,
    view: 'environment',
    label: 'Show Kernel Environment',
    caption: "The packages of the current notebook's kernel",
    icon: mlopsIcon
  },
  {
    id: CommandIDs.cost,
    view: 'cost',
    label: 'Show Compute Cost',
    caption: 'The live compute cost of every running kernel',
    icon: mlopsIcon
  },
  {
    id: CommandIDs.pipelines,
    view: 'pipelines',
    label: 'Show Pipelines',
    caption:
      'Notebook pipelines: run them, sweep their parameters, follow their runs',
    icon: pipelineIcon
  }
];

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

/**
 * Add the commands over `panel` (the sidebar's) and `mainArea` (its
 * main-area tab), and their palette items when there is a palette.
 */
export function addCommands(
  app: JupyterFrontEnd,
  panel: MlopsPanel,
  pipelines: IPipelinesClient,
  palette: ICommandPalette | null,
  mainArea: MainAreaOpener
): void {
  app.commands.addCommand(CommandIDs.open, {
    label: 'Open MLOps Panel',
    caption: 'Show experiment runs tracked with jupyter-mlops',
    icon: mlopsIcon,
    execute: () => {
      app.shell.activateById(panel.id);
    }
  });
  app.commands.addCommand(CommandIDs.openMain, {
    label: 'Open MLOps in Main Area',
    caption:
      'Open the MLOps panel as a tab in the main area (wide tables and charts)',
    icon: mlopsIcon,
    // `view`: the view a restored tab showed (the layout restorer passes it).
    execute: args => {
      mainArea.open(panelViewOf(args.view) ?? panel.view);
    }
  });
  for (const { id, view, label, caption, icon } of VIEW_COMMANDS) {
    app.commands.addCommand(id, {
      label,
      caption,
      icon,
      execute: () => {
        panel.view = view;
        app.shell.activateById(panel.id);
      }
    });
  }
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
        client: pipelines,
        notebook,
        ask: askExport
      });
      if (result) {
        app.shell.activateById(panel.id);
        await panel.showPipeline(result.path, result.warnings ?? []);
      }
    }
  });
  app.commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh MLOps Runs',
    execute: () => panel.refresh()
  });
  if (palette) {
    for (const command of [
      CommandIDs.open,
      CommandIDs.openMain,
      CommandIDs.environment,
      CommandIDs.cost,
      CommandIDs.pipelines,
      CommandIDs.exportPipeline,
      CommandIDs.refresh
    ]) {
      palette.addItem({ command, category: 'MLOps' });
    }
  }
}
