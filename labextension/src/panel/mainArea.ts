/**
 * "Open in main area": the MLOps panel's content as a main-area tab, for
 * wide work. The tab's panel is built by the plugin over the same models as
 * the sidebar's (one set of models and polls); closing the tab disposes only
 * its panel, and opening it again builds a new one.
 *
 * An open tab comes back after a reload, on the view it showed: the tab is
 * tracked (`tracker`) and the plugin hands that tracker to JupyterLab's
 * layout restorer, which re-runs the open command with `{ view }`.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';

import { mlopsIcon } from '../common/icons';
import { PANEL_VIEWS, type PanelView } from './header';
import type { MlopsPanel } from './panel';

/** The main-area tab's id. */
export const MAIN_AREA_ID = 'jupyter-mlops-main';

/** The id of the panel inside it (the name it gives the models' polls). */
export const MAIN_PANEL_ID = 'jupyter-mlops-main-panel';

/** The name of the tab in the saved layout. */
export const MAIN_AREA_RESTORE_NAME = 'mlops-main';

/** `value` when it names a view of the panel (a command's `view` argument). */
export function panelViewOf(value: unknown): PanelView | undefined {
  return PANEL_VIEWS.find(v => v.id === value)?.id;
}

/** Opens (or shows again) the one main-area tab of the panel. */
export class MainAreaOpener {
  /** `create(id)` builds a panel with that id over the plugin's models. */
  constructor(
    private readonly _shell: JupyterFrontEnd.IShell,
    private readonly _create: (id: string) => MlopsPanel
  ) {}

  /** The open tab, for the layout restorer (its view is saved on change). */
  readonly tracker = new WidgetTracker<MainAreaWidget<MlopsPanel>>({
    namespace: 'jupyter-mlops-main'
  });

  /** The tab, while it is open. */
  get widget(): MainAreaWidget<MlopsPanel> | null {
    return this._widget && !this._widget.isDisposed ? this._widget : null;
  }

  /** Open the tab (or activate the open one), showing `view` when given. */
  open(view?: PanelView): MainAreaWidget<MlopsPanel> {
    let widget = this.widget;
    if (!widget) {
      widget = new MainAreaWidget({ content: this._create(MAIN_PANEL_ID) });
      widget.id = MAIN_AREA_ID;
      widget.addClass('jp-mlops-main-area');
      widget.title.label = 'MLOps';
      widget.title.caption = 'MLOps: runs, environment, cost and pipelines';
      widget.title.icon = mlopsIcon;
      widget.title.closable = true;
      this._widget = widget;
      const tab = widget;
      tab.content.viewChanged.connect(() => void this.tracker.save(tab));
      this._shell.add(widget, 'main');
      void this.tracker.add(widget);
    }
    if (view) {
      widget.content.view = view;
    }
    this._shell.activateById(widget.id);
    return widget;
  }

  private _widget: MainAreaWidget<MlopsPanel> | null = null;
}
