import { subjectClientWith, json } from './fixtures';
import {
  ApiError,
  encodeQuery,
  parseErrorResponse,
  SERVER_MISSING_MESSAGE
} from '../../labextension/src/api/client';
import { RunsClient } from '../../labextension/src/api/runs';

const clientWith = (
  handler: (url: URL) => Response
): { client: RunsClient; urls: URL[] } =>
  subjectClientWith(RunsClient, handler);

describe('parseErrorResponse', () => {
  it('surfaces the JSON message and hint', () => {
    const error = parseErrorResponse(
      400,
      'Bad Request',
      JSON.stringify({
        error: 'UsageError',
        message: 'order_by must name a column',
        hint: 'Use start_time, run_name, metrics.<key>...'
      })
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe('http');
    expect(error.status).toBe(400);
    expect(error.error).toBe('UsageError');
    expect(error.message).toBe('order_by must name a column');
    expect(error.hint).toBe('Use start_time, run_name, metrics.<key>...');
    expect(error.serverMissing).toBe(false);
  });

  it('falls back to the status line for a body that is not JSON', () => {
    const error = parseErrorResponse(502, 'Bad Gateway', '<html>proxy</html>');
    expect(error.message).toBe('Request failed: 502 Bad Gateway');
    expect(error.hint).toBe('');
  });

  it('falls back to the status line for JSON without a message', () => {
    const error = parseErrorResponse(500, '', JSON.stringify({ error: 'X' }));
    expect(error.message).toBe('Request failed: 500');
    expect(error.error).toBe('X');
  });
});

describe('encodeQuery', () => {
  it('drops empty values and encodes the rest', () => {
    expect(
      encodeQuery({ search: 'a b&c', status: undefined, page_token: '', n: 5 })
    ).toBe('?n=5&search=a+b%26c');
    expect(encodeQuery({})).toBe('');
  });
});

describe('RunsClient', () => {
  it('builds URLs under the base URL with the query parameters', async () => {
    const { client, urls } = clientWith(() =>
      json({ runs: [], next_page_token: null })
    );
    await client.searchRuns({
      experiment_id: '3',
      order_by: 'metrics.acc DESC',
      max_results: 50
    });
    expect(urls[0].pathname).toBe('/lab-base/jupyter-mlops/api/runs');
    expect(urls[0].searchParams.get('experiment_id')).toBe('3');
    expect(urls[0].searchParams.get('order_by')).toBe('metrics.acc DESC');
    expect(urls[0].searchParams.get('max_results')).toBe('50');
  });

  it('encodes a metric key with a slash as one path segment', async () => {
    const { client, urls } = clientWith(() =>
      json({ run_id: 'r1', key: 'val/loss', points: [] })
    );
    const history = await client.metricHistory('r1', 'val/loss');
    expect(history.key).toBe('val/loss');
    expect(urls[0].pathname).toBe(
      '/lab-base/jupyter-mlops/api/runs/r1/metrics/val%2Floss'
    );
  });

  it('unwraps the experiment list', async () => {
    const { client } = clientWith(() =>
      json({ experiments: [{ experiment_id: '1', name: 'e2e' }] })
    );
    expect(await client.experiments()).toEqual([
      { experiment_id: '1', name: 'e2e' }
    ]);
  });

  it('reports a missing server extension when /health is a 404', async () => {
    const { client } = clientWith(
      () => new Response('<html>404: Not Found</html>', { status: 404 })
    );
    const error = await client.health().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.kind).toBe('server-missing');
    expect(error.serverMissing).toBe(true);
    expect(error.message).toBe(SERVER_MISSING_MESSAGE);
    expect(error.message).toContain('jupyter server extension list');
  });

  it('keeps a 404 on a run as an ordinary error with the server message', async () => {
    const { client } = clientWith(() =>
      json(
        { error: 'NotFoundError', message: 'No run abc.', hint: 'Refresh.' },
        404
      )
    );
    const error = await client.getRun('abc').catch(e => e);
    expect(error.kind).toBe('http');
    expect(error.serverMissing).toBe(false);
    expect(error.message).toBe('No run abc.');
    expect(error.hint).toBe('Refresh.');
  });

  it('turns a failed fetch into a network error', async () => {
    const { client } = clientWith(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await client.health().catch(e => e);
    expect(error.kind).toBe('network');
    expect(error.serverMissing).toBe(true);
    expect(error.message).toContain('Failed to fetch');
  });

  it('rejects a 200 that is not JSON', async () => {
    const { client } = clientWith(() => new Response('<html></html>'));
    const error = await client.health().catch(e => e);
    expect(error.kind).toBe('invalid-response');
  });
});
