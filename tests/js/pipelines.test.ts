import React from 'react';

import { clientWith, json } from './fixtures';
import {
  byTestId,
  execution,
  fakeClient,
  launch,
  PIPELINE,
  render
} from './pipelineFixtures';
import { ApiError, isRouteMissing } from '../../labextension/src/api/client';
import { buildRunRequest } from '../../labextension/src/pipelines/request';
import {
  formFields,
  type IFormField,
  initialForm,
  inputKind,
  parseSweep,
  parseValue,
  trialCount
} from '../../labextension/src/pipelines/form';
import {
  type ILaunch,
  type IPipeline,
  isTerminal,
  PIPELINES_ROUTE_MISSING_MESSAGE,
  PipelinesClient
} from '../../labextension/src/api/pipelines';
import {
  progressText,
  upsertLaunch
} from '../../labextension/src/pipelines/logic';
import { PipelinesModel } from '../../labextension/src/pipelines/model';
import {
  defaultTagCell,
  ExportState,
  exportDefaults,
  exportToPipeline,
  NotebookParams,
  notebookOf
} from '../../labextension/src/pipelines/ExportDialog';
import {
  ErrorList,
  ExecutionTable,
  LaunchView
} from '../../labextension/src/pipelines/launches';
import { PipelineList } from '../../labextension/src/pipelines/PipelinesView';
import { ParamRow } from '../../labextension/src/pipelines/RunForm';

// -- fixtures -----------------------------------------------------------------

function field(key: string): IFormField {
  const found = formFields(PIPELINE).find(f => f.key === key);
  if (!found) {
    throw new Error(`no field ${key}`);
  }
  return found;
}

const h = React.createElement;

// -- client -------------------------------------------------------------------

