/**
 * Galata (Playwright) configuration of the UI tests: `npm run test:ui`.
 *
 * Uses Debian's Chromium (`apt-get install chromium`; never `playwright
 * install`) and starts JupyterLab with jupyter_server_test_config.py on a
 * fresh temporary folder. `jupyter` must be on PATH (the project's .venv).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = Number(process.env.MLOPS_UI_PORT || 8899);
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
  workers: 1,
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${PORT}`,
    viewport: { width: 1280, height: 800 },
    // Galata records video with a downloaded ffmpeg: not available here.
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM,
      // Root in a container: no sandbox; small /dev/shm.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu']
    }
  },
  webServer: {
    command: `jupyter lab --config jupyter_server_test_config.py --ServerApp.port=${PORT}`,
    cwd: __dirname,
    url: `http://localhost:${PORT}/lab`,
    timeout: 120_000,
    reuseExistingServer: !process.env.CI,
    // Let JupyterLab stop its kernels (their metrics flush) and remove its temp folders.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 10_000 },
    env: { ...process.env, MLOPS_UI_PORT: String(PORT) }
  }
};
