import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../inference/backend.js';
import { ensureBaseModel } from '../../inference/datasets.js';
import type { Adapter } from '../../inference/lora.js';
import type { BaseModel } from '../../inference/model.js';
import { randomAdapter as synthetic } from '../../inference/synthetic.js';

export async function base(): Promise<BaseModel> {
  await initBackend();
  return ensureBaseModel();
}

export const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

/** An adapter with random A and B (so it changes outputs), for serving tests. */
export const randomAdapter = (model: BaseModel, id: string, seed: number, rank = 8): Adapter => synthetic(model, id, seed, { rank, bScale: 0.5 });
