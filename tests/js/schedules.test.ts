/**
 * Schedules in the Pipelines view (issue 13): the client of the schedule
 * routes, how a row reads (next firing in local time, missed firings), the
 * "Add schedule" form's checks and body, server errors next to their input,
 * a read-only user, and "Run now" watching its launch.
 */
import React from 'react';

import { clientWith, json } from './fixtures';
import {
  byTestId,
  fakeClient,
  launch,
  PIPELINE,
  render
} from './pipelineFixtures';
import { ApiError, isRouteMissing } from '../../labextension/src/api/client';
import {
  type IScheduleRequest,
  type ISchedule,
  type ISchedulesClient,
  SchedulesClient
} from '../../labextension/src/api/schedules';
import { formFields } from '../../labextension/src/pipelines/form';
import { PipelinesModel } from '../../labextension/src/pipelines/model';
import {
  ScheduleRow,
  SchedulesSection
} from '../../labextension/src/pipelines/Schedules';
import {
  buildScheduleRequest,
  cronProblem,
  errorField,
  fireTime,
  initialScheduleForm,
  isTimezone,
  missedText,
  missedTimes,
  nextFireText,
  READ_ONLY_MESSAGE,
  untilText
} from '../../labextension/src/pipelines/schedules';
import { SchedulesModel } from '../../labextension/src/pipelines/schedulesModel';

const h = React.createElement;

/** Epoch seconds of a local wall-clock time (the tests read local time back). */
const local = (...parts: [number, number, number, number, number]): number =>
  new Date(...parts).getTime() / 1000;

/** 10:00 local time on 7 Dec 2026, in ms. */
const NOW = local(2026, 11, 7, 10, 0) * 1000;

function schedule(id: string, overrides: Partial<ISchedule> = {}): ISchedule {
  return {
    id,
    name: `nightly-${id}`,
    path: PIPELINE.path,
    cron: '5 14 * * *',
    timezone: 'UTC',
    parameters: {},
    max_concurrent: 1,
    catch_up: false,
    paused: false,
    created: NOW / 1000 - 3600,
    next_fire: local(2026, 11, 7, 14, 5),
    last_fire: null,
    last_run_id: null,
    last_status: null,
    missed: [],
    ...overrides
  };
}

const forbidden = (): ApiError =>
  new ApiError({
    kind: 'http',
    status: 403,
    error: 'HTTPError',
    message: 'Forbidden'
  });

/** A fake schedules client over an in-memory list; `fail` makes the next change throw. */
function fakeSchedules(initial: ISchedule[] = []): ISchedulesClient & {
  items: ISchedule[];
  created: IScheduleRequest[];
  fail: ApiError | null;
} {
  const change = async (id: string, patch: Partial<ISchedule>) => {
    if (fake.fail) {
      throw fake.fail;
    }
    const index = fake.items.findIndex(item => item.id === id);
    fake.items[index] = { ...fake.items[index], ...patch };
    return fake.items[index];
  };
  const fake = {
    items: [...initial],
    created: [] as IScheduleRequest[],
    fail: null as ApiError | null,
    list: async () => [...fake.items],
    get: async (id: string) => fake.items.find(item => item.id === id)!,
    create: async (request: IScheduleRequest) => {
      if (fake.fail) {
        throw fake.fail;
      }
      fake.created.push(request);
      const made = schedule(`s${fake.created.length}`, {
        ...request,
        name: request.name ?? 'exported'
      });
      fake.items.push(made);
      return made;
    },
    remove: async (id: string) => {
      if (fake.fail) {
        throw fake.fail;
      }
      fake.items = fake.items.filter(item => item.id !== id);
    },
    pause: (id: string) => change(id, { paused: true, next_fire: null }),
    resume: (id: string) => change(id, { paused: false }),
    runNow: async (id: string) => ({
      schedule: await change(id, { last_run_id: 'fired' }),
      launch: launch('fired', 'RUNNING')
    })
  };
  return fake;
}

const slow = { interval: 600_000, backoff: false, max: 600_000 };

/** Models made by a test, disposed after it (their polls' timers too), pass or fail. */
const made: { dispose(): void }[] = [];
afterEach(() => made.splice(0).forEach(model => model.dispose()));
function track<T extends { dispose(): void }>(model: T): T {
  made.push(model);
  return model;
}

