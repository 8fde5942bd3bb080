import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ZkpoaError } from '../attribution/errors.js';
import { createTsPool } from '../lib/pool.js';
import type { FineTuneResult, FineTuneTask } from './finetune-worker.js';
import type { LmFineTuneSpec, LmAdapterMeta } from './lm-lora.js';
import type { LmServing } from './lm-serving.js';
import { decodeAdapter, type AdapterMeta } from './lora.js';
import type { AdapterStore } from './store.js';
import type { FineTuneSpec, Progress } from './train.js';

/**
 * ModelFactory: no-code fine-tuning. A JSON spec (datanet snapshot, hyper-parameters,
 * seed) becomes a LoRA adapter in the store, trained in a worker thread so the
 * serving loop never waits on it. The checkpoints TracIn-CP needs (the adapter at the
 * end of every epoch, with that epoch's learning rate) are written beside it as
 * `<checkpointsDir>/<adapter id>/epoch-<k>.lora`. A language model's adapters are trained
 * the same way (fineTuneLm) into the LmServing's store.
 */
export interface FineTuneOutcome {
  meta: AdapterMeta;
  checkpoints: { epoch: number; learningRate: number; loss: number; path: string }[];
  durationMs: number;
}

export class ModelFactory {
  private readonly pool;

  constructor(
    private readonly opts: { baseDir: string; store: AdapterStore; checkpointsDir: string; threads?: number; lm?: LmServing },
  ) {
    this.pool = createTsPool(new URL('./finetune-worker.ts', import.meta.url), null, opts.threads ?? 1);
  }

  /** Trains in a worker; an aborted `signal` stops the worker (the task rejects with its reason). */
  async fineTune(spec: FineTuneSpec, onProgress?: (p: Progress) => void, signal?: AbortSignal): Promise<FineTuneOutcome> {
    const started = performance.now();
    const out = await this.run((port) => ({ model: 'classifier', spec, baseDir: this.opts.baseDir, port }), onProgress, signal);
    const adapter = decodeAdapter(out.adapter, this.opts.store.base);
    await this.opts.store.put(adapter);
    const dir = join(this.opts.checkpointsDir, adapter.meta.id);
    await mkdir(dir, { recursive: true });
    const checkpoints = [];
    for (const c of out.checkpoints) {
      const path = join(dir, `epoch-${c.epoch}.lora`);
      await writeFile(`${path}.tmp`, c.adapter);
      await rename(`${path}.tmp`, path);
      checkpoints.push({ epoch: c.epoch, learningRate: c.learningRate, loss: c.loss, path });
    }
    return { meta: adapter.meta, checkpoints, durationMs: performance.now() - started };
  }

  /** Trains a language model's adapter in a worker into the LmServing's store. */
  async fineTuneLm(spec: LmFineTuneSpec, onProgress?: (p: { step: number; steps: number; loss: number }) => void, signal?: AbortSignal): Promise<{ meta: LmAdapterMeta; durationMs: number }> {
    const lm = this.opts.lm;
    if (!lm) throw new ZkpoaError('ZKPOA_ERR_MODEL', 'this service has no language model');
    const started = performance.now();
    await lm.model(); // made (the embedded default is trained once) and checked here, not in each worker
    const out = await this.run((port) => ({ model: 'causal-lm', spec, lmDir: lm.modelDir, port }), onProgress, signal);
    const adapter = await lm.put(out.adapter);
    return { meta: adapter.meta, durationMs: performance.now() - started };
  }

  private async run<P>(task: (port: MessagePort) => FineTuneTask, onProgress?: (p: P) => void, signal?: AbortSignal): Promise<FineTuneResult> {
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (p: P) => onProgress?.(p));
    try {
      return await this.pool.run(task(port2), { transferList: [port2], ...(signal ? { signal } : {}) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (err instanceof ZkpoaError || (err as { code?: string }).code?.startsWith('ZKPOA_')) {
        const e = err as ZkpoaError;
        throw new ZkpoaError(e.code ?? 'ZKPOA_ERR_TRAINING', e.message, { cause: err });
      }
      throw new ZkpoaError('ZKPOA_ERR_TRAINING', `fine-tuning failed: ${(err as Error).message}`, { cause: err });
    } finally {
      port1.close();
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
