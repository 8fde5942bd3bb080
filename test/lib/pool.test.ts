import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createTsPool } from '../../lib/pool.js';
import { compiledWorker, workerExecArgv } from '../../lib/worker-build.js';
import { REPO_ROOT } from '../../lib/config.js';

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

  it('compiles into a content-addressed mirror of the repository, each file naming its source', () => {
    const url = compiledWorker(TASK);
    expect(url.pathname).toMatch(/\/build\/worker-js\/[0-9a-f]{16}\/test\/lib\/echo-task\.js$/);
    const code = readFileSync(url, 'utf8');
    expect(code).toContain(JSON.stringify(TASK.href));
    expect(code).not.toContain('import.meta.url');
    // the module it imports sits beside it in the mirror, as in the repository
    expect(existsSync(new URL('../../lib/config.js', url))).toBe(true);
  });

  it('workers start without a TypeScript loader, with the process’s other flags and source maps', () => {
    const tsx = ['--require', '/r/node_modules/tsx/dist/preflight.cjs', '--import', 'file:///r/node_modules/tsx/dist/loader.mjs'];
    expect(workerExecArgv([...tsx, '--max-old-space-size=4096', '--import', './other.mjs', '--import=tsx'])).toEqual(['--max-old-space-size=4096', '--import', './other.mjs', '--enable-source-maps']);
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(workerExecArgv(['--import=data:text/javascript,globalThis.a=1'])).toEqual(['--import', 'data:text/javascript,globalThis.a=1', '--enable-source-maps']);
  });

  // a TypeScript loader inside a worker would start a nested hooks thread, whose teardown crashed forks
  it.runIf(existsSync('/proc/self/task'))('a worker is one thread: no loader thread nested in it', async () => {
    compiledWorker(TASK); // esbuild's own thread comes and goes while compiling
    const before = threads();
    const pool = createTsPool(TASK, null, 2);
    pools.push(pool);
    await Promise.all([pool.run(1), pool.run(2)]);
    expect(threads() - before).toBe(2);
  });
});