describe('PipelinesClient', () => {
  it('lists pipelines and reads a notebook’s parameters', async () => {
    const { client, urls } = clientWith(url =>
      url.pathname.endsWith('/pipelines')
        ? json({ pipelines: [PIPELINE], truncated: true })
        : json({
            path: 'a b.ipynb',
            parameters_cell: null,
            parameters: [],
            cells: []
          })
    );
    const api = new PipelinesClient(client);
    expect(await api.pipelines()).toEqual({
      pipelines: [PIPELINE],
      truncated: true
    });
    const params = await api.notebookParameters('dir/a b.ipynb');
    expect(params.parameters_cell).toBeNull();
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/pipelines');
    expect(urls[1].pathname).toBe(
      '/lab-base/jupyter-mlops/api/pipelines/parameters'
    );
    expect(urls[1].searchParams.get('path')).toBe('dir/a b.ipynb');
  });

  it('posts exports, runs and cancels as JSON', async () => {
    const seen: { method: string; path: string; body: string }[] = [];
    const { client } = clientWith(async (url, request) => {
      seen.push({
        method: request.method,
        path: url.pathname.replace('/lab-base/jupyter-mlops/api/', ''),
        body: request.method === 'POST' ? await request.text() : ''
      });
      if (url.pathname.endsWith('/export')) {
        return json(
          {
            path: 'pipelines/a',
            name: 'a',
            steps: ['a'],
            files: [],
            warnings: []
          },
          201
        );
      }
      if (request.method === 'GET' && url.pathname.endsWith('/runs')) {
        return json({ runs: [launch('l1', 'FINISHED')] });
      }
      return json(launch('l1', 'RUNNING'), 202);
    });
    const api = new PipelinesClient(client);
    await api.exportPipeline({
      notebooks: ['a.ipynb'],
      output: 'pipelines/a',
      tag_cell: 2
    });
    const request = {
      path: PIPELINE.path,
      parameters: { 'train.model': 'x' },
      grid: {},
      workers: 1,
      executor: 'local' as const,
      timeout: null
    };
    await api.launch(request);
    expect((await api.launches()).map(l => l.id)).toEqual(['l1']);
    await api.getLaunch('l1');
    await api.cancel('l1');
    expect(seen.map(s => `${s.method} ${s.path}`)).toEqual([
      'POST pipelines/export',
      'POST pipelines/runs',
      'GET pipelines/runs',
      'GET pipelines/runs/l1',
      'POST pipelines/runs/l1/cancel'
    ]);
    expect(JSON.parse(seen[0].body)).toEqual({
      notebooks: ['a.ipynb'],
      output: 'pipelines/a',
      tag_cell: 2
    });
    expect(JSON.parse(seen[1].body)).toEqual(request);
  });

  it('keeps the errors lines of a 400 and names a missing route', async () => {
    const { client } = clientWith(url =>
      url.pathname.endsWith('/runs')
        ? json(
            {
              error: 'InvalidValueError',
              message: 'Bad parameters',
              hint: 'Fix them',
              errors: ['train.lr: not a number', 'seed: not an integer']
            },
            400
          )
        : new Response('<html>404</html>', { status: 404 })
    );
    const api = new PipelinesClient(client);
    const bad = await api
      .launch({
        path: 'p',
        parameters: {},
        grid: {},
        workers: 1,
        executor: 'local',
        timeout: null
      })
      .catch(e => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect(bad.status).toBe(400);
    expect(bad.errors).toEqual([
      'train.lr: not a number',
      'seed: not an integer'
    ]);
    const missing = await api.pipelines().catch(e => e);
    expect(isRouteMissing(missing)).toBe(true);
    expect(missing.message).toBe(PIPELINES_ROUTE_MISSING_MESSAGE);
  });
});

// -- form ---------------------------------------------------------------------

describe('the run form', () => {
  it('types each input by the parameter schema and flags non-literals', () => {
    const fields = formFields(PIPELINE);
    expect(fields.map(f => [f.key, f.kind, f.literal])).toEqual([
      ['prepare.test_size', 'number', true],
      ['prepare.seed', 'integer', true],
      ['train.model', 'text', true],
      ['train.early_stop', 'checkbox', true],
      ['train.layers', 'json', true],
      ['train.extra', 'json', true],
      ['train.n_rows', 'fixed', false]
    ]);
    expect(inputKind({ type: 'int', literal: false })).toBe('fixed');
    expect(inputKind({ type: 'unknown' })).toBe('fixed');
    expect(field('prepare.test_size').annotation).toBe('float');
  });

  it('prefills the defaults', () => {
    const form = initialForm(formFields(PIPELINE));
    expect(form.values).toEqual({
      'prepare.test_size': '0.25',
      'prepare.seed': '42',
      'train.model': 'gbm',
      'train.early_stop': true,
      'train.layers': '[64,32]',
      'train.extra': '{"a":1}'
    });
    expect(form.workers).toBe('1');
    expect(form.executor).toBe('local');
  });

  it('parses values by type, integers checked', () => {
    expect(parseValue(field('prepare.seed'), '7')).toEqual({
      ok: true,
      value: 7
    });
    expect(parseValue(field('prepare.seed'), '1.5')).toEqual({
      ok: false,
      error: 'prepare.seed: "1.5" is not an integer'
    });
    expect(parseValue(field('prepare.seed'), '')).toMatchObject({ ok: false });
    expect(parseValue(field('prepare.test_size'), '1e-3')).toEqual({
      ok: true,
      value: 0.001
    });
    expect(parseValue(field('prepare.test_size'), 'abc')).toMatchObject({
      ok: false
    });
    expect(parseValue(field('train.early_stop'), false)).toEqual({
      ok: true,
      value: false
    });
    expect(parseValue(field('train.model'), '1; import os')).toEqual({
      ok: true,
      value: '1; import os'
    });
    expect(parseValue(field('train.layers'), '[1, 2]')).toEqual({
      ok: true,
      value: [1, 2]
    });
    expect(parseValue(field('train.layers'), '{"a": 1}')).toMatchObject({
      ok: false
    });
    expect(parseValue(field('train.extra'), '[1]')).toMatchObject({
      ok: false
    });
    expect(parseValue(field('train.extra'), '{')).toMatchObject({ ok: false });
    expect(parseValue(field('train.n_rows'), '3')).toMatchObject({ ok: false });
  });

  it('parses sweeps: comma-separated or a JSON list', () => {
    expect(parseSweep(field('prepare.test_size'), ' 0.1, 0.3 ')).toEqual({
      ok: true,
      value: [0.1, 0.3]
    });
    expect(parseSweep(field('prepare.test_size'), '')).toEqual({
      ok: true,
      value: null
    });
    expect(parseSweep(field('prepare.seed'), '1, 2.5')).toEqual({
      ok: false,
      error: 'prepare.seed: "2.5" is not an integer (in the sweep)'
    });
    expect(parseSweep(field('train.model'), 'a, b c')).toEqual({
      ok: true,
      value: ['a', 'b c']
    });
    expect(parseSweep(field('train.early_stop'), 'true,false')).toEqual({
      ok: true,
      value: [true, false]
    });
    expect(parseSweep(field('train.layers'), '[[1], [2, 3]]')).toEqual({
      ok: true,
      value: [[1], [2, 3]]
    });
    expect(parseSweep(field('train.layers'), '1, 2')).toMatchObject({
      ok: false
    });
    expect(parseSweep(field('prepare.seed'), '[1, 2]')).toEqual({
      ok: true,
      value: [1, 2]
    });
    expect(parseSweep(field('prepare.seed'), '["1"]')).toMatchObject({
      ok: false
    });
  });

  it('sends changed values and the grid, or every problem', () => {
    const fields = formFields(PIPELINE);
    const form = initialForm(fields);
    form.values['train.model'] = 'rf';
    form.values['prepare.test_size'] = '0.250';
    form.sweeps['prepare.seed'] = '1, 2, 3';
    form.sweeps['train.early_stop'] = 'true, false';
    form.workers = '2';
    form.timeout = '60';
    const built = buildRunRequest(PIPELINE.path, fields, form);
    expect(built).toEqual({
      ok: true,
      request: {
        path: PIPELINE.path,
        parameters: { 'train.model': 'rf' },
        grid: {
          'prepare.seed': [1, 2, 3],
          'train.early_stop': [true, false]
        },
        workers: 2,
        executor: 'local',
        timeout: 60
      }
    });
    if (built.ok) {
      expect(trialCount(built.request.grid)).toBe(6);
    }

    form.values['prepare.seed'] = 'x';
    form.sweeps = { 'prepare.test_size': '0.1, nope' };
    form.workers = '0';
    form.timeout = '-1';
    const bad = buildRunRequest(PIPELINE.path, fields, form);
    expect(bad).toEqual({
      ok: false,
      errors: [
        'prepare.test_size: "nope" is not a number (in the sweep)',
        'prepare.seed: "x" is not an integer',
        'workers: "0" is not a whole number of 1 or more',
        'timeout: "-1" is not a number of seconds'
      ]
    });
  });
});

// -- model --------------------------------------------------------------------

describe('PipelinesModel', () => {
  const fast = { interval: 60_000, backoff: false, max: 60_000 };

  it('loads, selects, runs, and follows the launch until it is over', async () => {
    let status: ILaunch['status'] = 'RUNNING';
    const client = fakeClient({
      getLaunch: async id =>
        launch(id, status, [
          execution(0, {
            status: status === 'RUNNING' ? 'RUNNING' : 'FINISHED',
            run_id: 'r0',
            output: 'runs/x/prepare.ipynb',
            duration: 2.5
          })
        ])
    });
    const model = new PipelinesModel({ client, poll: fast });
    await model.load();
    expect(model.pipelines).toHaveLength(1);
    model.select(PIPELINE.path);
    expect(model.fields).toHaveLength(7);
    model.setValue('train.model', 'rf');
    model.setSweep('prepare.seed', '1,2');
    const started = await model.run();
    expect(started?.id).toBe('l1');
    expect(client.posted).toEqual([
      {
        path: PIPELINE.path,
        parameters: { 'train.model': 'rf' },
        grid: { 'prepare.seed': [1, 2] },
        workers: 1,
        executor: 'local',
        timeout: null
      }
    ]);
    expect(model.watched?.status).toBe('RUNNING');
    expect(model.launches.map(l => l.id)).toEqual(['l1']);

    await model.refreshWatched();
    expect(model.watched?.executions[0].status).toBe('RUNNING');
    status = 'FINISHED';
    await model.refreshWatched();
    expect(model.watched?.status).toBe('FINISHED');
    expect(progressText(model.watched!)).toBe('1/1 done');
    expect(model.launches[0].status).toBe('FINISHED');
    model.dispose();
  });

  it('runs nothing when the form is wrong, and shows a refused run', async () => {
    const client = fakeClient({
      launch: async () => {
        throw new ApiError({
          kind: 'http',
          status: 400,
          message: 'Bad parameters',
          errors: ['train.model: unknown']
        });
      }
    });
    const model = new PipelinesModel({ client, poll: fast });
    await model.load();
    model.select(PIPELINE.path);
    model.setValue('prepare.seed', '4.2');
    expect(await model.run()).toBeNull();
    expect(client.posted).toEqual([]);
    expect(model.formErrors).toEqual(['prepare.seed: "4.2" is not an integer']);

    model.resetForm();
    expect(await model.run()).toBeNull();
    expect(client.posted).toHaveLength(1);
    expect(model.runError?.errors).toEqual(['train.model: unknown']);
    expect(model.watched).toBeNull();
    model.dispose();
  });

  it('shows notes about the selected pipeline until another is selected', () => {
    const model = new PipelinesModel({ client: fakeClient({}) });
    model.setNotices(['no environment snapshot']);
    expect(model.notices).toEqual(['no environment snapshot']);
    model.select(null);
    expect(model.notices).toEqual([]);
    model.dispose();
  });

  it('drops the selection when the pipeline is gone', async () => {
    const model = new PipelinesModel({ client: fakeClient({ pipelines: [] }) });
    model.select('gone');
    await model.load();
    expect(model.selectedPath).toBeNull();
    expect(model.fields).toEqual([]);
    model.dispose();
  });

  it('keeps launches newest first and replaces known ones', () => {
    const list = upsertLaunch(
      [launch('a', 'FINISHED')],
      launch('b', 'RUNNING')
    );
    expect(list.map(l => l.id)).toEqual(['b', 'a']);
    const updated = upsertLaunch(list, launch('a', 'FAILED'));
    expect(updated.map(l => [l.id, l.status])).toEqual([
      ['b', 'RUNNING'],
      ['a', 'FAILED']
    ]);
    expect(isTerminal('KILLED')).toBe(true);
    expect(isTerminal('PENDING')).toBe(false);
  });
});

// -- rendering ----------------------------------------------------------------

describe('rendering', () => {
  const noop = (): void => undefined;

  it('renders one typed input per parameter, none for non-literals', () => {
    const form = initialForm(formFields(PIPELINE));
    const inputOf = (key: string) => {
      const rendered = render(
        h(ParamRow, {
          field: field(key),
          value: form.values[key],
          sweep: '',
          onValue: noop,
          onSweep: noop
        })
      );
      return { rendered, input: byTestId(rendered, 'mlops-param-input')[0] };
    };
    expect(inputOf('prepare.seed').input.props).toMatchObject({
      type: 'number',
      step: 1,
      value: '42'
    });
    expect(inputOf('prepare.test_size').input.props).toMatchObject({
      type: 'number',
      step: 'any'
    });
    expect(inputOf('train.early_stop').input.props).toMatchObject({
      type: 'checkbox',
      checked: true
    });
    expect(inputOf('train.model').input.props).toMatchObject({
      type: 'text',
      value: 'gbm'
    });
    expect(inputOf('train.layers').input.type).toBe('textarea');
    const fixed = inputOf('train.n_rows');
    expect(fixed.input).toBeUndefined();
    expect(byTestId(fixed.rendered, 'mlops-param-flag')).toHaveLength(1);
    expect(fixed.rendered.text).toContain('non-literal');
    expect(byTestId(fixed.rendered, 'mlops-param-sweep')).toHaveLength(0);
  });

  it('shows each execution with its status, duration, error and links', () => {
    const opened: string[] = [];
    const rendered = render(
      h(LaunchView, {
        launch: launch('l1', 'FAILED', [
          execution(0, {
            status: 'FINISHED',
            run_id: 'r0',
            output: 'runs/l1/prepare.ipynb',
            duration: 2.5
          }),
          execution(1, {
            step: 'train',
            status: 'FAILED',
            reason: 'cell_error',
            error: 'ZeroDivisionError: division by zero'
          })
        ]),
        error: null,
        onCancel: noop,
        onOpenRun: id => opened.push(`run ${id}`),
        onOpenNotebook: path => opened.push(`nb ${path}`)
      })
    );
    const statuses = byTestId(rendered, 'mlops-execution-status');
    expect(statuses.map(s => s.props['data-status'])).toEqual([
      'FINISHED',
      'FAILED'
    ]);
    expect(rendered.text).toContain('2.5 s');
    expect(rendered.text).toContain('2/2 done');
    expect(rendered.text).toContain('ZeroDivisionError: division by zero');
    expect(rendered.text).toContain('test_size=0.25');
    // Over: no cancel button.
    expect(byTestId(rendered, 'mlops-launch-cancel')).toHaveLength(0);
    const runLinks = byTestId(rendered, 'mlops-execution-run');
    const outputLinks = byTestId(rendered, 'mlops-execution-output');
    expect(runLinks).toHaveLength(1);
    expect(outputLinks).toHaveLength(1);
    (runLinks[0].props.onClick as () => void)();
    (outputLinks[0].props.onClick as () => void)();
    (byTestId(rendered, 'mlops-launch-run')[0].props.onClick as () => void)();
    expect(opened).toEqual([
      'run r0',
      'nb runs/l1/prepare.ipynb',
      'run parent1'
    ]);
  });

  it('offers cancel while a launch runs', () => {
    const cancelled: string[] = [];
    const rendered = render(
      h(LaunchView, {
        launch: launch('l2', 'RUNNING'),
        error: null,
        onCancel: id => cancelled.push(id)
      })
    );
    (
      byTestId(rendered, 'mlops-launch-cancel')[0].props.onClick as () => void
    )();
    expect(cancelled).toEqual(['l2']);
  });

  it('shows a 400 with its errors lines and hint', () => {
    const rendered = render(
      h(ErrorList, {
        error: new ApiError({
          kind: 'http',
          status: 400,
          message: 'Bad parameters',
          hint: 'Check the types',
          errors: ['a: not an integer', 'b: unknown parameter']
        }),
        testId: 'e'
      })
    );
    expect(rendered.text).toBe(
      'Bad parametersa: not an integerb: unknown parameterCheck the types'
    );
    expect(rendered.elements.filter(e => e.type === 'li')).toHaveLength(2);
  });

  it('renders names, parameters and errors as text, never as HTML', () => {
    const evil = '<img src=x onerror="alert(1)">';
    const pipeline: IPipeline = {
      path: `p/${evil}`,
      name: evil,
      steps: [
        {
          name: evil,
          notebook: 'n.ipynb',
          depends_on: [],
          parameters: { x: { type: 'str', default: evil } }
        }
      ]
    };
    const trees = [
      render(
        h(PipelineList, {
          pipelines: [pipeline],
          truncated: false,
          loaded: true,
          selectedPath: pipeline.path,
          onSelect: noop
        })
      ),
      render(
        h(ExecutionTable, {
          executions: [
            execution(0, {
              step: evil,
              parameters: { x: evil },
              error: evil,
              status: 'FAILED',
              output: evil,
              run_id: evil
            })
          ],
          onOpenRun: noop,
          onOpenNotebook: noop
        })
      ),
      render(
        h(ParamRow, {
          field: formFields(pipeline)[0],
          value: evil,
          sweep: evil,
          onValue: noop,
          onSweep: noop
        })
      ),
      render(
        h(NotebookParams, {
          parameters: [
            {
              name: evil,
              type: 'str',
              default: evil,
              literal: true,
              annotation: null,
              line: 1
            }
          ]
        })
      ),
      render(
        h(ErrorList, {
          error: new ApiError({ kind: 'http', message: evil, errors: [evil] }),
          testId: 'e'
        })
      )
    ];
    for (const tree of trees) {
      expect(tree.text).toContain('<img');
      for (const element of tree.elements) {
        expect(element.props).not.toHaveProperty('dangerouslySetInnerHTML');
        expect(element.type).not.toBe('img');
      }
    }
  });
});

// -- export dialog ------------------------------------------------------------

describe('the export dialog', () => {
  it('proposes pipelines/<stem> and the active code cell', () => {
    expect(exportDefaults('work/My Model.ipynb')).toEqual({
      output: 'pipelines/My Model',
      name: 'My Model'
    });
    const cells = [
      { index: 1, preview: 'import x' },
      { index: 3, preview: 'lr = 0.1' }
    ];
    expect(defaultTagCell({ cells }, 3)).toBe(3);
    expect(defaultTagCell({ cells }, 2)).toBe(1);
    expect(defaultTagCell({ cells }, null)).toBe(1);
    expect(defaultTagCell({ cells: [] }, 0)).toBeNull();
  });

  it('tags the chosen cell only when the notebook has no parameters cell', async () => {
    const answers = [
      {
        path: 'a.ipynb',
        parameters_cell: null,
        parameters: [],
        cells: [
          { index: 0, preview: 'import os' },
          { index: 2, preview: 'lr = 0.1' }
        ]
      },
      {
        path: 'a.ipynb',
        parameters_cell: 2,
        parameters: [],
        cells: []
      }
    ];
    const client = {
      ...fakeClient({}),
      notebookParameters: async () => answers.shift()!
    };
    const state = new ExportState('a.ipynb', 2);
    await state.load(client);
    expect(state.tagCell).toBe(2);
    state.set({ tagCell: 0, name: ' ' });
    expect(state.request()).toEqual({
      ok: true,
      request: { notebooks: ['a.ipynb'], output: 'pipelines/a', tag_cell: 0 }
    });
    await state.load(client);
    state.set({ name: 'demo' });
    expect(state.request()).toEqual({
      ok: true,
      request: { notebooks: ['a.ipynb'], output: 'pipelines/a', name: 'demo' }
    });
    state.set({ output: '  ' });
    expect(state.request()).toMatchObject({ ok: false });
  });

  it('shows inferred types and defaults, non-literals flagged', () => {
    const rendered = render(
      h(NotebookParams, {
        parameters: [
          {
            name: 'lr',
            type: 'float',
            default: 0.1,
            literal: true,
            annotation: 'float',
            line: 1
          },
          {
            name: 'tags',
            type: 'list',
            default: ['a'],
            literal: true,
            annotation: null,
            line: 2
          },
          {
            name: 'n',
            type: 'any',
            default: null,
            literal: false,
            annotation: null,
            line: 3
          }
        ]
      })
    );
    const rows = byTestId(rendered, 'mlops-export-param');
    expect(rows.map(r => r.props['data-name'])).toEqual(['lr', 'tags', 'n']);
    expect(rendered.text).toContain('lrfloat0.1');
    expect(rendered.text).toContain('tagslist["a"]');
    expect(rendered.text).toContain('nanynon-literal');
    expect(byTestId(rendered, 'mlops-param-flag')).toHaveLength(1);
  });

  it('saves, asks again after a refused export, and reloads a tagged notebook', async () => {
    const calls: string[] = [];
    const exports: unknown[] = [];
    const client = {
      ...fakeClient({}),
      notebookParameters: async () => ({
        path: 'a.ipynb',
        parameters_cell: null,
        parameters: [],
        cells: [{ index: 1, preview: 'lr = 0.1' }]
      }),
      exportPipeline: async (request: unknown) => {
        exports.push(request);
        if (exports.length === 1) {
          throw new ApiError({
            kind: 'http',
            status: 400,
            message: 'pipelines/a exists',
            hint: 'choose another folder'
          });
        }
        return {
          path: 'pipelines/b',
          name: 'a',
          steps: ['a'],
          files: [],
          warnings: []
        };
      }
    };
    const shown: (string | null)[] = [];
    const result = await exportToPipeline({
      client,
      notebook: {
        path: 'a.ipynb',
        activeCell: 1,
        dirty: true,
        save: async () => {
          calls.push('save');
        },
        revert: async () => {
          calls.push('revert');
        }
      },
      ask: async state => {
        shown.push(state.error?.message ?? null);
        if (shown.length === 2) {
          state.set({ output: 'pipelines/b' });
        }
        return true;
      }
    });
    expect(result?.path).toBe('pipelines/b');
    expect(shown).toEqual([null, 'pipelines/a exists']);
    expect(exports).toEqual([
      { notebooks: ['a.ipynb'], output: 'pipelines/a', name: 'a', tag_cell: 1 },
      { notebooks: ['a.ipynb'], output: 'pipelines/b', name: 'a', tag_cell: 1 }
    ]);
    expect(calls).toEqual(['save', 'revert']);

    const cancelled = await exportToPipeline({
      client,
      notebook: {
        path: 'a.ipynb',
        activeCell: null,
        dirty: false,
        save: async () => undefined,
        revert: async () => undefined
      },
      ask: async () => false
    });
    expect(cancelled).toBeNull();
    expect(exports).toHaveLength(2);
  });

  it('finds the notebook of a widget, duck-typed', () => {
    expect(notebookOf(null)).toBeNull();
    const editor = {
      context: { path: 'a.py', save: noopAsync, revert: noopAsync }
    };
    expect(notebookOf(editor as never)).toBeNull();
    const notebook = {
      context: {
        path: 'dir/a.ipynb',
        model: { dirty: true },
        save: noopAsync,
        revert: noopAsync
      },
      content: { activeCellIndex: 4 }
    };
    expect(notebookOf(notebook as never)).toMatchObject({
      path: 'dir/a.ipynb',
      activeCell: 4,
      dirty: true
    });
  });
});

async function noopAsync(): Promise<void> {
  return undefined;
}
