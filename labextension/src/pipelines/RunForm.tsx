/**
 * The run form of the selected pipeline: one typed input per step parameter
 * (non-literal defaults flagged and left to the notebook), a sweep per
 * parameter, workers, executor and timeout.
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
  trialCount
} from './form';
import { ErrorList } from './launches';
import type { PipelinesModel } from './model';

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
          <label>
            {'Timeout (s) '}
            <input
              className="jp-mod-styled"
              type="number"
              min={1}
              step="any"
              placeholder="none"
              data-testid="mlops-pipeline-timeout"
              value={form.timeout}
              onChange={event =>
                model.setOptions({ timeout: event.target.value })
              }
            />
          </label>
        </div>
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
  form: IFormState;
  onValue: (key: string, value: string | boolean) => void;
  onSweep: (key: string, text: string) => void;
}): JSX.Element {
  if (!props.fields.length) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-pipeline-no-params">
        This pipeline has no parameters.
      </div>
    );
  }
  return (
    <div className="jp-mlops-param-list">
      <div className="jp-mlops-param-head" aria-hidden="true">
        <span>Value</span>
        <span title="Comma-separated values: one trial per combination">
          Sweep
        </span>
      </div>
      {props.fields.map(field => (
        <ParamRow
          key={field.key}
          field={field}
          value={props.form.values[field.key]}
          sweep={props.form.sweeps[field.key] ?? ''}
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
  onSweep: (key: string, text: string) => void;
}): JSX.Element {
  const { field } = props;
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
      <div className="jp-mlops-param-value">
        {field.literal ? (
          <input
            className="jp-mod-styled jp-mlops-param-sweep"
            type="text"
            data-testid="mlops-param-sweep"
            aria-label={`Sweep values of ${field.key}`}
            placeholder={field.kind === 'json' ? '[…, …]' : 'a, b, c'}
            value={props.sweep}
            onChange={event => props.onSweep(field.key, event.target.value)}
          />
        ) : null}
      </div>
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
