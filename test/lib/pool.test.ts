import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
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
    const esm = ['--no-experimental-require-module']; // task modules load through import(): see workerExecArgv
    expect(workerExecArgv([...tsx, '--max-old-space-size=4096', '--import', './other.mjs', '--import=tsx'])).toEqual(['--max-old-space-size=4096', '--import', './other.mjs', '--enable-source-maps', ...esm]);
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', ...esm]);
    expect(workerExecArgv(['--experimental-require-module', ...esm])).toEqual([...esm, '--enable-source-maps']);
    expect(workerExecArgv(['--import=data:text/javascript,globalThis.a=1'])).toEqual(['--import', 'data:text/javascript,globalThis.a=1', '--enable-source-maps', ...esm]);
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

  // Node loads a native addon once per thread and unloads it when a worker exits; an addon
  // that keeps process-wide state per thread corrupts the heap then (blake-hash's did: every
  // thread that loaded it deleted the previous thread's reference, after that thread was
  // gone, and test forks aborted in a worker's Heap::TearDown). Pool workers load none.
  it('pool worker modules load no native addon', async () => {
    const modules = ['../../inference/finetune-worker.ts', '../../inference/influence-worker.ts', '../../inference/attribution-worker.ts', '../../prover/worker.ts', '../../inference/lm-train-worker.ts', '../../inference/span-worker.ts'];
    for (const m of modules) {
      const url = compiledWorker(new URL(m, import.meta.url));
      expect({ module: m, ...(await addonsLoadedBy(url)) }).toEqual({ module: m, addons: [] });
    }
  });
});

/** The native addons (process.dlopen) a fresh worker thread loads while importing `module`. */
async function addonsLoadedBy(module: URL): Promise<{ addons: string[]; error?: string }> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const addons = [];
    const dlopen = process.dlopen;
    process.dlopen = function (m, file, ...rest) { addons.push(file); return dlopen.call(this, m, file, ...rest); };
    process.on('unhandledRejection', () => {}); // the module's own start-up, without workerData, may fail: not the question
    import(${JSON.stringify(module.href)}).then(() => parentPort.postMessage({ addons }), (e) => parentPort.postMessage({ addons, error: String(e) }));
  `;
  const worker = new Worker(code, { eval: true, workerData: { data: null }, execArgv: workerExecArgv() });
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}
