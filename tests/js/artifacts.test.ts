import { BASE, clientWith, json } from './fixtures';
import {
  columnsText,
  FRAME_SANDBOX,
  mlflowRunLink,
  previewMode
} from '../../labextension/src/artifacts/logic';
import { ArtifactsModel } from '../../labextension/src/artifacts/model';
import { formatFileSize as formatBytes } from '../../labextension/src/common/format';
import {
  ArtifactsClient,
  artifactRawUrl,
  type IArtifactsClient,
  xsrfFromCookie
} from '../../labextension/src/api/artifacts';
import type {
  IArtifactEntry,
  IArtifactListing,
  IArtifactPreview,
  IMlflowUi
} from '../../labextension/src/api/types';

function entry(
  path: string,
  isDir = false,
  size: number | null = 10
): IArtifactEntry {
  const name = path.split('/').pop() ?? path;
  const ext = name.includes('.') ? name.split('.').pop() : '';
  const kind = isDir
    ? 'folder'
    : ext === 'png'
      ? 'image'
      : ext === 'html'
        ? 'html'
        : 'text';
  return {
    path,
    name,
    is_dir: isDir,
    size: isDir ? null : size,
    kind,
    is_model: false
  };
}

function listing(path: string, entries: IArtifactEntry[]): IArtifactListing {
  return {
    run_id: 'r1',
    path,
    entries,
    truncated: false,
    model: null,
    models: []
  };
}

/** An in-memory artifact API; records calls; `failing` folders reject once. */
class FakeClient implements IArtifactsClient {
  calls: string[] = [];
  failing = new Set<string>();
  folders: Record<string, IArtifactEntry[]> = {
    '': [
      entry('plots', true),
      entry('notebook', true),
      entry('metrics.csv', false, 2048)
    ],
    plots: [entry('plots/roc.png', false, 5000), entry('plots/deep', true)],
    'plots/deep': [entry('plots/deep/a.txt')],
    notebook: [entry('notebook/x.html')]
  };

  async listArtifacts(runId: string, path = ''): Promise<IArtifactListing> {
    this.calls.push(`list:${path}`);
    if (this.failing.delete(path)) {
      throw new Error(`boom ${path}`);
    }
    return listing(path, this.folders[path] ?? []);
  }

  async previewArtifact(
    runId: string,
    path: string
  ): Promise<IArtifactPreview> {
    this.calls.push(`preview:${path}`);
    return {
      run_id: runId,
      path,
      name: path,
      kind: 'text',
      media_type: 'text/plain; charset=utf-8',
      size: 3,
      text: 'a,b',
      truncated: false,
      model: null
    };
  }

  async mlflowUi(): Promise<IMlflowUi> {
    return { url: null, command: 'mlflow ui' };
  }

  rawUrl(
    runId: string,
    path: string,
    options: { download?: boolean } = {}
  ): string {
    return `raw:${runId}:${path}:${options.download ? 'dl' : ''}`;
  }
}

describe('formatting and modes', () => {
  it('formats sizes in powers of 1024', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(12 * 1024 * 1024)).toBe('12 MB');
    expect(formatBytes(null)).toBe('');
  });

  it('shows HTML and SVG only in frames, images as images, the rest as text or not at all', () => {
    expect(previewMode('image')).toBe('image');
    expect(previewMode('html')).toBe('frame');
    expect(previewMode('svg')).toBe('frame');
    expect(previewMode('text')).toBe('text');
    expect(previewMode('binary')).toBe('none');
    expect(previewMode('folder')).toBe('none');
  });

  it('sandboxes frames with no permission at all', () => {
    expect(FRAME_SANDBOX).toBe('');
    expect(FRAME_SANDBOX).not.toContain('allow-');
  });

  it('writes signatures as name: type lists', () => {
    expect(
      columnsText([
        { name: 'age', type: 'double' },
        { name: null, type: 'tensor(float64, [-1])' }
      ])
    ).toBe('age: double, tensor(float64, [-1])');
    expect(columnsText([])).toBe('-');
  });
});

describe('mlflowRunLink', () => {
  it('links a run under the configured UI', () => {
    expect(
      mlflowRunLink({ url: 'http://mlflow:5000/', command: 'x' }, '3', 'ab c')
    ).toEqual({
      kind: 'link',
      href: 'http://mlflow:5000/#/experiments/3/runs/ab%20c'
    });
  });

  it('shows the command without a URL, or for a URL that is not http(s)', () => {
    const command = 'mlflow ui --backend-store-uri sqlite:///x.db';
    expect(mlflowRunLink({ url: null, command }, '1', 'r')).toEqual({
      kind: 'command',
      command
    });
    expect(
      mlflowRunLink({ url: 'javascript:alert(1)', command }, '1', 'r').kind
    ).toBe('command');
  });
});

