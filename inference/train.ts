import { ZkpoaError } from '../attribution/errors.js';
import { tf } from './backend.js';
import { FEATURE_DIM, hashFeatures } from './features.js';
import { forward, type AdapterTensors } from './forward.js';
import { assertAdapterId, initAdapterLayers, type Adapter, type LoraWeights } from './lora.js';
import { BaseModel, LAYERS, layerShape, type BaseModelSpec, type DenseWeights, type LayerName } from './model.js';
import { minimizeLbfgs } from '../lib/lbfgs.js';
import { gaussian, mulberry32, shuffled } from '../lib/random.js';
import { LoraObjective } from './lora-objective.js';
import { servingWeights, transpose, type ServingWeights } from './sgmv.js';

/** A labelled example of a datanet; `contributor` says whose record it is. */
export interface TrainingRecord {
  text: string;
  label: number;
  contributor?: string;
}

export interface Progress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
}

interface LoopOptions {
  xs: Float32Array[];
  labels: number[];
  classes: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  onProgress?: (p: Progress) => void;
  /** L2 penalty on the trained variables (keeps the optimum unique, so retraining is stable) */
  weightDecay?: number;
  /** called after each epoch with that epoch's learning rate */
  onEpoch?: (epoch: number, learningRate: number, meanLoss: number) => void;
}

/** Minibatch Adam on softmax cross-entropy, in a seeded, backend-independent order. */
function trainLoop(vars: tf.Variable[], logitsOf: (x: tf.Tensor2D) => tf.Tensor2D, o: LoopOptions): void {
  const optimizer = tf.train.adam(o.learningRate);
  const order = mulberry32(o.seed ^ 0x5eed);
  const steps = Math.ceil(o.xs.length / o.batchSize);
  const dim = o.xs[0]!.length;
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const idx = shuffled([...o.xs.keys()], order);
    let lossSum = 0;
    for (let s = 0; s < steps; s++) {
      const batch = idx.slice(s * o.batchSize, (s + 1) * o.batchSize);
      const flat = new Float32Array(batch.length * dim);
      batch.forEach((i, j) => flat.set(o.xs[i]!, j * dim));
      const loss = tf.tidy(() => {
        const x = tf.tensor2d(flat, [batch.length, dim]);
        const y = tf.oneHot(tf.tensor1d(batch.map((i) => o.labels[i]!), 'int32'), o.classes);
        const objective = () => {
          const ce = tf.losses.softmaxCrossEntropy(y, logitsOf(x)) as tf.Scalar;
          if (!o.weightDecay) return ce;
          return tf.add(ce, tf.mul(o.weightDecay, tf.addN(vars.map((v) => tf.sum(tf.square(v)))))) as tf.Scalar;
        };
        const l = optimizer.minimize(objective, true, vars)!;
        return l.dataSync()[0]!;
      });
      lossSum += loss;
      step++;
      o.onProgress?.({ epoch, epochs: o.epochs, step, steps: steps * o.epochs, loss });
    }
    o.onEpoch?.(epoch, o.learningRate, lossSum / steps);
  }
  optimizer.dispose();
}

function checkRecords(records: readonly TrainingRecord[], classes: number): void {
  if (!Array.isArray(records) || records.length === 0) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'the datanet has no records');
  records.forEach((r, i) => {
    if (typeof r?.text !== 'string' || r.text.length === 0) throw new ZkpoaError('ZKPOA_ERR_TRAINING', `record ${i}: text must be a non-empty string`);
    if (!Number.isInteger(r.label) || r.label < 0 || r.label >= classes) throw new ZkpoaError('ZKPOA_ERR_TRAINING', `record ${i}: label must be an integer in [0, ${classes})`);
  });
}

export interface BaseTrainingOptions {
  hidden?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  labels: string[];
  onProgress?: (p: Progress) => void;
}

