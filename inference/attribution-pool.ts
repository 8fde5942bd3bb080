import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { createTsPool } from '../lib/pool.js';
import type { AttributionTask, AttributionWorkerData } from './attribution-worker.js';
import type { ProjectionSpec } from './gradients.js';
import { decodeAdapter } from './lora.js';

/**
 * Gradient features in a piscina pool, so that building an index over tens of
 * thousands of records uses every core and the serving loop never computes an
 * answer's features itself.
 */
export class AttributionPool {
  private readonly pool;
  private constructor(data: AttributionWorkerData, threads: number) {
    this.pool = createTsPool(new URL('./attribution-worker.ts', import.meta.url), data, threads);
  }

  static create(opts: { baseDir: string; checkpoints: { path: string; learningRate: number }[]; projection: ProjectionSpec; basis?: { path: string; sha256: string }; threads?: number }): AttributionPool {
    return new AttributionPool({ baseDir: opts.baseDir, checkpoints: opts.checkpoints, projection: opts.projection, ...(opts.basis ? { basis: opts.basis } : {}) }, opts.threads ?? availableParallelism());
  }

  /** Per-record features in the records' order, computed in chunks across the workers (stopped by `signal`). */
  async recordFeatures(records: readonly { text: string; label: number }[], onProgress?: (done: number, total: number) => void, chunk = 64, signal?: AbortSignal): Promise<Float64Array[]> {
    let done = 0;
    const parts = await Promise.all(
      Array.from({ length: Math.ceil(records.length / chunk) }, async (_, i) => {
        const slice = records.slice(i * chunk, (i + 1) * chunk).map((r) => ({ text: r.text, label: r.label }));
        const task: AttributionTask = { kind: 'records', records: slice };
        const out = (await this.pool.run(task, signal ? { signal } : {})) as Float64Array[];
        done += slice.length;
        onProgress?.(done, records.length);
        return out;
      }),
    );
    return parts.flat();
  }

  /** An answer's (unquantized, unpreconditioned) gradient feature at the model's prediction. */
  async query(text: string): Promise<{ features: Float64Array; predicted: number }> {
    const task: AttributionTask = { kind: 'query', text };
    return (await this.pool.run(task)) as { features: Float64Array; predicted: number };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The checkpoints ModelFactory kept for an adapter (`<dir>/epoch-<k>.lora`), in epoch order, with their learning rates. */
export async function keptCheckpoints(dir: string): Promise<{ path: string; learningRate: number; epoch: number }[]> {
  const files = (await readdir(dir)).filter((f) => /^epoch-\d+\.lora$/.test(f));
  const out = await Promise.all(
    files.map(async (f) => {
      const meta = decodeAdapter(await readFile(join(dir, f))).meta;
      const ck = (meta.training as { checkpoint?: { epoch: number; learningRate: number } }).checkpoint;
      if (!ck) throw new Error(`${f} is not a kept checkpoint`);
      return { path: join(dir, f), learningRate: ck.learningRate, epoch: ck.epoch };
    }),
  );
  return out.sort((a, b) => a.epoch - b.epoch);
}