describe('SchedulesClient', () => {
  it('calls each route with its method, a 204 resolves', async () => {
    const seen: string[] = [];
    const bodies: unknown[] = [];
    const { client } = clientWith(async (url, request) => {
      const path = url.pathname.replace('/lab-base/jupyter-mlops/api/', '');
      seen.push(`${request.method} ${path}`);
      if (request.method === 'POST') {
        bodies.push(JSON.parse(await request.text()));
      }
      if (request.method === 'DELETE') {
        return new Response(null, { status: 204 });
      }
      if (path === 'pipelines/schedules' && request.method === 'GET') {
        return json({ schedules: [schedule('a')] });
      }
      if (path.endsWith('/run-now')) {
        return json({
          schedule: schedule('a'),
          launch: launch('l', 'RUNNING')
        });
      }
      return json(schedule('a'), request.method === 'POST' ? 201 : 200);
    });
    const api = new SchedulesClient(client);
    expect((await api.list()).map(s => s.id)).toEqual(['a']);
    await api.get('a b');
    await api.create({ path: 'p', cron: '0 6 * * *', timezone: 'UTC' });
    await api.pause('a');
    await api.resume('a');
    expect((await api.runNow('a')).launch.id).toBe('l');
    expect(await api.remove('a')).toBeUndefined();
    expect(seen).toEqual([
      'GET pipelines/schedules',
      'GET pipelines/schedules/a%20b',
      'POST pipelines/schedules',
      'POST pipelines/schedules/a/pause',
      'POST pipelines/schedules/a/resume',
      'POST pipelines/schedules/a/run-now',
      'DELETE pipelines/schedules/a'
    ]);
    expect(bodies[0]).toEqual({
      path: 'p',
      cron: '0 6 * * *',
      timezone: 'UTC'
    });
  });

  it('keeps the server error and names a missing route', async () => {
    const { client } = clientWith(url =>
      url.pathname.endsWith('/schedules')
        ? json(
            {
              error: 'InvalidValueError',
              message: 'Bad cron expression "61 * * * *"',
              hint: 'minute is 0-59'
            },
            400
          )
        : new Response('<html>404</html>', { status: 404 })
    );
    const api = new SchedulesClient(client);
    const bad = await api
      .create({ path: 'p', cron: '61 * * * *' })
      .catch(e => e);
    expect(bad.status).toBe(400);
    expect(bad.hint).toBe('minute is 0-59');
    expect(errorField(bad)).toBe('cron');
    const missing = await api.pause('x').catch(e => e);
    expect(isRouteMissing(missing)).toBe(true);
    expect(missing.message).toMatch(/no pipeline schedule API/);
  });
});

