/**
 * The run form of the selected pipeline: one typed input per step parameter
 * (non-literal defaults flagged and left to the notebook), a sweep per
 * parameter, workers, executor, timeout and max cost (a spend cap), "force
 * re-run" (the cache skips unchanged steps otherwise) and retries.
 *
 * Names and values are rendered as text, never as HTML.
 */
import React from 'react';

import type { IPipeline } from '../api/pipelines';
import { Section } from '../common/components';
import {
  displayValue,
  type IFormField,
  type IFormState,
  MAX_RETRIES,
  trialCount
} from './form';
import { ErrorList } from './launches';
import type { PipelinesModel } from './model';

/** A number input that may stay empty ("none"): the timeout, the max cost. */
function OptionalNumber(props: {
  label: string;
  title?: string;
  min: number;
  testId: string;
  value: string;
  onChange: (text: string) => void;
}): JSX.Element {
  return (
    <label title={props.title}>
      {props.label}
      <input
        className="jp-mod-styled"
        type="number"
        min={props.min}
        step="any"
        placeholder="none"
        data-testid={props.testId}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      />
    </label>
  );
}

/** The run form of the selected pipeline. */
export function RunForm(props: {
  model: PipelinesModel;
  pipeline: IPipeline;
}): JSX.Element {
  const { model, pipeline } = props;
  const form = model.form;
  const sweeps = Object.entries(form.sweeps).filter(([, text]) => text.trim());
  return (
    <Section title={`Run ${pipeline.name}`}>
      <form
        className="jp-mlops-pipeline-form"
        data-testid="mlops-pipeline-form"
        onSubmit={event => {
          event.preventDefault();
          void model.run();
        }}
      >
        <ParamTable
          fields={model.fields}
          form={form}
          onValue={(key, value) => model.setValue(key, value)}
          onSweep={(key, text) => model.setSweep(key, text)}
        />
        <div className="jp-mlops-pipeline-options">
          <label>
            {'Workers '}
            <input
              className="jp-mod-styled"
              type="number"
              min={1}
              step={1}
              data-testid="mlops-pipeline-workers"
              value={form.workers}
              onChange={event =>
                model.setOptions({ workers: event.target.value })
              }
            />
          </label>
          <label>
            {'Executor '}
            <select
              className="jp-mod-styled"
              data-testid="mlops-pipeline-executor"
              value={form.executor}
              onChange={event =>
                model.setOptions({
                  executor: event.target.value === 'dask' ? 'dask' : 'local'
                })
              }
            >
              <option value="local">local</option>
              <option value="dask">dask</option>
            </select>
          </label>
          <OptionalNumber
            label="Timeout (s) "
            min={1}
            testId="mlops-pipeline-timeout"
            value={form.timeout}
            onChange={timeout => model.setOptions({ timeout })}
          />
          <OptionalNumber
            label="Max cost "
            title="Spend cap of the whole run: an estimate is shown first; once reached, nothing more starts and running executions end KILLED (budget)"
            min={0}
            testId="mlops-pipeline-max-cost"
            value={form.maxCost}
            onChange={maxCost => model.setOptions({ maxCost })}
          />
        </div>
        <RunOptions model={model} />
        {model.formErrors.length ? (
          <div
            className="jp-mlops-error"
            data-testid="mlops-pipeline-form-errors"
            role="alert"
          >
            <ul className="jp-mlops-error-list">
              {model.formErrors.map((line, i) => (
                <li key={i}>{line}</li>
              ))}
            </ul>
          </div>
        ) : null}
        {model.runError ? (
          <ErrorList error={model.runError} testId="mlops-pipeline-run-error" />
        ) : null}
        <div className="jp-mlops-pipeline-actions">
          <button
            type="submit"
            className="jp-mlops-button jp-mod-accept"
            data-testid="mlops-pipeline-run"
            disabled={model.launching}
          >
            {sweeps.length ? 'Run sweep' : 'Run'}
          </button>
          <button
            type="button"
            className="jp-mlops-button"
            data-testid="mlops-pipeline-reset"
            onClick={() => model.resetForm()}
          >
            Defaults
          </button>
          {sweeps.length ? (
            <span
              className="jp-mlops-muted"
              data-testid="mlops-pipeline-trials"
            >
              {`${sweepTrials(model.fields, form)} trials`}
            </span>
          ) : null}
        </div>
      </form>
    </Section>
  );
}

/** Force re-run and retries. */
function RunOptions(props: { model: PipelinesModel }): JSX.Element {
  const { model } = props;
  const form = model.form;
  const retrying = form.retries.trim() !== '' && form.retries.trim() !== '0';
  return (
    <div className="jp-mlops-pipeline-options">
      <label title="Run every step, even those whose notebook, parameters and inputs did not change since a finished run">
        <input
          type="checkbox"
          data-testid="mlops-pipeline-force"
          checked={form.force}
          onChange={event => model.setOptions({ force: event.target.checked })}
        />
        Force re-run (ignore cache)
      </label>
      <label title="Run a failed execution again, up to this many times">
        {'Retries '}
        <input
          className="jp-mod-styled"
          type="number"
          min={0}
          max={MAX_RETRIES}
          step={1}
          data-testid="mlops-pipeline-retries"
          value={form.retries}
          onChange={event => model.setOptions({ retries: event.target.value })}
        />
      </label>
      <label title="Without this, only lost kernels and timeouts are retried, not errors raised by the notebook's cells">
        <input
          type="checkbox"
          data-testid="mlops-pipeline-retry-on-error"
          checked={form.retryOnError}
          disabled={!retrying}
          onChange={event =>
            model.setOptions({ retryOnError: event.target.checked })
          }
        />
        retry failed cells too
      </label>
    </div>
  );
}

