/**
 * The sweep view: parallel coordinates (one line per run across an axis per
 * varying parameter and per metric, each axis labelled with its own min and
 * max) and a scatter of a chosen parameter against a chosen metric, for the
 * runs of a sweep (a launch's executions) or any selection of runs.
 *
 * The charts are in `sweepCharts.tsx`. Run names, parameter values and axis
 * labels reach chart.js as labels drawn on the canvas and the lists as text,
 * never as HTML.
 */
import React, { useMemo, useState } from 'react';

import type { IExecution } from '../api/pipelines';
import type { IRunSummary } from '../api/types';
import { Section } from '../common/components';
import { formatMetric } from '../common/format';
import {
  ParallelChart,
  ScatterChart,
  useRunColors,
  valueText
} from './sweepCharts';
import {
  axisEnd,
  fromExecutions,
  fromRunSummaries,
  type ISweepRun,
  launchSteps,
  pick,
  sweepAxes,
  sweepLines,
  sweepMetrics,
  sweepScatter,
  varyingParams
} from './sweep';

/** At most this many metric axes (the chosen metric first). */
const MAX_METRIC_AXES = 3;

function Picker(props: {
  label: string;
  value: string;
  options: readonly string[];
  testId: string;
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <label className="jp-mlops-sweep-picker">
      {props.label}{' '}
      <select
        data-testid={props.testId}
        value={props.value}
        onChange={e => props.onChange(e.target.value)}
      >
        {props.options.map(key => (
          <option key={key} value={key}>
            {key}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Parallel coordinates and a param-vs-metric scatter of `runs`. */
export function SweepView(props: { runs: readonly ISweepRun[] }): JSX.Element {
  const { runs } = props;
  const params = useMemo(
    () => varyingParams(runs.map(run => run.params)),
    [runs]
  );
  const metrics = useMemo(() => sweepMetrics(runs), [runs]);
  const [chosenMetric, setMetric] = useState<string | null>(null);
  const [chosenParam, setParam] = useState<string | null>(null);
  const metric = pick(metrics, chosenMetric);
  const param = pick(params, chosenParam);
  const colors = useRunColors(runs.length);
  const shown = metric ? [metric, ...metrics.filter(m => m !== metric)] : [];
  const axes = useMemo(
    () => sweepAxes(runs, params, shown.slice(0, MAX_METRIC_AXES)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [runs, params, shown.join('\u0000')]
  );
  const lines = useMemo(() => sweepLines(runs, axes), [runs, axes]);
  const scatter = useMemo(
    () => (param && metric ? sweepScatter(runs, param, metric) : null),
    [runs, param, metric]
  );
  if (runs.length < 2 || !params.length) {
    return (
      <div className="jp-mlops-muted" data-testid="mlops-sweep-empty">
        No parameter differs between these runs: nothing to compare.
      </div>
    );
  }
  return (
    <div className="jp-mlops-sweep" data-testid="mlops-sweep-view">
      <div className="jp-mlops-sweep-pickers">
        {metric ? (
          <Picker
            label="Metric"
            value={metric}
            options={metrics}
            testId="mlops-sweep-metric"
            onChange={setMetric}
          />
        ) : null}
        {param ? (
          <Picker
            label="Parameter"
            value={param}
            options={params}
            testId="mlops-sweep-param"
            onChange={setParam}
          />
        ) : null}
      </div>
      <ParallelChart axes={axes} lines={lines} colors={colors} />
      <table
        className="jp-mlops-table jp-mlops-sweep-axes"
        data-testid="mlops-sweep-axes"
      >
        <thead>
          <tr>
            <th scope="col">Axis</th>
            <th scope="col">Min</th>
            <th scope="col">Max</th>
          </tr>
        </thead>
        <tbody>
          {axes.map(axis => (
            <tr
              key={`${axis.kind}:${axis.key}`}
              data-testid="mlops-sweep-axis"
              data-key={axis.key}
              data-kind={axis.kind}
            >
              <td>{axis.key}</td>
              <td>{axisEnd(axis, 'min', formatMetric)}</td>
              <td>{axisEnd(axis, 'max', formatMetric)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {scatter ? (
        <ScatterChart scatter={scatter} colors={colors} />
      ) : (
        <div className="jp-mlops-muted" data-testid="mlops-sweep-no-metric">
          No run has a metric yet: the scatter waits for one.
        </div>
      )}
      <ul className="jp-mlops-sweep-runs">
        {runs.map((run, index) => (
          <li key={run.id} data-testid="mlops-sweep-run" data-run-id={run.id}>
            <span
              className="jp-mlops-swatch"
              style={{ backgroundColor: colors[index] }}
            />
            <span title={run.id}>{run.label}</span>
            <span className="jp-mlops-muted">
              {params
                .map(key => ` ${key}=${valueText(run.params[key])}`)
                .join('')}
              {metric
                ? ` \u00B7 ${metric} ${formatMetric(run.metrics[metric])}`
                : ''}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The "Sweep view" / "Hide sweep view" toggle. */
export function SweepButton(props: {
  open: boolean;
  testId: string;
  onToggle: () => void;
}): JSX.Element {
  return (
    <button
      className="jp-mlops-button"
      data-testid={props.testId}
      aria-expanded={props.open}
      onClick={props.onToggle}
    >
      {props.open ? 'Hide sweep view' : 'Sweep view'}
    </button>
  );
}

/** A "Sweep view" button that shows the sweep view of the selected `runs` below it. */
export function SweepSection(props: {
  runs: readonly IRunSummary[];
}): JSX.Element {
  const [open, setOpen] = useState(false);
  const runs = useMemo(() => fromRunSummaries(props.runs), [props.runs]);
  return (
    <Section title="Sweep" count={runs.length}>
      <SweepButton
        open={open}
        testId="mlops-sweep-toggle"
        onToggle={() => setOpen(!open)}
      />
      {open ? <SweepView runs={runs} /> : null}
    </Section>
  );
}

/** The sweep view of a launch: the executions of one step (the last one, or as picked). */
function LaunchSweep(props: {
  executions: readonly IExecution[];
}): JSX.Element {
  const { executions } = props;
  const steps = launchSteps(executions);
  const [chosen, setStep] = useState<string | null>(null);
  const step = pick([...steps].reverse(), chosen);
  const runs = useMemo(
    () => fromExecutions(executions, step),
    [executions, step]
  );
  return (
    <div className="jp-mlops-launch-sweep" data-testid="mlops-launch-sweep">
      {steps.length > 1 && step ? (
        <Picker
          label="Step"
          value={step}
          options={steps}
          testId="mlops-sweep-step"
          onChange={setStep}
        />
      ) : null}
      <SweepView runs={runs} />
    </div>
  );
}

/** A "Sweep view" button under a sweep launch's table; the launch's sweep view below it. */
export function LaunchSweepSection(props: {
  executions: readonly IExecution[];
}): JSX.Element {
  const [open, setOpen] = useState(false);
  return (
    <div className="jp-mlops-launch-sweep-section">
      <SweepButton
        open={open}
        testId="mlops-launch-sweep-toggle"
        onToggle={() => setOpen(!open)}
      />
      {open ? <LaunchSweep executions={props.executions} /> : null}
    </div>
  );
}