describe('artifact URLs and client', () => {
  it('builds raw URLs with the path as one query value', () => {
    expect(artifactRawUrl(BASE, 'r1', 'plots/a b&c.png')).toBe(
      `${BASE}jupyter-mlops/api/runs/r1/artifacts/raw?path=plots%2Fa+b%26c.png`
    );
    expect(artifactRawUrl(BASE, 'r1', 'x.html', { preview: true }, 'tok')).toBe(
      `${BASE}jupyter-mlops/api/runs/r1/artifacts/raw?_xsrf=tok&path=x.html&preview=1`
    );
    expect(artifactRawUrl(BASE, 'r1', 'x', { download: true })).toContain(
      'download=1'
    );
  });

  it('reads the _xsrf cookie', () => {
    expect(xsrfFromCookie('a=1; _xsrf=2|abc; b=3')).toBe('2|abc');
    expect(xsrfFromCookie('not_xsrf=1')).toBeNull();
  });

  it('calls the documented routes', async () => {
    const { client, urls } = clientWith(url =>
      url.pathname.endsWith('/mlflow-ui')
        ? json({ url: null, command: 'mlflow ui' })
        : json(listing(url.searchParams.get('path') ?? '', []))
    );
    const api = new ArtifactsClient(client);
    await api.listArtifacts('r1', 'plots/deep');
    await api.previewArtifact('r1', 'a.csv');
    await api.mlflowUi();
    expect(urls.map(u => `${u.pathname}${u.search}`)).toEqual([
      '/lab-base/jupyter-mlops/api/runs/r1/artifacts?path=plots%2Fdeep',
      '/lab-base/jupyter-mlops/api/runs/r1/artifacts/preview?path=a.csv',
      '/lab-base/jupyter-mlops/api/mlflow-ui'
    ]);
  });
});

describe('ArtifactsModel', () => {
  it('loads the root once and folders lazily, on first expansion', async () => {
    const client = new FakeClient();
    const model = new ArtifactsModel(client, 'r1');
    await model.start();
    await model.start();
    expect(client.calls).toEqual(['list:']);
    expect(model.rows().map(r => r.entry.path)).toEqual([
      'plots',
      'notebook',
      'metrics.csv'
    ]);

    await model.toggle('plots');
    expect(model.rows().map(r => [r.entry.path, r.depth])).toEqual([
      ['plots', 0],
      ['plots/roc.png', 1],
      ['plots/deep', 1],
      ['notebook', 0],
      ['metrics.csv', 0]
    ]);
    await model.select(entry('plots/deep', true));
    expect(model.rows().map(r => r.entry.path)).toContain('plots/deep/a.txt');

    // collapsing hides the children; expanding again does not reload
    await model.toggle('plots');
    expect(model.rows()).toHaveLength(3);
    await model.toggle('plots');
    expect(client.calls).toEqual(['list:', 'list:plots', 'list:plots/deep']);
    expect(model.isExpanded('plots/deep')).toBe(true);
  });

  it('keeps a folder error and retries it on the next expansion', async () => {
    const client = new FakeClient();
    client.failing.add('notebook');
    const model = new ArtifactsModel(client, 'r1');
    await model.start();
    await model.toggle('notebook');
    expect(model.folder('notebook')?.error?.message).toBe('boom notebook');
    await model.toggle('notebook');
    await model.toggle('notebook');
    expect(model.folder('notebook')?.listing?.entries).toHaveLength(1);
  });

  it('selects a file and loads its preview; emits changes', async () => {
    const client = new FakeClient();
    const model = new ArtifactsModel(client, 'r1');
    let changes = 0;
    model.changed.connect(() => (changes += 1));
    await model.start();
    await model.select(entry('metrics.csv'));
    expect(model.selected?.preview?.text).toBe('a,b');
    expect(model.selected?.loading).toBe(false);
    expect(changes).toBeGreaterThanOrEqual(4);
    expect(model.rawUrl('metrics.csv', { download: true })).toBe(
      'raw:r1:metrics.csv:dl'
    );
  });
});
