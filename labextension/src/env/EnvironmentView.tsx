/**
 * The Environment view: the current kernel's Python environment (or the Jupyter
 * server's when no notebook kernel runs), its packages searchable by name.
 *
 * Package names, versions and origins are rendered as text, never as HTML.
 */
import React, { useDeferredValue, useEffect, useRef, useState } from 'react';

import { SERVER_MISSING_MESSAGE } from '../api/client';
import { isRouteMissing } from '../api/client';
import { packageCounts, shortHash } from './logic';
import type { EnvironmentModel } from './model';
import type { IEnvPackage } from '../api/env';
import { TAGS } from '../api/tags';
import type { RunsModel } from '../runs/model';
import { ErrorBox } from '../common/components';
import { useSignal } from '../common/hooks';

export interface IEnvironmentViewProps {
  model: EnvironmentModel;
  /** The Runs view's model: tells whether the server extension is there at all. */
  runs: RunsModel;
}

export function EnvironmentView(props: IEnvironmentViewProps): JSX.Element {
  const { model, runs } = props;
  useSignal(model.changed);
  useSignal(runs.changed);
  if (runs.serverMissing) {
    return (
      <div className="jp-mlops-env" data-testid="mlops-env-view">
        <div
          className="jp-mlops-server-missing"
          data-testid="mlops-env-server-missing"
        >
          <p className="jp-mlops-server-missing-title">
            The MLOps panel cannot reach its server extension.
          </p>
          <p>{SERVER_MISSING_MESSAGE}</p>
          <button
            className="jp-mlops-button"
            data-testid="mlops-env-server-retry"
            onClick={() => void runs.start()}
          >
            Retry
          </button>
        </div>
      </div>
    );
  }
  const env = model.env;
  return (
    <div
      className="jp-mlops-env"
      data-testid="mlops-env-view"
      aria-busy={model.loading}
    >
      <KernelLine model={model} />
      {model.error ? (
        <>
          <ErrorBox error={model.error} testId="mlops-env-error" />
          {isRouteMissing(model.error) ? null : (
            <button
              className="jp-mlops-button jp-mlops-env-retry"
              data-testid="mlops-env-retry"
              onClick={() => void model.load()}
            >
              Retry
            </button>
          )}
        </>
      ) : null}
      {env ? (
        <>
          <EnvSummary model={model} />
          <PackageFilters model={model} />
          <PackageTable model={model} />
        </>
      ) : model.loading ? (
        <div className="jp-mlops-empty" data-testid="mlops-env-loading">
          Reading the environment{'\u2026'}
        </div>
      ) : null}
    </div>
  );
}

/** Which interpreter is shown, and why when it is not the notebook's kernel. */
function KernelLine({ model }: { model: EnvironmentModel }): JSX.Element {
  const kernel = model.kernel;
  const env = model.env;
  let note = '';
  if (!kernel) {
    note =
      'No notebook kernel is running: showing the Python of the Jupyter server. ' +
      'Open a notebook to see its kernel\u2019s environment.';
  } else if (env && model.isFallback) {
    note =
      'The server could not read this kernel\u2019s environment: showing the ' +
      'Python of the Jupyter server instead.';
  }
  return (
    <div className="jp-mlops-env-kernel" data-testid="mlops-env-kernel">
      {kernel ? (
        <div className="jp-mlops-env-kernel-name">
          <span className="jp-mlops-muted">Kernel </span>
          <span title={kernel.id}>{kernel.name || kernel.id}</span>
          {kernel.path ? (
            <span className="jp-mlops-muted" title={kernel.path}>
              {' \u00B7 '}
              {kernel.path}
            </span>
          ) : null}
        </div>
      ) : (
        <div className="jp-mlops-env-kernel-name">
          <span className="jp-mlops-muted">Jupyter server</span>
        </div>
      )}
      {note ? (
        <div className="jp-mlops-env-note" data-testid="mlops-env-note">
          {note}
        </div>
      ) : null}
    </div>
  );
}

function EnvSummary({ model }: { model: EnvironmentModel }): JSX.Element {
  const env = model.env!;
  const counts = packageCounts(env.packages);
  const sources = [
    counts.pip ? `${counts.pip} pip` : '',
    counts.conda ? `${counts.conda} conda` : ''
  ]
    .filter(Boolean)
    .join(', ');
  return (
    <dl className="jp-mlops-meta jp-mlops-env-summary">
      <dt>Python</dt>
      <dd data-testid="mlops-env-python">{env.python || '\u2014'}</dd>
      <dt>Prefix</dt>
      <dd className="jp-mlops-mono" data-testid="mlops-env-prefix">
        {env.prefix}
      </dd>
      <dt>Packages</dt>
      <dd data-testid="mlops-env-package-count">
        {counts.total}
        {sources ? ` (${sources})` : ''}
        {counts.requested ? `, ${counts.requested} requested` : ''}
      </dd>
      <dt>Hash</dt>
      <dd
        className="jp-mlops-mono"
        data-testid="mlops-env-hash-current"
        data-hash={env.hash}
        title={`${env.hash}\nRuns tracked in this environment carry this hash (tag ${TAGS.ENV_HASH}).`}
      >
        {shortHash(env.hash) || '\u2014'}
      </dd>
    </dl>
  );
}

