import { workerData } from 'node:worker_threads';
import { initBackend } from './backend.js';
import { GradientFeaturizer, type ProjectionSpec } from './gradients.js';
import { decodeAdapter } from './lora.js';
import { BaseModel } from './model.js';
import { readFileSync } from 'node:fs';
import { hashFeatures } from './features.js';

/**
 * An attribution pool worker: builds the adapter's featurizer once (base model, kept
 * checkpoints, projection), then computes gradient features of records or queries.
 */
export interface AttributionWorkerData {
  baseDir: string;
  checkpoints: { path: string; learningRate: number }[];
  projection: ProjectionSpec;
}

export type AttributionTask =
  | { kind: 'records'; records: { text: string; label: number }[] }
  | { kind: 'query'; text: string };

const data = (workerData as { data: AttributionWorkerData }).data;
const featurizer = (async () => {
  await initBackend();
  const base = await BaseModel.load(data.baseDir);
  const checkpoints = data.checkpoints.map((c) => ({ learningRate: c.learningRate, adapter: decodeAdapter(readFileSync(c.path), base) }));
  return new GradientFeaturizer(base, checkpoints, data.projection);
})();

export default async function run(task: AttributionTask): Promise<Float64Array[] | { features: Float64Array; predicted: number }> {
  const f = await featurizer;
  if (task.kind === 'query') return f.features(hashFeatures(task.text, f.base.spec.inputDim));
  return task.records.map((r) => f.features(hashFeatures(r.text, f.base.spec.inputDim), r.label).features);
}
