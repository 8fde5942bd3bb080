import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { compiledWorker, workerExecArgv } from './worker-build.js';

/**
 * A piscina pool whose workers run a TypeScript task module (default export), compiled to
 * JavaScript first (lib/worker-build.ts says why no TypeScript loader runs in workers).
 * `data` reaches the module as workerData.data.
 */
export function createTsPool<Data>(module: URL, data: Data, threads = availableParallelism()): Piscina {
  return new Piscina({
    filename: compiledWorker(module).href,
    workerData: { data },
    execArgv: workerExecArgv(),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
  });
}
