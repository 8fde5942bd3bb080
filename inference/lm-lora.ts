import { ZkpoaError } from '../attribution/errors.js';
import { mulberry32 } from '../lib/random.js';
import { tf } from './backend.js';
import { CausalLm, type LmConfig, type LmLoraTensors } from './lm.js';
import { LmVocabulary } from './lm-vocabulary.js';
import { assertAdapterId, encodeLoraFile, readAdapterLayers, type AdapterMeta, type LoraWeights } from './lora.js';

/**
 * LoRA adapters on a causal LM's attention (q, k, v, o) and MLP (up, down) projections,
 * W' = W + (α/r)·Aᵀ·Bᵀ, in the same .lora file as the classifier's adapters (header
 * `model: "causal-lm"`), and their fine-tuning on a datanet's texts with the causal LM
 * loss, the base frozen.
 */
export const LM_LORA_PROJECTIONS = ['q', 'k', 'v', 'o', 'up', 'down'] as const;

/** baseModel: CausalLm.hash() of the model it was trained on */
export type LmAdapterMeta = AdapterMeta<string> & { model: 'causal-lm' };

export interface LmAdapter {
  meta: LmAdapterMeta;
  layers: Map<string, LoraWeights>;
}

/** The projections an adapter of this architecture adapts, with their shapes, in file order. */
export function lmLoraLayers(c: LmConfig): { name: string; inDim: number; outDim: number }[] {
  return Array.from({ length: c.layers }, (_, l) =>
    LM_LORA_PROJECTIONS.map((p) => ({ name: `${l}.${p}`, inDim: p === 'down' ? c.mlp : c.dim, outDim: p === 'up' ? c.mlp : c.dim })),
  ).flat();
}

export function encodeLmAdapter(adapter: LmAdapter): Buffer {
  return encodeLoraFile(adapter.meta, adapter.meta.layers.flatMap((l) => [adapter.layers.get(l.name)!.a, adapter.layers.get(l.name)!.b]));
}