describe('a schedule row', () => {
  it('shows the next firing in local time, with how soon', () => {
    expect(fireTime(local(2026, 11, 7, 14, 5), NOW)).toBe('today 14:05');
    expect(fireTime(local(2026, 11, 8, 6, 0), NOW)).toBe('tomorrow 06:00');
    expect(fireTime(local(2026, 11, 6, 23, 10), NOW)).toBe('yesterday 23:10');
    expect(fireTime(local(2026, 11, 14, 6, 0), NOW)).toMatch(/ 06:00$/);
    expect(nextFireText(schedule('a'), NOW)).toBe('next today 14:05 (in 4 h)');
    expect(nextFireText(schedule('a', { paused: true }), NOW)).toBe('paused');
    expect(nextFireText(schedule('a', { next_fire: null }), NOW)).toBe(
      'no next firing'
    );
    expect(untilText(NOW + 40_000, NOW)).toBe('in 40 s');
    expect(untilText(NOW + 5 * 60_000, NOW)).toBe('in 5 min');
    expect(untilText(NOW + 3 * 86_400_000, NOW)).toBe('in 3 d');
    expect(untilText(NOW - 1000, NOW)).toBe('due');
  });

  it('counts missed firings and lists them newest first', () => {
    const missed = [local(2026, 11, 7, 6, 0), local(2026, 11, 7, 8, 0)];
    expect(missedText(schedule('a'))).toBeNull();
    expect(missedText(schedule('a', { missed: missed.slice(0, 1) }))).toBe(
      '1 missed firing'
    );
    expect(missedText(schedule('a', { missed }))).toBe('2 missed firings');
    expect(missedTimes(schedule('a', { missed }), NOW)).toEqual([
      'today 08:00',
      'today 06:00'
    ]);
  });

  it('renders its text as text, its state and its buttons', () => {
    const calls: string[] = [];
    const row = (overrides: Partial<ISchedule>) =>
      render(
        h(ScheduleRow, {
          schedule: schedule('a', overrides),
          busy: false,
          error: null,
          now: NOW,
          onPause: () => calls.push('pause'),
          onResume: () => calls.push('resume'),
          onRunNow: () => calls.push('run'),
          onRemove: () => calls.push('remove')
        })
      );
    const active = row({
      name: '<b>nightly</b>',
      last_fire: local(2026, 11, 7, 6, 0),
      last_status: 'FAILED',
      missed: [local(2026, 11, 7, 8, 0)]
    });
    expect(active.text).toContain('<b>nightly</b>');
    expect(active.elements.some(e => e.type === 'b')).toBe(false);
    expect(active.text).toContain('5 14 * * * (UTC)');
    expect(active.text).toContain('next today 14:05 (in 4 h)');
    expect(active.text).toContain('last today 06:00');
    expect(
      byTestId(active, 'mlops-schedule-last-status')[0].props['data-status']
    ).toBe('FAILED');
    const missed = byTestId(active, 'mlops-schedule-missed');
    expect(missed).toHaveLength(1);
    expect(active.text).toContain('1 missed firing');
    expect(active.elements.find(e => e.type === 'summary')?.props.title).toBe(
      'today 08:00'
    );
    (byTestId(active, 'mlops-schedule-pause')[0].props.onClick as () => void)();
    expect(byTestId(active, 'mlops-schedule-resume')).toHaveLength(0);

    const paused = row({ paused: true, next_fire: null });
    expect(byTestId(paused, 'mlops-schedule-paused')).toHaveLength(1);
    (
      byTestId(paused, 'mlops-schedule-resume')[0].props.onClick as () => void
    )();
    expect(calls).toEqual(['pause', 'resume']);
  });
});

describe('the Add schedule form', () => {
  const fields = formFields(PIPELINE);

  it('checks cron text and time zones', () => {
    expect(cronProblem('0 6 * * 1-5')).toBeNull();
    expect(cronProblem('*/15  * * * *')).toBeNull();
    expect(cronProblem('@daily')).toBeNull();
    expect(cronProblem('')).toMatch(/Enter a cron expression/);
    expect(cronProblem('@often')).toMatch(/is not one of @yearly/);
    expect(cronProblem('0 6 * *')).toMatch(/five fields are needed/);
    expect(cronProblem('0 6 * * 1; rm -rf /')).toMatch(/not a cron/);
    expect(isTimezone('UTC')).toBe(true);
    expect(isTimezone('Europe/Paris')).toBe(true);
    expect(isTimezone('Mars/Olympus')).toBe(false);
    expect(isTimezone('')).toBe(false);
  });

  it('starts in the browser time zone and builds the body', () => {
    const form = initialScheduleForm(fields);
    expect(form.timezone).toBe(
      Intl.DateTimeFormat().resolvedOptions().timeZone
    );
    expect(form.maxConcurrent).toBe('1');
    form.cron = ' 0  6 * * 1-5 ';
    form.timezone = 'Europe/Paris';
    form.values['train.model'] = 'rf';
    expect(buildScheduleRequest(PIPELINE.path, fields, form)).toEqual({
      ok: true,
      request: {
        path: PIPELINE.path,
        cron: '0 6 * * 1-5',
        timezone: 'Europe/Paris',
        parameters: { 'train.model': 'rf' },
        max_concurrent: 1,
        catch_up: false
      }
    });
    const named = buildScheduleRequest(PIPELINE.path, fields, {
      ...form,
      name: ' nightly ',
      maxConcurrent: '3',
      catchUp: true
    });
    expect(named).toMatchObject({
      ok: true,
      request: { name: 'nightly', max_concurrent: 3, catch_up: true }
    });
  });

  it('puts every problem next to its input', () => {
    const form = {
      ...initialScheduleForm(fields, 'UTC'),
      cron: 'every day',
      timezone: 'Nowhere/City',
      maxConcurrent: '0'
    };
    form.values['prepare.seed'] = 'x';
    const built = buildScheduleRequest(PIPELINE.path, fields, form);
    expect(built.ok).toBe(false);
    if (!built.ok) {
      expect(Object.keys(built.errors.fields).sort()).toEqual([
        'cron',
        'max_concurrent',
        'timezone'
      ]);
      expect(built.errors.general).toEqual([
        'prepare.seed: "x" is not an integer'
      ]);
    }
    const many = buildScheduleRequest(PIPELINE.path, fields, {
      ...initialScheduleForm(fields, 'UTC'),
      cron: '@hourly',
      maxConcurrent: '101'
    });
    expect(many).toEqual({
      ok: false,
      errors: {
        fields: {
          max_concurrent: '"101" is not a whole number from 1 to 100.'
        },
        general: []
      }
    });
  });

  it('reads which input a server error is about', () => {
    const error = (message: string, errors: string[] = []) =>
      new ApiError({ kind: 'http', status: 400, message, errors });
    expect(errorField(error('Invalid cron expression'))).toBe('cron');
    expect(errorField(error('Unknown time zone "X"'))).toBe('timezone');
    expect(errorField(error('bad', ['max_concurrent must be >= 1']))).toBe(
      'max_concurrent'
    );
    expect(errorField(error('No pipeline at p'))).toBeNull();
  });
});

