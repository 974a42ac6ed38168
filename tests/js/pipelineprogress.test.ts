/**
 * The live side of a launch (issue 13): `cell 7/23` and the last output
 * lines of each running execution, attempts and cache hits, the run form's
 * force and retries in the `POST pipelines/runs` body, and the recent list
 * read again while another launch runs.
 */
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
import {
  type ILaunch,
  PipelinesClient
} from '../../labextension/src/api/pipelines';
import { formFields, initialForm } from '../../labextension/src/pipelines/form';
import {
  LaunchList,
  LaunchView
} from '../../labextension/src/pipelines/launches';
import {
  anyRunning,
  attemptText,
  cellText,
  cleanLine,
  firingKeys,
  outputTail,
  progressText
} from '../../labextension/src/pipelines/logic';
import { PipelinesModel } from '../../labextension/src/pipelines/model';
import { buildRunRequest } from '../../labextension/src/pipelines/request';

const h = React.createElement;
const ESC = String.fromCharCode(27);

/** A running execution at `cell` of `cells` with these output lines. */
function running(
  index: number,
  cell: number,
  cells: number,
  lines: string[] = []
): ILaunch['executions'][number] {
  return execution(index, {
    status: 'RUNNING',
    progress: { cell, cells, lines, updated: 1_700_000_010 }
  });
}

describe('progress of a running execution', () => {
  it('reads cell k/n while it runs, nothing before or after', () => {
    expect(cellText(running(0, 7, 23))).toBe('cell 7/23');
    expect(cellText(execution(0, { status: 'RUNNING' }))).toBeNull();
    expect(cellText({ ...running(0, 23, 23), status: 'FINISHED' })).toBeNull();
    expect(cellText(running(0, 0, 0))).toBeNull();
  });

  it('keeps the last non-empty lines as a terminal shows them', () => {
    const progress = running(0, 2, 5, [
      'epoch 1',
      '',
      `${ESC}[31mValueError${ESC}[0m: bad`,
      'loss 0.9\rloss 0.5\rloss 0.3',
      'a\nb\n',
      `${ESC}]0;title\u0007done   `
    ]).progress;
    expect(outputTail(progress)).toEqual(['loss 0.3', 'a', 'b', 'done']);
    expect(outputTail(progress, 2)).toEqual(['b', 'done']);
    expect(outputTail(null)).toEqual([]);
    expect(cleanLine('50%|#####     |\r100%|##########|\r\n')).toBe(
      '100%|##########|'
    );
  });

  it('names the attempt from the second on and counts cache hits', () => {
    expect(attemptText(execution(0))).toBeNull();
    expect(attemptText(execution(0, { attempt: 1 }))).toBeNull();
    expect(attemptText(execution(0, { attempt: 3 }))).toBe('attempt 3');
    const cached = launch('l1', 'RUNNING', [
      execution(0, { status: 'FINISHED', reason: 'cached', cache_hit: 'r9' }),
      running(1, 1, 4)
    ]);
    expect(progressText(cached)).toBe('1/2 done, 1 cached');
  });

  it('knows which launches still run and which schedules fired', () => {
    const list = [launch('a', 'FINISHED'), launch('b', 'RUNNING')];
    expect(anyRunning(list)).toBe(true);
    expect(anyRunning(list, 'b')).toBe(false);
    expect(
      firingKeys([
        { id: 's1', last_fire: 1_700_000_000 },
        { id: 's2', last_fire: null }
      ])
    ).toEqual(['s1@1700000000']);
  });

  it('shows the cell and the output lines as text, the attempt and the cached source', () => {
    const opened: string[] = [];
    const view = render(
      h(LaunchView, {
        launch: launch('l1', 'RUNNING', [
          execution(0, {
            status: 'FINISHED',
            reason: 'cached',
            cache_hit: 'src-run'
          }),
          { ...running(1, 7, 23, ['<img src=x onerror=alert(1)>']), attempt: 2 }
        ]),
        error: null,
        onCancel: () => undefined,
        onOpenRun: id => opened.push(id)
      })
    );
    const cells = byTestId(view, 'mlops-running-cell');
    expect(cells).toHaveLength(1);
    expect(view.text).toContain('cell 7/23');
    expect(view.text).toContain('attempt 2');
    // The output line is text, never markup.
    expect(view.text).toContain('<img src=x onerror=alert(1)>');
    expect(view.elements.some(e => e.type === 'img')).toBe(false);
    const cachedBadge = byTestId(view, 'mlops-execution-cached');
    expect(cachedBadge).toHaveLength(1);
    expect(cachedBadge[0].props['data-source']).toBe('src-run');
    (cachedBadge[0].props.onClick as () => void)();
    expect(opened).toEqual(['src-run']);
    // A cache hit's reason is the badge, not an error line.
    expect(byTestId(view, 'mlops-execution-error')).toHaveLength(0);

    const list = render(
      h(LaunchList, {
        launches: [launch('l1', 'RUNNING', [running(0, 3, 9)])],
        watchedId: null,
        onWatch: () => undefined
      })
    );
    expect(list.text).toContain('0/1 done \u00B7 cell 3/9');
  });
});

