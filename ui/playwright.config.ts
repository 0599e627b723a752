import { defineConfig } from '@playwright/test';

// Drives Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH); never downloads browsers.
export default defineConfig({
  // The browser test lives with the other end-to-end tests, in the repository's tests/.
  testDir: '../tests/browser',
  timeout: 240_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  outputDir: '/tmp/flightdeck-ui-e2e-results',
  use: {
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
});