describe('SchedulesModel', () => {
  it('lists, adds, pauses, resumes, runs now and removes', async () => {
    const client = fakeSchedules([schedule('b'), schedule('a')]);
    const model = track(
      new PipelinesModel({
        client: fakeClient({ schedules: client }),
        schedulePoll: slow
      })
    );
    const schedules = model.schedules!;
    await model.load();
    expect(schedules.schedules.map(s => s.id)).toEqual(['a', 'b']);

    // No pipeline selected: no form.
    schedules.openForm(true);
    expect(schedules.formOpen).toBe(false);
    model.select(PIPELINE.path);
    expect(schedules.pipeline?.path).toBe(PIPELINE.path);
    schedules.openForm(true);
    schedules.setForm({ cron: 'nope', timezone: 'UTC' });
    expect(await schedules.add()).toBeNull();
    expect(client.created).toEqual([]);
    expect(schedules.formErrors.fields.cron).toMatch(/five fields/);

    schedules.setForm({ cron: '*/5 * * * *', name: 'every5' });
    schedules.setValue('prepare.seed', '7');
    const added = await schedules.add();
    expect(added?.name).toBe('every5');
    expect(client.created[0]).toMatchObject({
      cron: '*/5 * * * *',
      parameters: { 'prepare.seed': 7 }
    });
    expect(schedules.formOpen).toBe(false);
    expect(schedules.schedules.map(s => s.name)).toEqual([
      'every5',
      'nightly-a',
      'nightly-b'
    ]);

    await schedules.pause('a');
    expect(schedules.schedules.find(s => s.id === 'a')?.paused).toBe(true);
    await schedules.resume('a');
    expect(schedules.schedules.find(s => s.id === 'a')?.paused).toBe(false);

    // "Run now" lists and watches its launch.
    await schedules.runNow('a');
    expect(model.watched?.id).toBe('fired');
    expect(model.launches.map(l => l.id)).toEqual(['fired']);

    await schedules.remove('b');
    expect(schedules.schedules.map(s => s.id)).toEqual(['s1', 'a']);
    expect(client.items.map(s => s.id)).toEqual(['a', 's1']);
    model.dispose();
  });

  it('shows a refused cron next to its input and keeps what was typed', async () => {
    const client = fakeSchedules();
    const model = track(new SchedulesModel({ client, poll: slow }));
    model.setPipeline(PIPELINE);
    model.openForm(true);
    model.setForm({ cron: '0 25 * * *', timezone: 'UTC' });
    client.fail = new ApiError({
      kind: 'http',
      status: 400,
      error: 'InvalidValueError',
      message: 'Bad cron expression "0 25 * * *": hour is 0-23'
    });
    expect(await model.add()).toBeNull();
    expect(model.formErrors.fields.cron).toBe(
      'Bad cron expression "0 25 * * *": hour is 0-23'
    );
    client.fail = new ApiError({
      kind: 'http',
      status: 400,
      error: 'InvalidValueError',
      message: "unknown time zone 'Mars/Base'",
      hint: 'use an IANA name such as UTC'
    });
    await model.add();
    expect(model.formErrors.fields).toEqual({
      timezone:
        "unknown time zone 'Mars/Base' \u2014 use an IANA name such as UTC"
    });
    expect(model.submitError).toBeNull();
    expect(model.form.cron).toBe('0 25 * * *');
    expect(model.formOpen).toBe(true);

    client.fail = new ApiError({
      kind: 'http',
      status: 404,
      error: 'NotFoundError',
      message: 'No pipeline at examples/pipeline/exported'
    });
    await model.add();
    expect(model.submitError?.message).toMatch(/No pipeline/);
    expect(model.formErrors.fields).toEqual({});
    model.dispose();
  });

  it('lets a read-only user see the list and says why changes fail', async () => {
    const client = fakeSchedules([schedule('a')]);
    const model = track(new SchedulesModel({ client, poll: slow }));
    await model.load();
    client.fail = forbidden();
    await model.pause('a');
    expect(model.readOnly).toBe(true);
    expect(model.schedules.map(s => s.paused)).toEqual([false]);
    expect(model.actionError?.id).toBe('a');

    const view = render(h(SchedulesSection, { model, now: NOW }));
    expect(byTestId(view, 'mlops-schedules-read-only')).toHaveLength(1);
    expect(view.text).toContain(READ_ONLY_MESSAGE);
    expect(byTestId(view, 'mlops-schedule')).toHaveLength(1);
    // The 403 is said once, in words, not as a raw "Forbidden" under the row.
    expect(byTestId(view, 'mlops-schedule-error')).toHaveLength(0);

    model.setPipeline(PIPELINE);
    model.openForm(true);
    model.setForm({ cron: '0 6 * * *', timezone: 'UTC' });
    expect(await model.add()).toBeNull();
    expect(model.formErrors.fields).toEqual({});
    model.dispose();
  });

  it('removes only when the dialog says so', async () => {
    const client = fakeSchedules([schedule('a')]);
    const model = track(new SchedulesModel({ client, poll: slow }));
    await model.load();
    let answer = false;
    const asked: string[] = [];
    const confirm = async (item: ISchedule) => {
      asked.push(item.name);
      return answer;
    };
    const clickRemove = async () => {
      const view = render(h(SchedulesSection, { model, confirm, now: NOW }));
      (
        byTestId(view, 'mlops-schedule-remove')[0].props.onClick as () => void
      )();
      await new Promise(resolve => setTimeout(resolve, 0));
    };
    await clickRemove();
    expect(client.items).toHaveLength(1);
    answer = true;
    await clickRemove();
    expect(asked).toEqual(['nightly-a', 'nightly-a']);
    expect(client.items).toHaveLength(0);
    expect(model.schedules).toHaveLength(0);
    model.dispose();
  });

  it('reads the recent list again when a schedule fired since', async () => {
    const client = fakeSchedules([schedule('a')]);
    const pipelines = fakeClient({ schedules: client });
    let reads = 0;
    pipelines.launches = async () => {
      reads++;
      return reads > 1 ? [launch('fired-bg', 'FINISHED')] : [];
    };
    const model = track(
      new PipelinesModel({ client: pipelines, schedulePoll: slow })
    );
    await model.load();
    expect(reads).toBe(1);
    // The same list again: nothing fired, the launches are not read.
    await model.schedules!.pause('a');
    expect(reads).toBe(1);
    // The scheduler fired it: the next read of the schedules shows it.
    client.items[0] = { ...client.items[0], last_fire: NOW / 1000 };
    await model.schedules!.resume('a');
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(reads).toBe(2);
    expect(model.launches.map(l => l.id)).toEqual(['fired-bg']);
  });
});
