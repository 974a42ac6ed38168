/**
 * Galata's `test` with one JupyterLab server per Playwright worker.
 *
 * Each worker starts `jupyter lab --config jupyter_server_test_config.py` on
 * its own port (MLOPS_UI_PORT + the worker's parallel index) and its own fresh
 * root folder, MLflow store and spool, so spec files running at the same time
 * never see each other's runs. A retried test gets a new worker, hence a new
 * server. Specs import `test` and `expect` from here, never from galata.
 *
 * A spec that needs its server configured otherwise sets `mlopsServerEnv`
 * (`test.use({ mlopsServerEnv: { MLOPS_UI_IDLE_POLICY: '[...]' } })`, read by
 * jupyter_server_test_config.py): Playwright gives it workers of its own.
 *
 * With MLOPS_UI_URL set, the tests use that running server instead (one
 * worker): `MLOPS_UI_URL=http://localhost:8899 npx playwright test ...`.
 */
import { expect, galata, test as base } from '@jupyterlab/galata';
import { type ChildProcess, spawn } from 'child_process';
import * as path from 'path';

export { expect, galata };

const BASE_PORT = Number(process.env.MLOPS_UI_PORT || 8899);
const CONFIG_DIR = path.resolve(__dirname, '..');
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { redirect: 'manual' });
    return response.status < 500;
  } catch {
    return false;
  }
}

function exited(server: ChildProcess, ms: number): Promise<boolean> {
  if (server.exitCode !== null || server.signalCode !== null) {
    return Promise.resolve(true);
  }
  return new Promise(resolve => {
    const timer = setTimeout(() => resolve(false), ms);
    server.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Start a server on `port`; resolves to its URL once /lab answers. */
async function startServer(
  port: number,
  log: (line: string) => void,
  extraEnv: Record<string, string> = {}
): Promise<{ url: string; server: ChildProcess }> {
  const url = `http://localhost:${port}`;
  if (await reachable(`${url}/lab`)) {
    throw new Error(
      `port ${port} is taken by another server: stop it, or set MLOPS_UI_PORT ` +
        'to a free range, or MLOPS_UI_URL to use that server'
    );
  }
  const server = spawn(
    'jupyter',
    [
      'lab',
      '--config',
      'jupyter_server_test_config.py',
      `--ServerApp.port=${port}`
    ],
    {
      cwd: CONFIG_DIR,
      env: { ...process.env, ...extraEnv, MLOPS_UI_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  const forward = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim()) {
        log(`[server ${port}] ${line}`);
      }
    }
  };
  server.stdout?.on('data', forward);
  server.stderr?.on('data', forward);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(
        `jupyter lab on port ${port} exited with ${server.exitCode}`
      );
    }
    if (await reachable(`${url}/lab`)) {
      return { url, server };
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
  server.kill('SIGKILL');
  throw new Error(`jupyter lab on port ${port} did not answer in time`);
}

export const test = base.extend<
  object,
  { mlopsServerURL: string; mlopsServerEnv: Record<string, string> }
>({
  mlopsServerEnv: [{}, { scope: 'worker', option: true }],
  mlopsServerURL: [
    async ({ mlopsServerEnv }, provide, workerInfo) => {
      if (process.env.MLOPS_UI_URL) {
        await provide(process.env.MLOPS_UI_URL);
        return;
      }
      const port = BASE_PORT + workerInfo.parallelIndex;
      const { url, server } = await startServer(
        port,
        line => process.stderr.write(`${line}\n`),
        mlopsServerEnv
      );
      try {
        await provide(url);
      } finally {
        // SIGTERM lets JupyterLab stop its kernels and remove its temp folders.
        server.kill('SIGTERM');
        if (!(await exited(server, STOP_TIMEOUT_MS))) {
          server.kill('SIGKILL');
          await exited(server, STOP_TIMEOUT_MS);
        }
      }
    },
    { scope: 'worker', timeout: START_TIMEOUT_MS + 2 * STOP_TIMEOUT_MS }
  ],
  baseURL: async ({ mlopsServerURL }, provide) => {
    await provide(mlopsServerURL);
  }
});
