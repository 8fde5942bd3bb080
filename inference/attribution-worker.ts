import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { ZkpoaError } from '../attribution/errors.js';
import { initBackend } from './backend.js';
import { hashFeatures } from './features.js';
import { GradientFeaturizer, type ProjectionSpec } from './gradients.js';
import { InfluenceSpan } from './influence.js';
import { decodeAdapter } from './lora.js';
import { BaseModel } from './model.js';

/**
 * An attribution pool worker: builds the adapter's featurizer once (base model, kept
 * checkpoints, and the projection or, for an influence index, its saved span), then
 * computes gradient features of records or queries.
 */
export interface AttributionWorkerData {
  baseDir: string;
  checkpoints: { path: string; learningRate: number }[];
  projection: ProjectionSpec;
  basis?: { path: string; sha256: string };
}

export type AttributionTask =
  | { kind: 'records'; records: { text: string; label: number }[] }
  | { kind: 'query'; text: string };

const data = (workerData as { data: AttributionWorkerData }).data;
const featurizer = (async () => {
  await initBackend();
  const base = await BaseModel.load(data.baseDir);
  const checkpoints = data.checkpoints.map((c) => ({ learningRate: c.learningRate, adapter: decodeAdapter(readFileSync(c.path), base) }));
  if (!data.basis) return { base, f: new GradientFeaturizer(base, checkpoints, data.projection) };
  const bytes = readFileSync(data.basis.path);
  if (createHash('sha256').update(bytes).digest('hex') !== data.basis.sha256) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `${data.basis.path} is not the influence span the index committed to`);
  // the span was built at the optimum: the last (for L-BFGS, the only) kept checkpoint
  return { base, f: InfluenceSpan.load(base, checkpoints.at(-1)!.adapter, bytes), span: true };
})();

export default async function run(task: AttributionTask): Promise<Float64Array[] | { features: Float64Array; predicted: number }> {
  const { base, f, span } = await featurizer;
  if (task.kind === 'query') return f.features(hashFeatures(task.text, base.spec.inputDim));
  if (span) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'an influence index takes no per-record features');
  return task.records.map((r) => f.features(hashFeatures(r.text, base.spec.inputDim), r.label).features);
}
