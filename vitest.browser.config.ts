import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The dashboard in Debian's Chromium (test/browser): the unit suite's settings, these files only.
export default defineConfig({ test: { ...base.test, include: ['test/browser/**/*.test.ts'], exclude: ['node_modules/**'] } });
