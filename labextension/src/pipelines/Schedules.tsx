/**
 * The schedules of the Pipelines view: one row per schedule (name, path,
 * cron and time zone, the next firing in local time, paused, the last
 * status, missed firings with their times), pause / resume, run now and
 * remove (asked first), and the "Add schedule" form of the selected
 * pipeline (cron, time zone, parameters as in the run form, max concurrent,
 * catch up).
 *
 * Names, paths, cron text and errors are rendered as text, never as HTML.
 */
import React from 'react';

import { type ApiError, isRouteMissing } from '../api/client';
import type { ISchedule } from '../api/schedules';
import { Section } from '../common/components';
import { ErrorList, LaunchBadge } from './launches';
import { ParamTable } from './RunForm';
import {
  cronText,
  isForbidden,
  lastText,
  missedText,
  missedTimes,
  nextFireText,
  READ_ONLY_MESSAGE,
  type ScheduleField
} from './schedules';
import type { SchedulesModel } from './schedulesModel';

/**
 * Ask before removing `schedule` (JupyterLab's dialog); true to remove.
 * `@jupyterlab/apputils` is loaded when first asked, so the views load
 * without it (in unit tests too).
 */
export async function confirmRemove(schedule: ISchedule): Promise<boolean> {
  const { Dialog, showDialog } = await import('@jupyterlab/apputils');
  const result = await showDialog({
    title: 'Remove the schedule?',
    body: `"${schedule.name}" (${schedule.cron}, ${schedule.timezone}) will fire no more. Its past runs stay.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
  });
  return result.button.accept;
}

/** The Schedules section: the list, and the form of the selected pipeline. */
export function SchedulesSection(props: {
  model: SchedulesModel;
  /** Asks before a removal; `confirmRemove` by default. */
  confirm?: (schedule: ISchedule) => Promise<boolean>;
  now?: number;
}): JSX.Element {
  const { model } = props;
  const confirm = props.confirm ?? confirmRemove;
  const remove = async (schedule: ISchedule): Promise<void> => {
    if (await confirm(schedule)) {
      await model.remove(schedule.id);
    }
  };
  return (
    <Section title="Schedules" count={model.schedules.length}>
      <div className="jp-mlops-schedules" data-testid="mlops-schedules-view">
        {model.error ? (
          <ErrorList error={model.error} testId="mlops-schedules-error" />
        ) : null}
        {model.readOnly ? (
          <div
            className="jp-mlops-schedule-readonly"
            data-testid="mlops-schedules-read-only"
            role="alert"
          >
            {READ_ONLY_MESSAGE}
          </div>
        ) : null}
        {model.schedules.length ? (
          <ul className="jp-mlops-schedule-list" data-testid="mlops-schedules">
            {model.schedules.map(schedule => (
              <ScheduleRow
                key={schedule.id}
                schedule={schedule}
                busy={model.busy.has(schedule.id)}
                error={
                  model.actionError?.id === schedule.id &&
                  !isForbidden(model.actionError.error)
                    ? model.actionError.error
                    : null
                }
                now={props.now}
                onPause={() => void model.pause(schedule.id)}
                onResume={() => void model.resume(schedule.id)}
                onRunNow={() => void model.runNow(schedule.id)}
                onRemove={() => void remove(schedule)}
              />
            ))}
          </ul>
        ) : model.loaded && !model.error ? (
          <div className="jp-mlops-muted" data-testid="mlops-schedules-empty">
            No schedules yet.
          </div>
        ) : null}
        {isRouteMissing(model.error) ? null : <ScheduleAdd model={model} />}
      </div>
    </Section>
  );
}

/** One schedule: what it runs and when, and its buttons. */
export function ScheduleRow(props: {
  schedule: ISchedule;
  busy: boolean;
  error: ApiError | null;
  now?: number;
  onPause: () => void;
  onResume: () => void;
  onRunNow: () => void;
  onRemove: () => void;
}): JSX.Element {
  const { schedule, busy } = props;
  const missed = missedText(schedule);
  const times = missedTimes(schedule, props.now);
  return (
    <li
      className="jp-mlops-schedule"
      data-testid="mlops-schedule"
      data-id={schedule.id}
      data-paused={schedule.paused}
    >
      <div className="jp-mlops-schedule-head">
        <span className="jp-mlops-pipeline-name">{schedule.name}</span>
        {schedule.paused ? (
          <span
            className="jp-mlops-schedule-paused"
            data-testid="mlops-schedule-paused"
          >
            paused
          </span>
        ) : null}
      </div>
      <div className="jp-mlops-muted jp-mlops-ellipsis" title={schedule.path}>
        {schedule.path}
      </div>
      <div
        className="jp-mlops-mono jp-mlops-ellipsis"
        data-testid="mlops-schedule-cron"
        title={cronText(schedule)}
      >
        {cronText(schedule)}
      </div>
      <div data-testid="mlops-schedule-next">
        {nextFireText(schedule, props.now)}
      </div>
      <div className="jp-mlops-schedule-last">
        {schedule.last_status ? (
          <LaunchBadge
            status={schedule.last_status}
            testId="mlops-schedule-last-status"
          />
        ) : null}
        <span className="jp-mlops-muted">
          {` ${lastText(schedule, props.now)}`}
        </span>
      </div>
      {missed ? (
        <details
          className="jp-mlops-schedule-missed"
          data-testid="mlops-schedule-missed"
        >
          <summary title={times.join('\n')}>{missed}</summary>
          <ul className="jp-mlops-error-list">
            {times.map((time, i) => (
              <li key={i}>{time}</li>
            ))}
          </ul>
        </details>
      ) : null}
      {props.error ? (
        <ErrorList error={props.error} testId="mlops-schedule-error" />
      ) : null}
      <div className="jp-mlops-pipeline-actions">
        {schedule.paused ? (
          <button
            className="jp-mlops-button"
            data-testid="mlops-schedule-resume"
            disabled={busy}
            onClick={props.onResume}
          >
            Resume
          </button>
        ) : (
          <button
            className="jp-mlops-button"
            data-testid="mlops-schedule-pause"
            disabled={busy}
            onClick={props.onPause}
          >
            Pause
          </button>
        )}
        <button
          className="jp-mlops-button"
          data-testid="mlops-schedule-run-now"
          title="Launch it now, with its parameters (its timetable does not change)"
          disabled={busy}
          onClick={props.onRunNow}
        >
          Run now
        </button>
        <button
          className="jp-mlops-button jp-mod-warn"
          data-testid="mlops-schedule-remove"
          disabled={busy}
          onClick={props.onRemove}
        >
          Remove
        </button>
      </div>
    </li>
  );
}

/** The "Add schedule" button, or its form, for the selected pipeline. */
function ScheduleAdd(props: { model: SchedulesModel }): JSX.Element {
  const { model } = props;
  const pipeline = model.pipeline;
  if (!pipeline) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-schedule-hint">
        Select a pipeline to schedule it.
      </div>
    );
  }
  if (!model.formOpen) {
    return (
      <div className="jp-mlops-pipeline-actions">
        <button
          className="jp-mlops-button"
          data-testid="mlops-schedule-add-open"
          onClick={() => model.openForm(true)}
        >
          {`Add schedule for ${pipeline.name}`}
        </button>
      </div>
    );
  }
  return <ScheduleForm model={model} />;
}

/** An input's own error, under it. */
function FieldError(props: {
  model: SchedulesModel;
  field: ScheduleField;
}): JSX.Element | null {
  const message = props.model.formErrors.fields[props.field];
  return message ? (
    <div
      className="jp-mlops-field-error"
      data-testid="mlops-schedule-field-error"
      data-field={props.field}
      role="alert"
    >
      {message}
    </div>
  ) : null;
}

/** The "Add schedule" form: cron, time zone, parameters, max concurrent, catch up. */
export function ScheduleForm(props: { model: SchedulesModel }): JSX.Element {
  const { model } = props;
  const form = model.form;
  const pipeline = model.pipeline;
  const general = model.formErrors.general;
  return (
    <form
      className="jp-mlops-schedule-form"
      data-testid="mlops-schedule-form"
      onSubmit={event => {
        event.preventDefault();
        void model.add();
      }}
    >
      <label className="jp-mlops-schedule-field">
        Name
        <input
          className="jp-mod-styled"
          type="text"
          data-testid="mlops-schedule-name"
          placeholder={pipeline?.name ?? ''}
          value={form.name}
          onChange={event => model.setForm({ name: event.target.value })}
        />
        <FieldError model={model} field="name" />
      </label>
      <label className="jp-mlops-schedule-field">
        Cron (minute hour day month weekday)
        <input
          className="jp-mod-styled jp-mlops-mono"
          type="text"
          spellCheck={false}
          data-testid="mlops-schedule-cron-input"
          placeholder="0 6 * * 1-5"
          value={form.cron}
          onChange={event => model.setForm({ cron: event.target.value })}
        />
        <FieldError model={model} field="cron" />
      </label>
      <label className="jp-mlops-schedule-field">
        Time zone
        <input
          className="jp-mod-styled"
          type="text"
          spellCheck={false}
          data-testid="mlops-schedule-timezone"
          value={form.timezone}
          onChange={event => model.setForm({ timezone: event.target.value })}
        />
        <FieldError model={model} field="timezone" />
      </label>
      <ParamTable
        fields={model.fields}
        form={form}
        onValue={(key, value) => model.setValue(key, value)}
      />
      <div className="jp-mlops-pipeline-options">
        <label title="Firings while this many of its launches still run are missed">
          {'Max concurrent '}
          <input
            className="jp-mod-styled"
            type="number"
            min={1}
            step={1}
            data-testid="mlops-schedule-max-concurrent"
            value={form.maxConcurrent}
            onChange={event =>
              model.setForm({ maxConcurrent: event.target.value })
            }
          />
        </label>
        <label title="When the server starts again, fire what was missed while it was down">
          <input
            type="checkbox"
            data-testid="mlops-schedule-catch-up"
            checked={form.catchUp}
            onChange={event => model.setForm({ catchUp: event.target.checked })}
          />
          Catch up
        </label>
      </div>
      <FieldError model={model} field="max_concurrent" />
      {general.length ? (
        <div
          className="jp-mlops-error"
          data-testid="mlops-schedule-form-errors"
          role="alert"
        >
          <ul className="jp-mlops-error-list">
            {general.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {model.submitError && !isForbidden(model.submitError) ? (
        <ErrorList
          error={model.submitError}
          testId="mlops-schedule-submit-error"
        />
      ) : null}
      <div className="jp-mlops-pipeline-actions">
        <button
          type="submit"
          className="jp-mlops-button jp-mod-accept"
          data-testid="mlops-schedule-add"
          disabled={model.submitting}
        >
          Add schedule
        </button>
        <button
          type="button"
          className="jp-mlops-button"
          data-testid="mlops-schedule-cancel"
          onClick={() => model.openForm(false)}
        >
          Cancel
        </button>
      </div>
    </form>
  );
}
