import { workerData } from 'node:worker_threads';
import { REPO_ROOT } from '../../lib/config.js';

/** A pool task for test/lib/pool.test.ts: what a compiled worker sees of itself. */
export default async function run(x: number): Promise<{ doubled: number; url: string; root: string; data: unknown }> {
  return { doubled: x * 2, url: import.meta.url, root: REPO_ROOT, data: (workerData as { data: unknown }).data };
}
