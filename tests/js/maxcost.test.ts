/**
 * The run form's "Max cost" (a spend cap sent as `max_cost`), the estimate a
 * capped launch shows, and a hard budget's refusal shown as text.
 */
import React from 'react';

import {
  byTestId,
  fakeClient,
  launch,
  PIPELINE,
  render
} from './pipelineFixtures';
import { ApiError } from '../../labextension/src/api/client';
import { formFields, initialForm } from '../../labextension/src/pipelines/form';
import { LaunchView } from '../../labextension/src/pipelines/launches';
import { PipelinesModel } from '../../labextension/src/pipelines/model';
import { RunForm } from '../../labextension/src/pipelines/RunForm';
import {
  buildRunRequest,
  parseMaxCost
} from '../../labextension/src/pipelines/request';

const h = React.createElement;

describe('max cost', () => {
  it('is optional, sent as max_cost when above 0, refused otherwise', () => {
    const fields = formFields(PIPELINE);
    const form = initialForm(fields);
    expect(form.maxCost).toBe('');
    const none = buildRunRequest(PIPELINE.path, fields, form);
    expect(none.ok && 'max_cost' in none.request).toBe(false);

    form.maxCost = ' 5.5 ';
    const capped = buildRunRequest(PIPELINE.path, fields, form);
    expect(capped.ok && capped.request.max_cost).toBe(5.5);

    for (const bad of ['0', '-2', 'five', 'Infinity']) {
      form.maxCost = bad;
      expect(buildRunRequest(PIPELINE.path, fields, form)).toEqual({
        ok: false,
        errors: [`max cost: "${bad}" is not an amount above 0`]
      });
    }
    expect(parseMaxCost('')).toBeNull();
    expect(parseMaxCost('0.01')).toBe(0.01);
  });

  it('shows the estimate of a capped launch as text', () => {
    const capped = {
      ...launch('l1', 'RUNNING'),
      max_cost: 5,
      estimate: {
        total: 3.4,
        currency: 'USD',
        message:
          'about $3.40: 20 executions x median $0.17 of the last 10 runs of <b>train</b>.ipynb'
      }
    };
    const view = render(
      h(LaunchView, { launch: capped, error: null, onCancel: () => undefined })
    );
    expect(byTestId(view, 'mlops-launch-estimate')).toHaveLength(1);
    expect(view.text).toContain(
      'Estimate: about $3.40: 20 executions x median $0.17 of the last 10 runs of <b>train</b>.ipynb; cap $5.00'
    );
  });

  it('sends max_cost from the model and shows a hard budget refusal in the form as text', async () => {
    const message =
      'Refused: the hard budget of project churn is spent: $12.00 of $10.00 this week (120%); it resets on 2026-12-14 00:00 UTC.';
    const client = fakeClient({
      launch: async () => {
        throw new ApiError({
          kind: 'http',
          status: 409,
          message,
          hint: 'raise the amount of project churn in c.MlopsConfig.cost_budgets'
        });
      }
    });
    const model = new PipelinesModel({
      client,
      poll: { interval: 60_000, backoff: false, max: 60_000 }
    });
    await model.load();
    model.select(PIPELINE.path);
    model.setOptions({ maxCost: '2' });
    expect(await model.run()).toBeNull();
    expect(client.posted).toHaveLength(1);
    expect((client.posted[0] as { max_cost?: number }).max_cost).toBe(2);
    const form = render(h(RunForm, { model, pipeline: PIPELINE }));
    const [shown] = byTestId(form, 'mlops-pipeline-run-error');
    expect(shown).toBeDefined();
    expect(form.text).toContain(message);
    expect(form.text).toContain('c.MlopsConfig.cost_budgets');
    expect(byTestId(form, 'mlops-pipeline-max-cost')[0].props.value).toBe('2');
    model.dispose();
  });
});
