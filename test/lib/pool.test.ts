import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTsPool } from '../../lib/pool.js';
import { compiledWorker } from '../../lib/worker-build.js';
import { REPO_ROOT } from '../../prover/setup.js';

const TASK = new URL('./echo-task.ts', import.meta.url);
const threads = () => readdirSync('/proc/self/task').length;

describe('worker pools run compiled TypeScript', () => {
  const pools: { close(): Promise<void> }[] = [];
  afterAll(() => Promise.all(pools.map((p) => p.close())));

  it('a task module runs with its data, and every compiled file keeps its source’s import.meta.url', async () => {
    const pool = createTsPool(TASK, { hello: 'workers' }, 1);
    pools.push(pool);
    const out = await pool.run(21);
    expect(out).toEqual({ doubled: 42, url: TASK.href, root: REPO_ROOT, data: { hello: 'workers' } });
  });

  it('the same sources compile once, to the same place', () => {
    const url = compiledWorker(TASK);
    expect(compiledWorker(TASK)).toBe(url);
    expect(existsSync(url)).toBe(true);
    expect(url.pathname).toMatch(/\/build\/worker-js\/[0-9a-f]{16}\/test\/lib\/echo-task\.js$/);
  });

  // a TypeScript loader inside a worker would start a nested hooks thread, whose teardown crashed forks
  it.runIf(existsSync('/proc/self/task'))('a worker is one thread: no loader thread nested in it', async () => {
    const before = threads();
    const pool = createTsPool(TASK, null, 2);
    pools.push(pool);
    await Promise.all([pool.run(1), pool.run(2)]);
    expect(threads() - before).toBe(2);
  });
});