/** Decodes an LM adapter file; with `base`, also checks it was trained on that model. */
export function decodeLmAdapter(bytes: Uint8Array, base?: CausalLm): LmAdapter {
  const { meta, layers } = readAdapterLayers(bytes, 'causal-lm', (name): name is string => typeof name === 'string');
  if (base) {
    if (meta.baseModel !== base.hash()) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${meta.id} was trained on language model ${meta.baseModel.slice(0, 12)}…, not ${base.hash().slice(0, 12)}…`);
    const want = new Map(lmLoraLayers(base.config).map((l) => [l.name, l]));
    for (const l of meta.layers) {
      const w = want.get(l.name);
      if (!w || w.inDim !== l.inDim || w.outDim !== l.outDim) throw new ZkpoaError('ZKPOA_ERR_ADAPTER_MISMATCH', `adapter ${meta.id} adapts ${l.name} as ${l.inDim}×${l.outDim}, which the model does not have`);
    }
  }
  return { meta: meta as LmAdapterMeta, layers };
}

/** An adapter as the tensors CausalLm.logits takes (dispose them with disposeLmLora). */
export function lmLoraTensors(adapter: LmAdapter): LmLoraTensors {
  const { rank, alpha } = adapter.meta;
  return {
    scale: alpha / rank,
    layers: new Map(adapter.meta.layers.map((l) => [l.name, { a: tf.tensor2d(adapter.layers.get(l.name)!.a, [rank, l.inDim]), b: tf.tensor2d(adapter.layers.get(l.name)!.b, [l.outDim, rank]) }])),
  };
}

export function disposeLmLora(t: LmLoraTensors): void {
  for (const { a, b } of t.layers.values()) {
    a.dispose();
    b.dispose();
  }
}

export interface LmFineTuneSpec {
  adapterId: string;
  datanet: { id: string; versionRoot: string; texts: readonly string[] };
  hyper?: { rank?: number; alpha?: number; learningRate?: number; steps?: number; batchSize?: number };
  seed?: number;
}

const LM_FINE_TUNE_DEFAULTS = { rank: 4, alpha: 8, learningRate: 0.01, steps: 100, batchSize: 8 };

/**
 * Fine-tunes a LoRA adapter on a datanet's texts with the causal LM loss (Adam on random
 * windows, seeded; B starts at zero, so the untrained adapter changes nothing). The base's
 * weights are not trained.
 */
export function fineTuneLm(base: CausalLm, spec: LmFineTuneSpec, onProgress?: (p: { step: number; steps: number; loss: number }) => void): { adapter: LmAdapter; losses: number[] } {
  assertAdapterId(spec.adapterId);
  const h = { ...LM_FINE_TUNE_DEFAULTS, ...(spec.hyper ?? {}) };
  if (!Number.isInteger(h.rank) || h.rank < 1 || h.rank > 64) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.rank must be an integer in [1, 64]');
  if (!(h.alpha > 0) || !(h.alpha <= 65536) || !(h.learningRate > 0) || h.learningRate > 1) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.alpha must be in (0, 65536] and hyper.learningRate in (0, 1]');
  if (!Number.isInteger(h.steps) || h.steps < 1 || h.steps > 100_000) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.steps must be an integer in [1, 100000]');
  if (!Number.isInteger(h.batchSize) || h.batchSize < 1 || h.batchSize > 1024) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.batchSize must be an integer in [1, 1024]');
  const seed = spec.seed ?? 1;
  const width = base.config.context + 1;
  const stream = spec.datanet.texts.flatMap((t) => [...base.vocabulary.encode(t), LmVocabulary.END]);
  if (stream.length <= width) throw new ZkpoaError('ZKPOA_ERR_TRAINING', `the datanet's texts hold ${stream.length} tokens: fewer than one window of ${width}`);
  const shapes = lmLoraLayers(base.config);
  // a variable holds a reference to its initial tensor's data: the initial tensor is let go at once
  const variable = (init: tf.Tensor2D) => {
    const v = tf.variable(init) as tf.Variable<tf.Rank.R2>;
    init.dispose();
    return v;
  };
  const variables = new Map(
    shapes.map((l, i) => [l.name, { a: variable(tf.randomNormal([h.rank, l.inDim], 0, 1 / Math.sqrt(l.inDim), 'float32', seed * 1000 + i)), b: variable(tf.zeros([l.outDim, h.rank])) }]),
  );
  const lora: LmLoraTensors = { scale: h.alpha / h.rank, layers: variables };
  const trained = [...variables.values()].flatMap((v) => [v.a, v.b]);
  const rand = mulberry32(seed);
  const optimizer = tf.train.adam(h.learningRate);
  const losses: number[] = [];
  try {
    for (let step = 0; step < h.steps; step++) {
      const batch = Array.from({ length: h.batchSize }, () => {
        const from = Math.floor(rand() * (stream.length - width));
        return stream.slice(from, from + width);
      });
      const windows = tf.tensor2d(batch, undefined, 'int32');
      const loss = optimizer.minimize(() => base.loss(windows, lora), true, trained) as tf.Scalar;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
      windows.dispose();
      if (!Number.isFinite(losses.at(-1))) throw new ZkpoaError('ZKPOA_ERR_TRAINING', `the loss diverged at step ${step + 1}: lower hyper.learningRate or hyper.alpha`);
      onProgress?.({ step: step + 1, steps: h.steps, loss: losses.at(-1)! });
    }
    const layers = new Map(shapes.map((l) => [l.name, { a: Float32Array.from(variables.get(l.name)!.a.dataSync()), b: Float32Array.from(variables.get(l.name)!.b.dataSync()) }]));
    const meta: LmAdapterMeta = {
      format: 'zkpoa-lora/1',
      model: 'causal-lm',
      id: spec.adapterId,
      baseModel: base.hash(),
      rank: h.rank,
      alpha: h.alpha,
      datanet: { id: spec.datanet.id, versionRoot: spec.datanet.versionRoot },
      training: { hyper: h, seed, objective: 'causal-lm' },
      layers: shapes,
    };
    return { adapter: { meta, layers }, losses };
  } finally {
    optimizer.dispose();
    for (const v of trained) v.dispose();
  }
}
