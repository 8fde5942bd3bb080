import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the browser tests run on their own (npm run test:browser, vitest.browser.config.ts)
    exclude: ['test/browser/**', 'node_modules/**'],
    // Builds the small test circuit's keys once (cached in build/) before any file runs.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // Two cores: heavy files (proving, chains) must not all run at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