/** Trials of the form's sweep (values counted by commas; a guide only). */
function sweepTrials(fields: readonly IFormField[], form: IFormState): number {
  const grid: Record<string, unknown[]> = {};
  for (const field of fields) {
    const text = (form.sweeps[field.key] ?? '').trim();
    if (text && !text.startsWith('[')) {
      grid[field.key] = text.split(',');
    }
  }
  return trialCount(grid);
}

/** One row per parameter: step, name, type, value input, sweep input. */
export function ParamTable(props: {
  fields: readonly IFormField[];
  form: Pick<IFormState, 'values'> & Partial<Pick<IFormState, 'sweeps'>>;
  onValue: (key: string, value: string | boolean) => void;
  /** Without it, no sweep inputs (a schedule's parameters). */
  onSweep?: (key: string, text: string) => void;
}): JSX.Element {
  if (!props.fields.length) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-pipeline-no-params">
        This pipeline has no parameters.
      </div>
    );
  }
  return (
    <div
      className={`jp-mlops-param-list${props.onSweep ? '' : ' jp-mod-values-only'}`}
    >
      <div className="jp-mlops-param-head" aria-hidden="true">
        <span>Value</span>
        {props.onSweep ? (
          <span title="Comma-separated values: one trial per combination">
            Sweep
          </span>
        ) : null}
      </div>
      {props.fields.map(field => (
        <ParamRow
          key={field.key}
          field={field}
          value={props.form.values[field.key]}
          sweep={props.form.sweeps?.[field.key] ?? ''}
          onValue={props.onValue}
          onSweep={props.onSweep}
        />
      ))}
    </div>
  );
}

/** One parameter: its name, type and flag over its value and sweep inputs. */
export function ParamRow(props: {
  field: IFormField;
  value: string | boolean | undefined;
  sweep: string;
  onValue: (key: string, value: string | boolean) => void;
  onSweep?: (key: string, text: string) => void;
}): JSX.Element {
  const { field, onSweep } = props;
  const label = `${field.key} (${field.type})`;
  return (
    <div
      className="jp-mlops-param"
      data-testid="mlops-param"
      data-key={field.key}
      data-kind={field.kind}
    >
      <div
        className="jp-mlops-param-name"
        title={field.annotation ? `annotated ${field.annotation}` : undefined}
      >
        <span className="jp-mlops-muted">{`${field.step}.`}</span>
        {field.name}
        <span className="jp-mlops-param-type" data-testid="mlops-param-type">
          {field.type}
        </span>
        {field.literal ? null : (
          <span
            className="jp-mlops-param-flag"
            data-testid="mlops-param-flag"
            title="The notebook computes this default; it cannot be set here"
          >
            non-literal
          </span>
        )}
      </div>
      <div className="jp-mlops-param-value">
        <ParamInput
          field={field}
          value={props.value}
          label={label}
          onValue={props.onValue}
        />
      </div>
      {onSweep ? (
        <div className="jp-mlops-param-value">
          {field.literal ? (
            <input
              className="jp-mod-styled jp-mlops-param-sweep"
              type="text"
              data-testid="mlops-param-sweep"
              aria-label={`Sweep values of ${field.key}`}
              placeholder={field.kind === 'json' ? '[…, …]' : 'a, b, c'}
              value={props.sweep}
              onChange={event => onSweep(field.key, event.target.value)}
            />
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function ParamInput(props: {
  field: IFormField;
  value: string | boolean | undefined;
  label: string;
  onValue: (key: string, value: string | boolean) => void;
}): JSX.Element {
  const { field, label } = props;
  const text = typeof props.value === 'string' ? props.value : '';
  const common = {
    'data-testid': 'mlops-param-input',
    'aria-label': label,
    title: `default: ${displayValue(field.default)}`
  };
  switch (field.kind) {
    case 'checkbox':
      return (
        <input
          {...common}
          type="checkbox"
          checked={props.value === true}
          onChange={event => props.onValue(field.key, event.target.checked)}
        />
      );
    case 'integer':
    case 'number':
      return (
        <input
          {...common}
          className="jp-mod-styled"
          type="number"
          step={field.kind === 'integer' ? 1 : 'any'}
          value={text}
          onChange={event => props.onValue(field.key, event.target.value)}
        />
      );
    case 'json':
      return (
        <textarea
          {...common}
          className="jp-mod-styled jp-mlops-mono"
          rows={2}
          spellCheck={false}
          value={text}
          onChange={event => props.onValue(field.key, event.target.value)}
        />
      );
    case 'text':
      return (
        <input
          {...common}
          className="jp-mod-styled"
          type="text"
          value={text}
          onChange={event => props.onValue(field.key, event.target.value)}
        />
      );
    default:
      return (
        <span className="jp-mlops-muted" data-testid="mlops-param-fixed">
          set in the notebook
        </span>
      );
  }
}
