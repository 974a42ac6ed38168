/**
 * The panel's user settings (`labextension/schema/plugin.json`), validated.
 */
import {
  COLUMN_IDS,
  type ColumnId,
  DEFAULT_COLUMN_IDS,
  MAX_PAGE_SIZE
} from './runs/logic';

export interface IPanelSettings {
  /** Seconds between auto-refreshes of the runs list. */
  refreshInterval: number;
  /** Columns shown in the runs table. */
  visibleColumns: ColumnId[];
  /** Runs fetched per page ("Load more"). */
  pageSize: number;
}

export const DEFAULT_SETTINGS: IPanelSettings = {
  refreshInterval: 5,
  visibleColumns: [...DEFAULT_COLUMN_IDS],
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
  const visibleColumns = Array.isArray(columns)
    ? COLUMN_IDS.filter(id => columns.includes(id) && known.has(id))
    : [...DEFAULT_SETTINGS.visibleColumns];
  const size = raw.pageSize;
  const pageSize =
    typeof size === 'number' && Number.isFinite(size)
      ? Math.max(10, Math.min(MAX_PAGE_SIZE, Math.floor(size)))
      : DEFAULT_SETTINGS.pageSize;
  return { refreshInterval, visibleColumns, pageSize };
}
