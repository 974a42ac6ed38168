import { ApiError } from '../../labextension/src/api/client';
import { RunEditClient } from '../../labextension/src/api/runEdit';
import { json, makeRun, subjectClientWith } from './fixtures';

describe('RunEditClient', () => {
  it('posts each edit as JSON to its route and returns the run', async () => {
    const seen: { path: string; method: string; body: unknown }[] = [];
    const { client } = subjectClientWith(
      RunEditClient,
      async (url, request) => {
        seen.push({
          path: url.pathname,
          method: request.method,
          body: JSON.parse(await request.text())
        });
        return json({ ...makeRun('r/1'), lifecycle_stage: 'active' });
      }
    );
    const run = await client.rename('r/1', 'new <b>name</b>');
    expect(run.lifecycle_stage).toBe('active');
    await client.editTags('r/1', { set: { a: '1' }, delete: ['b'] });
    await client.setNote('r/1', '# note');
    await client.deleteRun('r/1');
    await client.restoreRun('r/1');
    const prefix = '/lab-base/jupyter-mlops/api/runs/r%2F1';
    expect(seen).toEqual([
      {
        path: `${prefix}/rename`,
        method: 'POST',
        body: { name: 'new <b>name</b>' }
      },
      {
        path: `${prefix}/tags`,
        method: 'POST',
        body: { set: { a: '1' }, delete: ['b'] }
      },
      { path: `${prefix}/note`, method: 'POST', body: { note: '# note' } },
      { path: `${prefix}/delete`, method: 'POST', body: {} },
      { path: `${prefix}/restore`, method: 'POST', body: {} }
    ]);
  });

  it('lists deleted runs of one experiment', async () => {
    const { client, urls } = subjectClientWith(RunEditClient, () =>
      json({ runs: [{ ...makeRun('d'), lifecycle_stage: 'deleted' }] })
    );
    const runs = await client.deletedRuns('7');
    expect(runs.map(run => run.lifecycle_stage)).toEqual(['deleted']);
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/deleted-runs');
    expect(urls[0].searchParams.get('experiment_id')).toBe('7');
  });

  it("surfaces the server's refusal with its hint", async () => {
    const { client } = subjectClientWith(RunEditClient, () =>
      json(
        {
          error: 'InvalidValueError',
          message: "Tag 'mlops.project' is read-only.",
          hint: 'use a tag name of your own'
        },
        400
      )
    );
    const error = await client
      .editTags('r', { set: { 'mlops.project': 'x' } })
      .catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).hint).toBe('use a tag name of your own');
  });

  it('asks Jupyter once whether the user may write runs', async () => {
    const { client, urls } = subjectClientWith(RunEditClient, url =>
      json({
        identity: {},
        permissions: JSON.parse(url.searchParams.get('permissions') ?? '{}')
      })
    );
    expect(await client.canEdit()).toBe(true);
    expect(await client.canEdit()).toBe(true);
    expect(urls).toHaveLength(1);
    expect(urls[0].pathname).toBe('/lab-base/api/me');
    expect(JSON.parse(urls[0].searchParams.get('permissions') ?? '')).toEqual({
      'mlops:runs': ['write']
    });
  });

  it('says no when the server refuses or cannot be asked', async () => {
    const denied = subjectClientWith(RunEditClient, () =>
      json({ identity: {}, permissions: { 'mlops:runs': [] } })
    ).client;
    expect(await denied.canEdit()).toBe(false);
    const down = subjectClientWith(RunEditClient, () => json({}, 500)).client;
    expect(await down.canEdit()).toBe(false);
  });
});