describe('force and retries', () => {
  const fields = formFields(PIPELINE);

  it('sends them only when set, retry_on_error only with retries', () => {
    const form = initialForm(fields);
    expect(form).toMatchObject({
      force: false,
      retries: '0',
      retryOnError: false
    });
    const plain = buildRunRequest(PIPELINE.path, fields, form);
    expect(plain.ok && plain.request).not.toHaveProperty('force');
    expect(plain.ok && plain.request).not.toHaveProperty('retries');

    const noRetries = buildRunRequest(PIPELINE.path, fields, {
      ...form,
      retryOnError: true
    });
    expect(noRetries.ok && noRetries.request).not.toHaveProperty(
      'retry_on_error'
    );

    const built = buildRunRequest(PIPELINE.path, fields, {
      ...form,
      force: true,
      retries: ' 3 ',
      retryOnError: true
    });
    expect(built).toMatchObject({
      ok: true,
      request: { force: true, retries: 3, retry_on_error: true }
    });
  });

  it('refuses retries outside 0 to 10', () => {
    const form = initialForm(fields);
    for (const retries of ['11', '-1', '1.5', 'x', '']) {
      expect(
        buildRunRequest(PIPELINE.path, fields, { ...form, retries })
      ).toEqual({
        ok: false,
        errors: [`retries: "${retries}" is not a whole number from 0 to 10`]
      });
    }
    expect(
      buildRunRequest(PIPELINE.path, fields, { ...form, retries: '10' })
    ).toMatchObject({ ok: true, request: { retries: 10 } });
  });

  it('posts them from the form through the client', async () => {
    const bodies: unknown[] = [];
    const { client } = clientWith(async (url, request) => {
      if (request.method === 'POST') {
        bodies.push(JSON.parse(await request.text()));
        return json(launch('l1', 'FINISHED'), 202);
      }
      if (url.pathname.endsWith('/pipelines')) {
        return json({ pipelines: [PIPELINE], truncated: false });
      }
      return json(
        url.pathname.endsWith('/schedules') ? { schedules: [] } : { runs: [] }
      );
    });
    const model = new PipelinesModel({ client: new PipelinesClient(client) });
    await model.load();
    model.select(PIPELINE.path);
    model.setOptions({ force: true, retries: '2', retryOnError: true });
    expect((await model.run())?.id).toBe('l1');
    expect(bodies).toEqual([
      {
        path: PIPELINE.path,
        parameters: {},
        grid: {},
        workers: 1,
        executor: 'local',
        timeout: null,
        force: true,
        retries: 2,
        retry_on_error: true
      }
    ]);
    model.setOptions({ retries: '12' });
    expect(await model.run()).toBeNull();
    expect(model.formErrors).toEqual([
      'retries: "12" is not a whole number from 0 to 10'
    ]);
    expect(bodies).toHaveLength(1);
    model.dispose();
  });
});

describe('the recent list while another launch runs', () => {
  /** Resolves once `check` holds (the poll ticks on its own). */
  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !check(); i++) {
      await new Promise(resolve => setTimeout(resolve, 5));
    }
    expect(check()).toBe(true);
  }

  it('is read again until nothing runs, then no more', async () => {
    let reads = 0;
    let status: ILaunch['status'] = 'RUNNING';
    const client = fakeClient({});
    client.launches = async () => {
      reads++;
      return [
        launch('bg', status, [
          status === 'RUNNING'
            ? running(0, reads, 10)
            : execution(0, { status })
        ])
      ];
    };
    const fast = { interval: 5, backoff: false, max: 5 };
    const model = new PipelinesModel({ client, listPoll: fast });
    await model.load();
    expect(model.launches[0].status).toBe('RUNNING');
    await until(() => reads >= 3);
    expect(cellText(model.launches[0].executions[0])).toMatch(/^cell \d+\/10$/);
    status = 'FINISHED';
    await until(() => model.launches[0].status === 'FINISHED');
    const after = reads;
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(reads).toBe(after);
    model.dispose();
  });
});
