import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUILD_DIR } from '../lib/config.js';
import { initBackend } from './backend.js';
import { LABELS, loadSpamAssassin, type LabeledText } from './corpus.js';
import { CausalLm, trainCausalLm } from './lm.js';
import { BaseModel } from './model.js';
import { trainBaseModel, type Progress } from './train.js';

/**
 * How the corpus is used, in one place:
 * - the base model learns from easy-ham-1 + spam-1 (the 2002 collections);
 * - datanets come from easy-ham-2 + spam-2 + hard-ham-1 (later mail and the hard
 *   sub-population), where the base is weaker and fine-tuning has something to learn.
 * Train/held-out membership is a hash of the message id, so it never changes.
 */
const BASE_GROUPS = new Set(['easy-ham-1', 'spam-1']);

export function isHeldOut(id: string, percent = 20): boolean {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % 100 < percent;
}

export async function baseCorpus(): Promise<LabeledText[]> {
  return (await loadSpamAssassin()).filter((r) => BASE_GROUPS.has(r.group));
}

export async function datanetCorpus(): Promise<LabeledText[]> {
  return (await loadSpamAssassin()).filter((r) => !BASE_GROUPS.has(r.group));
}

const BASE_TRAINING = { hidden: 64, epochs: 4, batchSize: 32, learningRate: 0.003, seed: 7 } as const;

/**
 * The embedded default base model, trained once into build/models/base and reused.
 * Retrained when the training recipe or the tensor backend changes.
 */
export async function ensureBaseModel(opts: { buildDir?: string; onProgress?: (p: Progress) => void } = {}): Promise<BaseModel> {
  const backend = await initBackend();
  const dir = join(opts.buildDir ?? BUILD_DIR, 'models', 'base');
  const recipe = JSON.stringify({ ...BASE_TRAINING, corpus: 'spam-assassin', groups: [...BASE_GROUPS], backend: backend.name });
  const recipeFile = join(dir, 'recipe.json');
  if (existsSync(join(dir, 'model.json')) && existsSync(recipeFile) && (await readFile(recipeFile, 'utf8')) === recipe) {
    return BaseModel.load(dir);
  }
  const train = (await baseCorpus()).filter((r) => !isHeldOut(r.id));
  const model = trainBaseModel(train, { ...BASE_TRAINING, labels: [...LABELS], ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  await model.save(dir);
  await writeFile(recipeFile, recipe);
  return model;
}

/** The embedded language model's recipe: trained on the SpamAssassin bodies of the base model's collections. */
export const BASE_LM_TRAINING = {
  config: { context: 64, dim: 64, heads: 4, layers: 2, mlp: 256 },
  vocabularySize: 1024,
  steps: 200,
  batchSize: 8,
  learningRate: 0.003,
  seed: 11,
} as const;

/**
 * The embedded default language model, trained once into build/models/lm and reused;
 * retrained when its recipe or the tensor backend changes. Its text is not the point:
 * the generation, adapter and attribution machinery is.
 */
export async function ensureBaseLm(opts: { buildDir?: string; onProgress?: (p: { step: number; steps: number; loss: number }) => void } = {}): Promise<CausalLm> {
  const backend = await initBackend();
  const dir = join(opts.buildDir ?? BUILD_DIR, 'models', 'lm');
  const recipe = JSON.stringify({ ...BASE_LM_TRAINING, corpus: 'spam-assassin', groups: [...BASE_GROUPS], backend: backend.name });
  const recipeFile = join(dir, 'recipe.json');
  if (existsSync(join(dir, 'weights.bin')) && existsSync(recipeFile) && (await readFile(recipeFile, 'utf8')) === recipe) return CausalLm.load(dir);
  const texts = (await baseCorpus()).filter((r) => !isHeldOut(r.id)).map((r) => r.text);
  const { model } = trainCausalLm(texts, { ...BASE_LM_TRAINING, ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
  await model.save(dir);
  await writeFile(recipeFile, recipe);
  return model;
}