/** Trains the base model from scratch on labelled texts (deterministic for a seed and backend). */
export function trainBaseModel(records: readonly TrainingRecord[], opts: BaseTrainingOptions): BaseModel {
  const hidden = opts.hidden ?? 64;
  const epochs = opts.epochs ?? 4;
  const seed = opts.seed ?? 1;
  checkRecords(records, opts.labels.length);
  const spec: BaseModelSpec = {
    format: 'zkpoa-base/1',
    inputDim: FEATURE_DIM,
    hidden,
    labels: opts.labels,
    features: { kind: 'hashed-ngrams', dim: FEATURE_DIM },
    training: { records: records.length, epochs, batchSize: opts.batchSize ?? 32, learningRate: opts.learningRate ?? 0.003, seed, backend: tf.getBackend() },
  };
  const randn = gaussian(mulberry32(seed));
  const init = (inDim: number, outDim: number) => {
    const k = new Float32Array(inDim * outDim);
    const std = Math.sqrt(2 / inDim);
    for (let i = 0; i < k.length; i++) k[i] = randn() * std;
    return k;
  };
  const vars = Object.fromEntries(
    LAYERS.map((l) => {
      const { inDim, outDim } = layerShape(spec, l);
      return [l, { kernel: tf.variable(tf.tensor2d(init(inDim, outDim), [inDim, outDim])), bias: tf.variable(tf.zeros([outDim])) }];
    }),
  ) as Record<LayerName, { kernel: tf.Variable; bias: tf.Variable }>;
  const logitsOf = (x: tf.Tensor2D) => {
    const h = tf.relu(tf.add(tf.matMul(x, vars.dense1.kernel as tf.Tensor2D), vars.dense1.bias));
    return tf.add(tf.matMul(h as tf.Tensor2D, vars.dense2.kernel as tf.Tensor2D), vars.dense2.bias) as tf.Tensor2D;
  };
  trainLoop(LAYERS.flatMap((l) => [vars[l].kernel, vars[l].bias]), logitsOf, {
    xs: records.map((r) => hashFeatures(r.text)),
    labels: records.map((r) => r.label),
    classes: opts.labels.length,
    epochs,
    batchSize: opts.batchSize ?? 32,
    learningRate: opts.learningRate ?? 0.003,
    seed,
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const weights = Object.fromEntries(
    LAYERS.map((l) => [l, { kernel: vars[l].kernel.dataSync() as Float32Array, bias: vars[l].bias.dataSync() as Float32Array }]),
  ) as Record<LayerName, DenseWeights>;
  LAYERS.forEach((l) => {
    vars[l].kernel.dispose();
    vars[l].bias.dispose();
  });
  return BaseModel.fromWeights(spec, weights);
}

/** A no-code fine-tuning job: which data, which hyper-parameters, which seed. */
export interface FineTuneSpec {
  adapterId: string;
  datanet: { id: string; versionRoot: string; records: TrainingRecord[] };
  hyper?: { optimizer?: Optimizer; rank?: number; alpha?: number; learningRate?: number; epochs?: number; batchSize?: number; weightDecay?: number; checkpoints?: number; iterations?: number };
  seed?: number;
}

/**
 * A kept checkpoint: the adapter's weights at the end of an epoch and the learning rate
 * used during it. TracIn-CP sums per-checkpoint gradient inner products weighted by
 * these learning rates, so every epoch's end is kept.
 */
export interface Checkpoint {
  epoch: number;
  learningRate: number;
  loss: number;
  layers: Record<LayerName, LoraWeights>;
}

export interface FineTuneResult {
  adapter: Adapter;
  checkpoints: Checkpoint[];
}

/**
 * - `adam`: minibatch Adam for `epochs`; `checkpoints` of them are kept (evenly spaced,
 *   always including the last) with their learning rates, for TracIn-CP.
 * - `lbfgs`: full-batch L-BFGS in float64 to the regularized optimum (at most
 *   `iterations`; `weightDecay` > 0 makes the optimum well defined), one checkpoint:
 *   the optimum. Leave-one-out retraining then agrees with itself across seeds, which
 *   is what makes influence at the optimum a meaningful attribution.
 */
export type Optimizer = 'adam' | 'lbfgs';
export const FINE_TUNE_DEFAULTS = { optimizer: 'lbfgs' as Optimizer, rank: 8, alpha: 16, learningRate: 0.01, epochs: 3, batchSize: 32, weightDecay: 0, checkpoints: 3, iterations: 600 };
/** What `lbfgs` uses where the spec is silent (a weight decay of 0 has no unique optimum). */
export const LBFGS_DEFAULTS = { weightDecay: 0.05 } as const;

/** Fine-tunes a LoRA adapter on the base (frozen) from a spec. Deterministic for a seed and backend. */
export function fineTune(base: BaseModel, spec: FineTuneSpec, onProgress?: (p: Progress) => void): FineTuneResult {
  assertAdapterId(spec.adapterId);
  const h = { ...FINE_TUNE_DEFAULTS, ...((spec.hyper?.optimizer ?? FINE_TUNE_DEFAULTS.optimizer) === 'lbfgs' ? LBFGS_DEFAULTS : {}), ...(spec.hyper ?? {}) };
  const seed = spec.seed ?? 1;
  if (!Number.isInteger(h.rank) || h.rank < 1 || h.rank > 64) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.rank must be an integer in [1, 64]');
  if (!(h.alpha > 0) || !(h.learningRate > 0) || h.learningRate > 1) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.alpha must be > 0 and hyper.learningRate in (0, 1]');
  if (!Number.isInteger(h.epochs) || h.epochs < 1 || h.epochs > 100) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.epochs must be an integer in [1, 100]');
  if (!Number.isInteger(h.batchSize) || h.batchSize < 1 || h.batchSize > 65536) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.batchSize must be an integer in [1, 65536]');
  if (!(h.weightDecay >= 0) || h.weightDecay > 1) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.weightDecay must be in [0, 1]');
  if (!Number.isInteger(h.checkpoints) || h.checkpoints < 1 || h.checkpoints > 20) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.checkpoints must be an integer in [1, 20]');
  if (h.optimizer !== 'adam' && h.optimizer !== 'lbfgs') throw new ZkpoaError('ZKPOA_ERR_TRAINING', "hyper.optimizer must be 'adam' or 'lbfgs'");
  if (!Number.isInteger(h.iterations) || h.iterations < 1 || h.iterations > 10_000) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'hyper.iterations must be an integer in [1, 10000]');
  if (h.optimizer === 'lbfgs' && !(h.weightDecay > 0)) throw new ZkpoaError('ZKPOA_ERR_TRAINING', "hyper.weightDecay must be > 0 with the 'lbfgs' optimizer");
  checkRecords(spec.datanet.records, base.spec.labels.length);

  const init = initAdapterLayers(base, h.rank, gaussian(mulberry32(seed)));
  const adapter = (layers: Record<LayerName, LoraWeights>): Adapter => ({
    meta: {
      format: 'zkpoa-lora/1',
      id: spec.adapterId,
      baseModel: base.hash,
      rank: h.rank,
      alpha: h.alpha,
      datanet: { id: spec.datanet.id, versionRoot: spec.datanet.versionRoot },
      training: { hyper: h, seed, records: spec.datanet.records.length, backend: h.optimizer === 'lbfgs' ? 'float64' : tf.getBackend() },
      layers: LAYERS.map((name) => ({ name, ...layerShape(base.spec, name) })),
    },
    layers,
  });
  if (h.optimizer === 'lbfgs') {
    const objective = new LoraObjective(base, spec.datanet.records.map((r) => ({ x: hashFeatures(r.text, base.spec.inputDim), label: r.label })), h.rank, h.alpha, h.weightDecay);
    const out = minimizeLbfgs((theta, grad) => objective.value(theta, grad), objective.pack(init), {
      maxIterations: h.iterations,
      onIteration: (step, loss) => onProgress?.({ epoch: step, epochs: h.iterations, step, steps: h.iterations, loss }),
    });
    const layers = objective.unpack(out.x);
    return { adapter: adapter(layers), checkpoints: [{ epoch: out.iterations, learningRate: 1, loss: out.f, layers }] };
  }

  const scale = h.alpha / h.rank;
  // trained in the forward layout (Aᵀ: in×r, Bᵀ: r×out); files keep LoRA's A: r×in, B: out×r
  const vars = Object.fromEntries(
    LAYERS.map((l) => {
      const { inDim, outDim } = layerShape(base.spec, l);
      return [l, { a: tf.variable(tf.tensor2d(transpose(init[l].a, h.rank, inDim), [inDim, h.rank])), b: tf.variable(tf.tensor2d(transpose(init[l].b, outDim, h.rank), [h.rank, outDim])) }];
    }),
  ) as Record<LayerName, { a: tf.Variable; b: tf.Variable }>;
  const scaled = (): AdapterTensors =>
    Object.fromEntries(LAYERS.map((l) => [l, { a: vars[l].a as tf.Tensor2D, b: tf.mul(vars[l].b, scale) as tf.Tensor2D }])) as AdapterTensors;
  const snapshot = () =>
    Object.fromEntries(
      LAYERS.map((l) => {
        const { inDim, outDim } = layerShape(base.spec, l);
        return [l, { a: transpose(vars[l].a.dataSync() as Float32Array, inDim, h.rank), b: transpose(vars[l].b.dataSync() as Float32Array, h.rank, outDim) }];
      }),
    ) as Record<LayerName, LoraWeights>;

  const checkpoints: Checkpoint[] = [];
  trainLoop(LAYERS.flatMap((l) => [vars[l].a, vars[l].b]), (x) => forward(base, x, scaled()), {
    xs: spec.datanet.records.map((r) => hashFeatures(r.text)),
    labels: spec.datanet.records.map((r) => r.label),
    classes: base.spec.labels.length,
    epochs: h.epochs,
    batchSize: h.batchSize,
    learningRate: h.learningRate,
    seed,
    ...(onProgress ? { onProgress } : {}),
    weightDecay: h.weightDecay,
    onEpoch: (epoch, learningRate, loss) => {
      const every = Math.ceil(h.epochs / h.checkpoints);
      if (epoch % every === 0 || epoch === h.epochs) checkpoints.push({ epoch, learningRate, loss, layers: snapshot() });
    },
  });
  const layers = snapshot();
  LAYERS.forEach((l) => {
    vars[l].a.dispose();
    vars[l].b.dispose();
  });
  return { checkpoints, adapter: adapter(layers) };
}

/** Tensors of an adapter for the forward paths (Aᵀ, and Bᵀ scaled by α/r). Caller disposes. */
export function adapterTensors(adapter: Adapter): AdapterTensors {
  return servingTensors(servingWeights(adapter));
}

/** Tensors of an adapter already in serving layout. Caller disposes. */
export function servingTensors(w: ServingWeights): AdapterTensors {
  return Object.fromEntries(
    LAYERS.map((name) => {
      const l = w[name];
      return [name, { a: tf.tensor2d(l.a, [l.inDim, l.rank]), b: tf.tensor2d(l.b, [l.rank, l.outDim]) }];
    }),
  ) as AdapterTensors;
}

export function disposeAdapterTensors(t: AdapterTensors): void {
  for (const l of LAYERS) {
    t[l].a.dispose();
    t[l].b.dispose();
  }
}

/** Accuracy of (base + optional adapter) on labelled texts. */
export function accuracy(base: BaseModel, records: readonly TrainingRecord[], adapter?: Adapter): number {
  const t = adapter ? adapterTensors(adapter) : undefined;
  try {
    let correct = 0;
    for (let i = 0; i < records.length; i += 256) {
      const chunk = records.slice(i, i + 256);
      const flat = new Float32Array(chunk.length * FEATURE_DIM);
      chunk.forEach((r, j) => flat.set(hashFeatures(r.text), j * FEATURE_DIM));
      const pred = tf.tidy(() => tf.argMax(forward(base, tf.tensor2d(flat, [chunk.length, FEATURE_DIM]), t), 1).dataSync());
      chunk.forEach((r, j) => (correct += pred[j] === r.label ? 1 : 0));
    }
    return correct / records.length;
  } finally {
    if (t) disposeAdapterTensors(t);
  }
}
