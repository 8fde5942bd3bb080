import type { MessagePort } from 'node:worker_threads';
import { initBackend } from './backend.js';
import { encodeAdapter } from './lora.js';
import { BaseModel } from './model.js';
import { fineTune, type FineTuneSpec } from './train.js';

/** A ModelFactory worker: one fine-tuning job per task, progress over `port`. */
export interface FineTuneTask {
  spec: FineTuneSpec;
  baseDir: string;
  port: MessagePort;
}

let base: Promise<BaseModel> | undefined;
let baseDir: string | undefined;

export default async function run(task: FineTuneTask): Promise<{ adapter: Uint8Array; checkpoints: { epoch: number; learningRate: number; loss: number; adapter: Uint8Array }[] }> {
  await initBackend();
  if (baseDir !== task.baseDir) {
    (await base?.catch(() => undefined))?.dispose();
    baseDir = task.baseDir;
    base = BaseModel.load(task.baseDir);
  }
  try {
    const model = await base!.catch((err: unknown) => {
      // a failed load is not cached: the next job tries again
      base = undefined;
      baseDir = undefined;
      throw err;
    });
    const result = fineTune(model, task.spec, (p) => task.port.postMessage(p));
    return {
      adapter: encodeAdapter(result.adapter),
      checkpoints: result.checkpoints.map((c) => ({
        epoch: c.epoch,
        learningRate: c.learningRate,
        loss: c.loss,
        adapter: encodeAdapter({
          meta: { ...result.adapter.meta, training: { ...result.adapter.meta.training, checkpoint: { epoch: c.epoch, learningRate: c.learningRate, loss: c.loss } } },
          layers: c.layers,
        }),
      })),
    };
  } finally {
    task.port.close();
  }
}
