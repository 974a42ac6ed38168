/**
 * Client of the artifact routes (`api/openapi.yaml`): `runs/{run_id}/artifacts`,
 * `.../artifacts/preview`, `.../artifacts/raw` and `mlflow-ui`.
 *
 * JSON routes go through `HttpClient.request` (same URL building, auth and
 * error parsing). The raw route is only ever a URL: an `<img src>`, a
 * sandboxed `<iframe src>` or a download link, authenticated by the Jupyter
 * cookie like JupyterLab's own file downloads.
 */
import { URLExt } from '@jupyterlab/coreutils';

import { API_NAMESPACE, encodeQuery, HttpClient } from './client';
import type { IArtifactListing, IArtifactPreview, IMlflowUi } from './types';

/** How the raw route should send a file. */
export interface IRawOptions {
  /** Always as an attachment (a download). */
  download?: boolean;
  /** HTML and SVG inline, for a sandboxed frame. */
  preview?: boolean;
}

/** The client the Artifacts section needs; `ArtifactsClient` implements it over HTTP. */
export interface IArtifactsClient {
  listArtifacts(runId: string, path?: string): Promise<IArtifactListing>;
  previewArtifact(runId: string, path: string): Promise<IArtifactPreview>;
  mlflowUi(): Promise<IMlflowUi>;
  /** The URL of a file of the raw route. */
  rawUrl(runId: string, path: string, options?: IRawOptions): string;
}

/** The `_xsrf` cookie's value in `cookie` (`document.cookie`), if any. */
export function xsrfFromCookie(cookie: string): string | null {
  const match = cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? match[1] : null;
}

/**
 * The raw route's URL for one file of one run. The path travels as a query
 * value (URL-encoded once); `_xsrf` is added when known, as JupyterLab does
 * for its own download URLs.
 */
export function artifactRawUrl(
  baseUrl: string,
  runId: string,
  path: string,
  options: IRawOptions = {},
  xsrf: string | null = null
): string {
  return (
    URLExt.join(
      baseUrl,
      API_NAMESPACE,
      'runs',
      encodeURIComponent(runId),
      'artifacts',
      'raw'
    ) +
    encodeQuery({
      path,
      download: options.download ? 1 : undefined,
      preview: options.preview ? 1 : undefined,
      _xsrf: xsrf ?? undefined
    })
  );
}

/** HTTP client of the artifact routes. */
export class ArtifactsClient implements IArtifactsClient {
  constructor(http?: HttpClient) {
    this.http = http ?? new HttpClient();
  }

  readonly http: HttpClient;

  listArtifacts(runId: string, path = ''): Promise<IArtifactListing> {
    return this.http.request<IArtifactListing>(['runs', runId, 'artifacts'], {
      path
    });
  }

  previewArtifact(runId: string, path: string): Promise<IArtifactPreview> {
    return this.http.request<IArtifactPreview>(
      ['runs', runId, 'artifacts', 'preview'],
      { path }
    );
  }

  mlflowUi(): Promise<IMlflowUi> {
    return this.http.request<IMlflowUi>(['mlflow-ui']);
  }

  rawUrl(runId: string, path: string, options: IRawOptions = {}): string {
    const cookie = typeof document === 'undefined' ? '' : document.cookie;
    return artifactRawUrl(
      this.http.serverSettings.baseUrl,
      runId,
      path,
      options,
      xsrfFromCookie(cookie)
    );
  }
}
