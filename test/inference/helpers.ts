import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../inference/backend.js';
import { ensureBaseModel } from '../../inference/datasets.js';
import { initAdapterLayers, type Adapter } from '../../inference/lora.js';
import { LAYERS, layerShape, type BaseModel } from '../../inference/model.js';
import { gaussian, mulberry32 } from '../../lib/random.js';

export async function base(): Promise<BaseModel> {
  await initBackend();
  return ensureBaseModel();
}

export const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

/** An adapter with random A and B (so it changes outputs), for serving tests and benchmarks. */
export function randomAdapter(model: BaseModel, id: string, seed: number, rank = 8): Adapter {
  const randn = gaussian(mulberry32(seed));
  const layers = initAdapterLayers(model, rank, randn);
  for (const l of LAYERS) for (let i = 0; i < layers[l].b.length; i++) layers[l].b[i] = randn() * 0.5;
  return {
    meta: {
      format: 'zkpoa-lora/1',
      id,
      baseModel: model.hash,
      rank,
      alpha: rank * 2,
      datanet: { id: 'synthetic', versionRoot: '0x00' },
      training: { synthetic: true, seed },
      layers: LAYERS.map((name) => ({ name, ...layerShape(model.spec, name) })),
    },
    layers,
  };
}
