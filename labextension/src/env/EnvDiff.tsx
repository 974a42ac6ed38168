/**
 * Environments in the Runs view: the "Environment" section of a run
 * comparison (what changed between two runs' environments) and of one run's
 * details (its hash and `environment.yml`).
 *
 * Package names and versions are rendered as text, never as HTML.
 */
import React, { useEffect, useState } from 'react';

import { isRouteMissing } from '../api/client';
import {
  describeDiff,
  diffRows,
  diffSummary,
  groupByEnvHash,
  type IEnvDiffRow,
  runEnvHash,
  sameEnvironment,
  shortHash
} from './logic';
import { diffKey, type EnvCompareModel } from './model';
import type { IEnvironmentDiff } from '../api/env';
import { TAGS } from '../api/tags';
import type { IRunSummary } from '../api/types';
import { ErrorBox, Section } from '../common/components';
import { useSignal } from '../common/hooks';

const CHANGE_MARK: Record<IEnvDiffRow['change'], string> = {
  added: '+',
  removed: '\u2212',
  changed: '~'
};

function runLabel(run: IRunSummary): string {
  return run.run_name || run.run_id;
}

/** The "Environment" section of a comparison of `runs` (in selection order). */
export function EnvDiffSection(props: {
  model: EnvCompareModel;
  runs: IRunSummary[];
  colors: string[];
}): JSX.Element {
  const { runs } = props;
  if (runs.length === 2) {
    return <PairDiff model={props.model} runs={[runs[0], runs[1]]} />;
  }
  const groups = groupByEnvHash(runs);
  const byId = new Map(runs.map((run, index) => [run.run_id, index]));
  const known = groups.filter(g => g.hash !== null).length;
  return (
    <Section
      title="Environment"
      count={known === 1 ? '1 environment' : `${known} environments`}
    >
      <div
        className="jp-mlops-env-diff"
        data-testid="mlops-env-diff"
        data-state="groups"
      >
        <ul className="jp-mlops-env-groups">
          {groups.map(group => (
            <li key={group.hash ?? ''} data-hash={group.hash ?? ''}>
              <span
                className="jp-mlops-mono jp-mlops-env-group-hash"
                title={group.hash ?? 'no environment snapshot'}
              >
                {group.hash ? shortHash(group.hash) : 'no snapshot'}
              </span>
              {group.runIds.map(id => {
                const index = byId.get(id) ?? 0;
                return (
                  <span key={id} className="jp-mlops-env-group-run">
                    <span
                      className="jp-mlops-swatch"
                      style={{ backgroundColor: props.colors[index] }}
                    />
                    {runLabel(runs[index])}
                  </span>
                );
              })}
            </li>
          ))}
        </ul>
        <div className="jp-mlops-muted">
          Check exactly two runs to see what changed between their environments.
        </div>
      </div>
    </Section>
  );
}

/** What changed from the environment of `runs[0]` to that of `runs[1]`. */
function PairDiff(props: {
  model: EnvCompareModel;
  runs: [IRunSummary, IRunSummary];
}): JSX.Element {
  const { model } = props;
  const [swapped, setSwapped] = useState(false);
  const [from, to] = swapped ? [props.runs[1], props.runs[0]] : props.runs;
  const identicalByTag = sameEnvironment(from, to);
  const key = diffKey(from.run_id, to.run_id, runEnvHash(from), runEnvHash(to));
  useSignal(model.diffs.changed);
  useEffect(() => {
    if (!identicalByTag) {
      model.diffs.request(key);
    }
  }, [model, key, identicalByTag]);
  const state = identicalByTag ? undefined : model.diffs.get(key);

  const header = (
    <div className="jp-mlops-env-diff-direction">
      <span title={from.run_id}>{runLabel(from)}</span>
      <span className="jp-mlops-muted">{' \u2192 '}</span>
      <span title={to.run_id}>{runLabel(to)}</span>
      <button
        className="jp-mlops-button"
        data-testid="mlops-env-diff-swap"
        title="Swap the direction of the comparison"
        onClick={() => setSwapped(!swapped)}
      >
        Swap
      </button>
    </div>
  );

  let body: JSX.Element;
  let dataState: string;
  let count: string | undefined;
  if (identicalByTag) {
    dataState = 'identical';
    count = 'identical';
    body = <Identical hash={runEnvHash(from)} />;
  } else if (!state || state.status === 'loading') {
    dataState = 'loading';
    body = (
      <div className="jp-mlops-muted">Comparing environments{'\u2026'}</div>
    );
  } else if (state.status === 'error') {
    dataState = isRouteMissing(state.error) ? 'unavailable' : 'error';
    body = (
      <>
        <ErrorBox error={state.error!} testId="mlops-env-diff-error" />
        {dataState === 'error' ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-env-diff-retry"
            onClick={() => void model.diffs.retry(key)}
          >
            Retry
          </button>
        ) : null}
      </>
    );
  } else {
    const diff = state.value!;
    const summary = diffSummary(diff);
    dataState = summary.identical ? 'identical' : 'different';
    count = summary.identical ? 'identical' : describeCount(diff);
    body = summary.identical ? (
      <Identical
        hash={runEnvHash(from)}
        other={runEnvHash(to)}
        listedOnly={!!diff.listed_only}
      />
    ) : (
      <DiffTable
        diff={diff}
        from={from}
        to={to}
        hashes={[runEnvHash(from), runEnvHash(to)]}
      />
    );
  }
  return (
    <Section title="Environment" count={count}>
      <div
        className="jp-mlops-env-diff"
        data-testid="mlops-env-diff"
        data-state={dataState}
      >
        {header}
        {body}
      </div>
    </Section>
  );
}

