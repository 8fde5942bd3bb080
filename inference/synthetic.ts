import { gaussian, mulberry32 } from '../lib/random.js';
import { initAdapterLayers, type Adapter } from './lora.js';
import { LAYERS, layerShape, type BaseModel } from './model.js';

/**
 * An adapter with seeded random A and B, for serving tests and benchmarks (the cost of
 * serving does not depend on what an adapter learned). Not for attribution.
 */
export function randomAdapter(base: BaseModel, id: string, seed: number, opts: { rank?: number; bScale?: number } = {}): Adapter {
  const rank = opts.rank ?? 8;
  const randn = gaussian(mulberry32(seed));
  const layers = initAdapterLayers(base, rank, randn);
  for (const l of LAYERS) for (let i = 0; i < layers[l].b.length; i++) layers[l].b[i] = randn() * (opts.bScale ?? 0.1);
  return {
    meta: {
      format: 'zkpoa-lora/1',
      id,
      baseModel: base.hash,
      rank,
      alpha: 2 * rank,
      datanet: { id: 'synthetic', versionRoot: '0x00' },
      training: { synthetic: true, seed },
      layers: LAYERS.map((name) => ({ name, ...layerShape(base.spec, name) })),
    },
    layers,
  };
}
