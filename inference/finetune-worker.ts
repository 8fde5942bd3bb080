import type { MessagePort } from 'node:worker_threads';
import { initBackend } from './backend.js';
import { CausalLm } from './lm.js';
import { encodeLmAdapter, fineTuneLm, type LmFineTuneSpec } from './lm-lora.js';
import { encodeAdapter } from './lora.js';
import { BaseModel } from './model.js';
import { fineTune, type FineTuneSpec } from './train.js';

/** A ModelFactory worker: one fine-tuning job per task, progress over `port`; a classifier's adapter, or a language model's. */
export type FineTuneTask = { port: MessagePort } & ({ model: 'classifier'; spec: FineTuneSpec; baseDir: string } | { model: 'causal-lm'; spec: LmFineTuneSpec; lmDir: string });

export interface FineTuneResult {
  adapter: Uint8Array;
  /** the classifier's epochs, which TracIn-CP reads; a language model's adapter has none */
  checkpoints: { epoch: number; learningRate: number; loss: number; adapter: Uint8Array }[];
}

/** The model a worker loaded last, kept for its next job; a failed load is not kept. */
function cached<T extends { dispose(): void }>(load: (dir: string) => Promise<T>): (dir: string) => Promise<T> {
  let dir: string | undefined;
  let model: Promise<T> | undefined;
  return async (wanted) => {
    if (dir !== wanted) {
      (await model?.catch(() => undefined))?.dispose();
      dir = wanted;
      model = load(wanted);
    }
    return model!.catch((err: unknown) => {
      dir = undefined;
      model = undefined;
      throw err;
    });
  };
}

const classifier = cached((dir) => BaseModel.load(dir));
const languageModel = cached((dir) => CausalLm.load(dir));

export default async function run(task: FineTuneTask): Promise<FineTuneResult> {
  await initBackend();
  try {
    if (task.model === 'causal-lm') {
      const lm = await languageModel(task.lmDir);
      const { adapter } = fineTuneLm(lm, task.spec, (p) => task.port.postMessage(p));
      return { adapter: encodeLmAdapter(adapter), checkpoints: [] };
    }
    const model = await classifier(task.baseDir);
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
