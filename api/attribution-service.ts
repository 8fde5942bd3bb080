import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createTsPool } from '../lib/pool.js';
import type { InfluenceIndexTask } from '../inference/influence-worker.js';
import { decodeAdapter } from '../inference/lora.js';
import type { CircuitVariant } from '../circuits/variants.js';
import { AttributionPool } from '../inference/attribution-pool.js';
import { buildIndex, deserializeIndex, serializeIndex, type AttributionIndex } from '../inference/attribution-index.js';
import type { ProjectionSpec } from '../inference/gradients.js';
import type { IndexRecord } from '../inference/attribution-index.js';
import type { Db } from './store/db.js';

/**
 * The attribution side of an adapter in the service: after fine-tuning, the index is
 * built from the datanet version's records (in worker threads) and stored beside the
 * adapter. Its estimator follows how the adapter was trained:
 * - L-BFGS to the regularized optimum: influence, exact in the contributors' span
 *   (inference/influence.ts);
 * - minibatch Adam: TracIn-CP over the kept checkpoints, K-dimensional random
 *   projection, preconditioned on the query side.
 */
export const DEFAULT_PROJECTION: ProjectionSpec = { k1: 4, k2: 8, seed: 20261124 }; // K = 32, the default circuit's width

export interface StoredIndex {
  variant: string;
  checkpoints: { path: string; learningRate: number }[];
  index: AttributionIndex;
}

export async function buildAdapterIndex(
  db: Db,
  opts: { adapterId: string; datanet: { id: string; versionRoot: string }; records: IndexRecord[]; checkpoints: { path: string; learningRate: number }[]; variant: CircuitVariant; buildDir: string; projection?: ProjectionSpec; signal?: AbortSignal },
): Promise<StoredIndex> {
  const baseDir = join(opts.buildDir, 'models', 'base');
  const weightDecay = await trainedToOptimum(opts.checkpoints);
  const index = weightDecay !== undefined ? await buildInfluenceIndex(baseDir, opts, weightDecay) : await buildTracInIndex(baseDir, opts);
  db.prepare('INSERT OR REPLACE INTO attribution_indexes (adapter_id, variant, checkpoints, index_json, created_at) VALUES (?, ?, ?, ?, ?)').run(
    opts.adapterId,
    opts.variant.name,
    JSON.stringify(opts.checkpoints),
    serializeIndex(index),
    new Date().toISOString(),
  );
  return { variant: opts.variant.name, checkpoints: opts.checkpoints, index };
}

type IndexOptions = Parameters<typeof buildAdapterIndex>[1];

/** The weight decay of an adapter trained with L-BFGS to its optimum (one kept checkpoint), or undefined. */
async function trainedToOptimum(checkpoints: { path: string }[]): Promise<number | undefined> {
  if (checkpoints.length !== 1) return undefined;
  const hyper = (decodeAdapter(await readFile(checkpoints[0]!.path)).meta.training as { hyper?: { optimizer?: string; weightDecay?: number } }).hyper;
  return hyper?.optimizer === 'lbfgs' && hyper.weightDecay ? hyper.weightDecay : undefined;
}

/** TracIn-CP over the kept checkpoints, record features in a worker pool. */
async function buildTracInIndex(baseDir: string, opts: IndexOptions): Promise<AttributionIndex> {
  // K = k1·k2 must be the circuit's feature width
  const projection = opts.projection ?? { ...DEFAULT_PROJECTION, k2: opts.variant.params.features / DEFAULT_PROJECTION.k1 };
  const pool = AttributionPool.create({ baseDir, checkpoints: opts.checkpoints, projection });
  try {
    const features = await pool.recordFeatures(opts.records, undefined, 64, opts.signal);
    return await buildIndex(opts.records, features, projection, { adapterId: opts.adapterId, datanet: opts.datanet, capacity: opts.variant.params.contributors });
  } finally {
    await pool.close();
  }
}

/** Influence at the optimum, exact in the contributors' span, built in a worker; the span is saved beside the checkpoint. */
async function buildInfluenceIndex(baseDir: string, opts: IndexOptions, weightDecay: number): Promise<AttributionIndex> {
  const adapterPath = opts.checkpoints[0]!.path;
  const pool = createTsPool(new URL('../inference/influence-worker.ts', import.meta.url), null, 1);
  try {
    const task: InfluenceIndexTask = {
      baseDir,
      adapterPath,
      records: opts.records,
      weightDecay,
      dim: opts.variant.params.features,
      capacity: opts.variant.params.contributors,
      adapterId: opts.adapterId,
      datanet: opts.datanet,
      basisPath: join(dirname(adapterPath), 'influence-span.bin'),
    };
    return deserializeIndex((await pool.run(task, opts.signal ? { signal: opts.signal } : {})) as string);
  } finally {
    await pool.close();
  }
}

export function loadAdapterIndex(db: Db, adapterId: string): StoredIndex | undefined {
  const r = db.prepare('SELECT * FROM attribution_indexes WHERE adapter_id = ?').get(adapterId) as { variant: string; checkpoints: string; index_json: string } | undefined;
  return r ? { variant: r.variant, checkpoints: JSON.parse(r.checkpoints), index: deserializeIndex(r.index_json) } : undefined;
}
