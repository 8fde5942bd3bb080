import { join } from 'node:path';
import type { CircuitVariant } from '../circuits/variants.js';
import { AttributionPool } from '../inference/attribution-pool.js';
import { buildIndex, deserializeIndex, serializeIndex, type AttributionIndex } from '../inference/attribution-index.js';
import type { ProjectionSpec } from '../inference/gradients.js';
import type { IndexRecord } from '../inference/attribution-index.js';
import type { Db } from './store/db.js';

/**
 * The attribution side of an adapter in the service: after fine-tuning, the index is
 * built from the datanet version's records with the kept checkpoints (in a worker
 * pool) and stored beside the adapter.
 */
export const DEFAULT_PROJECTION: ProjectionSpec = { k1: 4, k2: 8, seed: 20261124 }; // K = 32, the default circuit's width

export interface StoredIndex {
  variant: string;
  checkpoints: { path: string; learningRate: number }[];
  index: AttributionIndex;
}

export async function buildAdapterIndex(
  db: Db,
  opts: { adapterId: string; datanet: { id: string; versionRoot: string }; records: IndexRecord[]; checkpoints: { path: string; learningRate: number }[]; variant: CircuitVariant; buildDir: string; projection?: ProjectionSpec },
): Promise<StoredIndex> {
  // K = k1·k2 must be the circuit's feature width
  const projection = opts.projection ?? { ...DEFAULT_PROJECTION, k2: opts.variant.params.features / DEFAULT_PROJECTION.k1 };
  const pool = AttributionPool.create({ baseDir: join(opts.buildDir, 'models', 'base'), checkpoints: opts.checkpoints, projection });
  try {
    const features = await pool.recordFeatures(opts.records);
    const index = await buildIndex(opts.records, features, projection, { adapterId: opts.adapterId, datanet: opts.datanet, capacity: opts.variant.params.contributors });
    db.prepare('INSERT OR REPLACE INTO attribution_indexes (adapter_id, variant, checkpoints, index_json, created_at) VALUES (?, ?, ?, ?, ?)').run(
      opts.adapterId,
      opts.variant.name,
      JSON.stringify(opts.checkpoints),
      serializeIndex(index),
      new Date().toISOString(),
    );
    return { variant: opts.variant.name, checkpoints: opts.checkpoints, index };
  } finally {
    await pool.close();
  }
}

export function loadAdapterIndex(db: Db, adapterId: string): StoredIndex | undefined {
  const r = db.prepare('SELECT * FROM attribution_indexes WHERE adapter_id = ?').get(adapterId) as { variant: string; checkpoints: string; index_json: string } | undefined;
  return r ? { variant: r.variant, checkpoints: JSON.parse(r.checkpoints), index: deserializeIndex(r.index_json) } : undefined;
}
