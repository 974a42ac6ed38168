/**
 * The runs list's filters: experiment, the search box, status, sort.
 * Every filter and sort is applied by the server; the search box takes
 * MLflow's filter syntax or the shorthand, and a text the server refuses is
 * explained under the box while the list stays as it was.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { shortHash } from '../env/logic';
import {
  type ISortState,
  MAX_SEARCH_LENGTH,
  metricKeys,
  paramKeys
} from './logic';
import type { RunsModel } from './model';
import { RUN_STATUSES, type RunStatus } from '../api/types';

/** Debounce before a typed search is sent to the server. */
const SEARCH_DEBOUNCE_MS = 300;

export function Filters({ model }: { model: RunsModel }): JSX.Element {
  const filter = model.filter;
  const [search, setSearch] = useState(model.searchInput);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  // The box follows the model when the search changes elsewhere ("Clear filter").
  useEffect(() => setSearch(model.searchInput), [model.searchInput]);

  const apply = (value: string): void => {
    window.clearTimeout(timer.current);
    if (value !== model.searchInput || model.searchError) {
      void model.setFilter({ search: value });
    }
  };
  const onSearch = (value: string): void => {
    setSearch(value);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => apply(value), SEARCH_DEBOUNCE_MS);
  };
  const searchError = model.searchError;

  return (
    <div className="jp-mlops-filters">
      <select
        className="jp-mod-styled jp-mlops-experiment-select"
        data-testid="mlops-experiment-select"
        aria-label="Experiment"
        value={filter.experimentId}
        onChange={e => void model.setFilter({ experimentId: e.target.value })}
      >
        <option value="">All experiments</option>
        {model.experiments.map(experiment => (
          <option
            key={experiment.experiment_id}
            value={experiment.experiment_id}
          >
            {experiment.name}
          </option>
        ))}
      </select>
      <div className="jp-mlops-filter-row">
        <input
          type="search"
          className="jp-mod-styled jp-mlops-search"
          data-testid="mlops-search"
          aria-label="Search runs"
          aria-invalid={searchError ? true : undefined}
          aria-describedby={searchError ? 'jp-mlops-search-error' : undefined}
          placeholder="name, lr=0.3 acc>0.9, or params.lr = '0.3'"
          title={
            "A word matches the run name; key=value, key>number a param, metric or tag; or MLflow's filter syntax: params.lr = '0.3' and metrics.accuracy > 0.9"
          }
          maxLength={MAX_SEARCH_LENGTH}
          value={search}
          onChange={e => onSearch(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              apply(search);
            }
          }}
        />
        <select
          className="jp-mod-styled jp-mlops-status-filter"
          data-testid="mlops-status-filter"
          aria-label="Status"
          value={filter.status}
          onChange={e =>
            void model.setFilter({ status: e.target.value as RunStatus | '' })
          }
        >
          <option value="">Any status</option>
          {RUN_STATUSES.map(status => (
            <option key={status} value={status}>
              {status.toLowerCase()}
            </option>
          ))}
        </select>
      </div>
      {searchError ? (
        <div
          className="jp-mlops-search-error"
          id="jp-mlops-search-error"
          data-testid="mlops-search-error"
          role="alert"
        >
          <div>{searchError.message}</div>
          {searchError.hint ? (
            <div className="jp-mlops-error-hint">{searchError.hint}</div>
          ) : null}
        </div>
      ) : null}
      <SortSelect model={model} />
      {filter.envHash ? (
        <div
          className="jp-mlops-filter-row jp-mlops-env-filter"
          data-testid="mlops-env-filter"
          data-hash={filter.envHash}
        >
          <span className="jp-mlops-muted">Environment</span>
          <span className="jp-mlops-mono" title={filter.envHash}>
            {shortHash(filter.envHash)}
          </span>
          <button
            className="jp-mlops-button"
            data-testid="mlops-env-filter-clear"
            title="Show the runs of every environment"
            onClick={() => void model.setFilter({ envHash: '' })}
          >
            Any environment
          </button>
        </div>
      ) : null}
    </div>
  );
}

/** Sort by any column the server can order by, including each metric and param. */
function SortSelect({ model }: { model: RunsModel }): JSX.Element {
  const { key, direction } = model.sort;
  const added = model.columns.join('\n');
  const options = useMemo(() => {
    const keys = [
      ['start_time', 'Start time'],
      ['run_name', 'Run name'],
      ['status', 'Status'],
      ...metricKeys(model.runs).map(k => [`metrics.${k}`, `metric: ${k}`]),
      ...paramKeys(model.runs).map(k => [`params.${k}`, `param: ${k}`]),
      ...added
        .split('\n')
        .filter(Boolean)
        .map(k => [k, k])
    ].filter(([k], i, all) => all.findIndex(([o]) => o === k) === i);
    if (!keys.some(([k]) => k === key)) {
      keys.push([key, key]);
    }
    return keys;
  }, [model.runs, key, added]);
  const change = (next: Partial<ISortState>): void => {
    void model.setSort({ key, direction, ...next });
  };
  return (
    <div className="jp-mlops-filter-row">
      <span className="jp-mlops-muted jp-mlops-sort-label">Sort</span>
      <select
        className="jp-mod-styled jp-mlops-sort-select"
        data-testid="mlops-sort-select"
        aria-label="Sort by"
        value={key}
        onChange={e => change({ key: e.target.value })}
      >
        {options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <select
        className="jp-mod-styled jp-mlops-sort-direction"
        data-testid="mlops-sort-direction"
        aria-label="Sort direction"
        value={direction}
        onChange={e => change({ direction: e.target.value as 'ASC' | 'DESC' })}
      >
        <option value="DESC">desc</option>
        <option value="ASC">asc</option>
      </select>
    </div>
  );
}
