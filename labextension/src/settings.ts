/**
 * The panel's user settings (`labextension/schema/plugin.json`), validated,
 * and the one place the panel writes them (the user columns).
 */
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

import { userColumnIds } from './runs/columns';
import { COLUMN_IDS, DEFAULT_COLUMN_IDS, MAX_PAGE_SIZE } from './runs/logic';

export interface IPanelSettings {
  /** Seconds between auto-refreshes of the runs list. */
  refreshInterval: number;
  /**
   * Columns shown in the runs table: the chosen built-in ones (`ColumnId`),
   * then the user columns of `columns` (`metrics.<key>`, `params.<key>`, `tags.<key>`).
   */
  visibleColumns: string[];
  /** One column per metric, param or tag: `metrics.accuracy`, `params.lr`. */
  columns: string[];
  /** Runs fetched per page ("Load more"). */
  pageSize: number;
}

export const DEFAULT_SETTINGS: IPanelSettings = {
  refreshInterval: 5,
  visibleColumns: [...DEFAULT_COLUMN_IDS],
  columns: [],
  pageSize: 100
};

/** The lower bound on the refresh interval, in seconds. */
export const MIN_REFRESH_INTERVAL = 1;

/** Settings from the registry's composite value, falling back to defaults for bad values. */
export function parseSettings(composite: unknown): IPanelSettings {
  const raw =
    composite !== null && typeof composite === 'object'
      ? (composite as Record<string, unknown>)
      : {};
  const interval = raw.refreshInterval;
  const refreshInterval =
    typeof interval === 'number' && Number.isFinite(interval)
      ? Math.max(MIN_REFRESH_INTERVAL, interval)
      : DEFAULT_SETTINGS.refreshInterval;
  const columns = raw.visibleColumns;
  const known = new Set<string>(COLUMN_IDS);
  const builtin: string[] = Array.isArray(columns)
    ? COLUMN_IDS.filter(id => columns.includes(id) && known.has(id))
    : [...DEFAULT_SETTINGS.visibleColumns];
  const user = Array.isArray(raw.columns)
    ? userColumnIds(
        raw.columns.filter((c): c is string => typeof c === 'string')
      )
    : [];
  const visibleColumns = [...builtin, ...user];
  const size = raw.pageSize;
  const pageSize =
    typeof size === 'number' && Number.isFinite(size)
      ? Math.max(10, Math.min(MAX_PAGE_SIZE, Math.floor(size)))
      : DEFAULT_SETTINGS.pageSize;
  return { refreshInterval, visibleColumns, columns: user, pageSize };
}

/**
 * Save the user columns (`RunsListModel.columnStore`) as the `columns`
 * setting of `settings` once they are loaded: "column" in a run's details
 * and "hide" in the runs table write the user's settings file, so they
 * last across reloads and show in the Settings Editor.
 */
export function columnStore(
  settings: Promise<Pick<ISettingRegistry.ISettings, 'set'>>
): (ids: string[]) => Promise<void> {
  return async ids => {
    await (await settings).set('columns', userColumnIds(ids));
  };
}
