import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';

const ENTRY = new URL('./ts-worker.mjs', import.meta.url);

/**
 * A piscina pool whose workers run a TypeScript task module (default export).
 * `data` reaches the module as workerData.data.
 */
export function createTsPool<Data>(module: URL, data: Data, threads = availableParallelism()): Piscina {
  return new Piscina({
    filename: ENTRY.href,
    workerData: { module: module.href, data },
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: Infinity,
  });
}
