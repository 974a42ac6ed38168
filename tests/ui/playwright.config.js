/**
 * Galata (Playwright) configuration of the UI tests: `npm run test:ui`.
 *
 * Uses Debian's Chromium (`apt-get install chromium`; never `playwright
 * install`). Each worker starts its own JupyterLab with
 * jupyter_server_test_config.py on a fresh temporary folder (tests/fixtures.ts):
 * ports MLOPS_UI_PORT (8899) and up, MLOPS_UI_WORKERS of them (default: one
 * per two cores). `jupyter` must be on PATH (the project's .venv).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');
const os = require('os');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/lib/chromium/chromium';

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  reporter: [
    [process.env.CI ? 'line' : 'list'],
    ['html', { open: 'never', outputFolder: 'playwright-report' }]
  ],
  timeout: 120_000,
  expect: { timeout: 30_000 },
  retries: process.env.CI ? 1 : 0,
  // One JupyterLab server per worker (tests/fixtures.ts), each with its own store
  // and spool. A spec file drives a browser, a server and kernels: on two cores
  // two of them at once take as long as one after the other (measured), so one
  // worker per two cores unless MLOPS_UI_WORKERS says otherwise.
  workers: process.env.MLOPS_UI_URL
    ? 1
    : Number(
        process.env.MLOPS_UI_WORKERS ||
          Math.max(1, Math.floor(os.cpus().length / 2))
      ),
  use: {
    ...baseConfig.use,
    viewport: { width: 1280, height: 800 },
    // Galata records video with a downloaded ffmpeg: not available here.
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      // Root in a container: no sandbox; small /dev/shm.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu']
    }
  }
};