/** Debounce of the search box: filtering is fast, rendering 1000 rows less so. */
const SEARCH_DEBOUNCE_MS = 80;

function PackageFilters({ model }: { model: EnvironmentModel }): JSX.Element {
  const filter = model.filter;
  const [query, setQuery] = useState(filter.query);
  const timer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const hasConda = model.env?.packages.some(p => p.source === 'conda');
  const onSearch = (value: string): void => {
    setQuery(value);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(
      () => model.setFilter({ query: value }),
      SEARCH_DEBOUNCE_MS
    );
  };
  return (
    <div className="jp-mlops-filters jp-mlops-env-filters">
      <div className="jp-mlops-filter-row">
        <input
          type="search"
          className="jp-mod-styled jp-mlops-search"
          data-testid="mlops-env-search"
          aria-label="Search packages by name"
          placeholder="Search packages"
          maxLength={200}
          value={query}
          onChange={e => onSearch(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Escape' && query) {
              e.preventDefault();
              e.stopPropagation();
              window.clearTimeout(timer.current);
              setQuery('');
              model.setFilter({ query: '' });
            }
          }}
        />
        {hasConda ? (
          <select
            className="jp-mod-styled jp-mlops-status-filter"
            data-testid="mlops-env-source"
            aria-label="Package source"
            value={filter.source ?? ''}
            onChange={e =>
              model.setFilter({
                source: e.target.value as 'pip' | 'conda' | ''
              })
            }
          >
            <option value="">pip + conda</option>
            <option value="pip">pip</option>
            <option value="conda">conda</option>
          </select>
        ) : null}
      </div>
      <label className="jp-mlops-toggle">
        <input
          type="checkbox"
          data-testid="mlops-env-requested-only"
          checked={!!filter.requestedOnly}
          onChange={e => model.setFilter({ requestedOnly: e.target.checked })}
        />
        Only requested packages
      </label>
    </div>
  );
}

function PackageTable({ model }: { model: EnvironmentModel }): JSX.Element {
  // Typing stays responsive while a long list re-renders.
  const packages = useDeferredValue(model.packages);
  const total = model.env?.packages.length ?? 0;
  return (
    <>
      <div className="jp-mlops-env-count jp-mlops-muted">
        <span data-testid="mlops-env-count">
          {packages.length === total
            ? `${total} packages`
            : `${packages.length} of ${total} packages`}
        </span>
      </div>
      {packages.length ? (
        <div className="jp-mlops-table-wrapper">
          <table
            className="jp-mlops-table jp-mlops-env-table"
            data-testid="mlops-env-table"
          >
            <thead>
              <tr>
                <th>Name</th>
                <th>Version</th>
                <th>Source</th>
                <th title="Installed on request (not only as a dependency)">
                  Requested
                </th>
                <th>Origin</th>
              </tr>
            </thead>
            <tbody>
              {packages.map(pkg => (
                <PackageRow key={`${pkg.source}:${pkg.name}`} pkg={pkg} />
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <div className="jp-mlops-empty" data-testid="mlops-env-no-match">
          No package matches.
        </div>
      )}
    </>
  );
}

/** One package; rows re-render only when their package changes. */
const PackageRow = React.memo(PackageRowView);

function PackageRowView({ pkg }: { pkg: IEnvPackage }): JSX.Element {
  return (
    <tr
      className="jp-mlops-env-row"
      data-testid="mlops-env-row"
      data-name={pkg.name}
      data-source={pkg.source}
    >
      <td className="jp-mlops-env-name" title={pkg.name}>
        {pkg.name}
      </td>
      <td className="jp-mlops-env-version jp-mlops-mono" title={pkg.version}>
        {pkg.version}
      </td>
      <td className="jp-mlops-env-source">{pkg.source}</td>
      <td
        className="jp-mlops-env-requested"
        title={pkg.requested ? 'requested' : 'dependency'}
      >
        {pkg.requested ? '\u2713' : ''}
      </td>
      <td
        className="jp-mlops-env-origin jp-mlops-muted"
        title={pkg.origin ?? ''}
      >
        {pkg.origin ?? ''}
      </td>
    </tr>
  );
}