function describeCount(diff: IEnvironmentDiff): string {
  const rows = diffRows(diff).length;
  return rows === 1 ? '1 difference' : `${rows} differences`;
}

function Identical(props: {
  hash: string | null | undefined;
  other?: string | null;
  listedOnly?: boolean;
}): JSX.Element {
  const { hash, other } = props;
  const sameHash = !other || !hash || other === hash;
  return (
    <div
      className="jp-mlops-env-identical"
      data-testid="mlops-env-identical"
      title={hash ?? undefined}
    >
      {'\u2713 '}
      {hash && sameHash
        ? `Identical environments (hash ${shortHash(hash)})`
        : 'Identical environments: no package differences'}
      {hash && !sameHash ? (
        <span className="jp-mlops-muted">
          {` (hashes ${shortHash(hash)} and ${shortHash(other)})`}
        </span>
      ) : null}
      {props.listedOnly ? (
        <span className="jp-mlops-muted">
          {' '}
          (only the packages listed in the snapshot were compared)
        </span>
      ) : null}
    </div>
  );
}

function DiffTable(props: {
  diff: IEnvironmentDiff;
  from: IRunSummary;
  to: IRunSummary;
  hashes: (string | null | undefined)[];
}): JSX.Element {
  const rows = diffRows(props.diff);
  const [fromHash, toHash] = props.hashes;
  return (
    <>
      <div
        className="jp-mlops-env-diff-summary"
        data-testid="mlops-env-diff-summary"
      >
        {describeDiff(props.diff)}
        {fromHash && toHash ? (
          <span className="jp-mlops-muted jp-mlops-mono">
            {` \u00B7 ${shortHash(fromHash)} \u2192 ${shortHash(toHash)}`}
          </span>
        ) : null}
        {props.diff.listed_only ? (
          <span className="jp-mlops-muted">
            {' '}
            (only the packages listed in the snapshot were compared)
          </span>
        ) : null}
      </div>
      <div className="jp-mlops-table-wrapper jp-mlops-env-diff-wrapper">
        <table className="jp-mlops-diff jp-mlops-env-diff-table">
          <thead>
            <tr>
              <th aria-label="Change" />
              <th>Package</th>
              <th title={props.from.run_id}>{runLabel(props.from)}</th>
              <th title={props.to.run_id}>{runLabel(props.to)}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(row => (
              <tr
                key={`${row.change}:${row.section}:${row.name}`}
                className={`jp-mlops-env-change jp-mlops-env-change-${row.change}`}
                data-testid="mlops-env-diff-row"
                data-change={row.change}
                data-name={row.name}
                data-section={row.section}
              >
                <td className="jp-mlops-env-change-mark" title={row.change}>
                  {CHANGE_MARK[row.change]}
                </td>
                <th scope="row" title={`${row.name} (${row.section})`}>
                  {row.name}
                  {row.section !== 'python' && row.section !== 'pip' ? (
                    <span className="jp-mlops-muted">{` ${row.section}`}</span>
                  ) : null}
                </th>
                <td
                  className="jp-mlops-mono jp-mlops-env-old"
                  title={row.old ?? 'absent'}
                >
                  {row.old ?? '\u2014'}
                </td>
                <td
                  className="jp-mlops-mono jp-mlops-env-new"
                  title={row.new ?? 'absent'}
                >
                  {row.new ?? '\u2014'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** The "Environment" section of one run's details: its hash and `environment.yml`. */
export function RunEnvironmentSection(props: {
  model: EnvCompareModel;
  run: IRunSummary;
}): JSX.Element {
  const { model, run } = props;
  const hash = runEnvHash(run);
  const [open, setOpen] = useState(false);
  useSignal(model.snapshots.changed);
  useEffect(() => {
    if (open) {
      model.snapshots.request(run.run_id);
    }
  }, [model, run.run_id, open]);
  const state = open ? model.snapshots.get(run.run_id) : undefined;
  return (
    <Section title="Environment">
      <div className="jp-mlops-env-run" data-testid="mlops-run-env">
        {hash ? (
          <div className="jp-mlops-muted" title={hash}>
            Tag <span className="jp-mlops-mono">{TAGS.ENV_HASH}</span>{' '}
            <span className="jp-mlops-mono">{shortHash(hash)}</span>
          </div>
        ) : (
          <div className="jp-mlops-muted">
            This run has no environment hash tag.
          </div>
        )}
        <button
          className="jp-mlops-button"
          data-testid="mlops-run-env-toggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide environment.yml' : 'Show environment.yml'}
        </button>
        {open && state?.status === 'ready' ? (
          <pre className="jp-mlops-env-yml" data-testid="mlops-env-yml">
            {state.value!.environment_yml}
          </pre>
        ) : null}
        {open && state?.status === 'error' ? (
          <ErrorBox error={state.error!} testId="mlops-run-env-error" />
        ) : null}
        {open && (!state || state.status === 'loading') ? (
          <div className="jp-mlops-muted">Loading{'\u2026'}</div>
        ) : null}
      </div>
    </Section>
  );
}
