import { describe, expect, it } from 'vitest';
import { initBackend, tf } from '../../inference/backend.js';
import { forward, type AdapterTensors } from '../../inference/forward.js';
import { GradientFeaturizer } from '../../inference/gradients.js';
import type { Adapter } from '../../inference/lora.js';
import { BaseModel, LAYERS, layerShape, type BaseModelSpec } from '../../inference/model.js';
import { gaussian, mulberry32 } from '../../lib/random.js';

/** A tiny model whose full gradients autodiff can give us. */
function tiny(seed: number) {
  const randn = gaussian(mulberry32(seed));
  const spec: BaseModelSpec = { format: 'zkpoa-base/1', inputDim: 7, hidden: 5, labels: ['a', 'b', 'c'], features: { kind: 'hashed-ngrams', dim: 7 } };
  const vec = (n: number) => Float32Array.from({ length: n }, () => randn() * 0.7);
  const base = BaseModel.fromWeights(spec, {
    dense1: { kernel: vec(7 * 5), bias: vec(5) },
    dense2: { kernel: vec(5 * 3), bias: vec(3) },
  });
  const rank = 2;
  const ckpt = (s: number): Adapter => {
    const r = gaussian(mulberry32(s));
    const layers = Object.fromEntries(
      LAYERS.map((l) => {
        const { inDim, outDim } = layerShape(spec, l);
        return [l, { a: Float32Array.from({ length: rank * inDim }, () => r() * 0.5), b: Float32Array.from({ length: outDim * rank }, () => r() * 0.5) }];
      }),
    ) as Adapter['layers'];
    return {
      meta: { format: 'zkpoa-lora/1', id: 't', baseModel: base.hash, rank, alpha: 3, datanet: { id: 'd', versionRoot: '0' }, training: {}, layers: LAYERS.map((name) => ({ name, ...layerShape(spec, name) })) },
      layers,
    };
  };
  return { base, checkpoints: [{ learningRate: 0.04, adapter: ckpt(seed + 1) }, { learningRate: 0.01, adapter: ckpt(seed + 2) }] };
}

/** Full per-block gradients (row-major, LoRA's A: r×in, B: out×r) by tfjs autodiff. */
function autodiffGradients(base: BaseModel, adapter: Adapter, x: number[], label: number): Float64Array[] {
  const { rank, alpha } = adapter.meta;
  const vars = LAYERS.flatMap((l) => {
    const { inDim, outDim } = layerShape(base.spec, l);
    return [tf.tensor2d(adapter.layers[l].a, [rank, inDim]), tf.tensor2d(adapter.layers[l].b, [outDim, rank])];
  });
  const lossOf = (...p: tf.Tensor[]) => {
    const t = Object.fromEntries(LAYERS.map((l, i) => [l, { a: tf.transpose(p[2 * i]!), b: tf.mul(tf.transpose(p[2 * i + 1]!), alpha / rank) }])) as AdapterTensors;
    const logits = forward(base, tf.tensor2d(x, [1, x.length]), t);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([label], 'int32'), base.spec.labels.length), logits) as tf.Scalar;
  };
  const grads = tf.grads(lossOf)(vars);
  return grads.map((g) => Float64Array.from(g.dataSync()));
}

describe('gradient features', () => {
  it('the factored Kronecker projection equals projecting explicit full gradients', async () => {
    await initBackend();
    const { base, checkpoints } = tiny(3);
    const f = new GradientFeaturizer(base, checkpoints, { k1: 3, k2: 4, seed: 9 });
    const x = [0.3, -1.2, 0.5, 0, 2.0, -0.4, 0.9];
    for (const label of [0, 2]) {
      const expected = new Float64Array(f.dim);
      checkpoints.forEach((c, ci) => {
        autodiffGradients(base, c.adapter, x, label).forEach((g, bi) => {
          f.projectBlock(ci, bi, g).forEach((v, k) => (expected[k]! += Math.sqrt(c.learningRate) * v));
        });
      });
      const got = f.features(x, label).features;
      got.forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 4));
      // the unprojected gradient blocks (u·vᵀ) are autodiff's gradients too
      checkpoints.forEach((c, ci) => {
        const auto = autodiffGradients(base, c.adapter, x, label);
        f.gradientBlocks(ci, x, label).forEach(({ u, v }, bi) => {
          const { m, n } = f.blockShapes[bi]!;
          for (let a = 0; a < m; a++) for (let b = 0; b < n; b++) expect(u[a]! * v[b]!).toBeCloseTo(auto[bi]![a * n + b]!, 5);
        });
      });
      expect(Math.max(...got.map(Math.abs))).toBeGreaterThan(1e-3);
    }
  });

  it('uses the model prediction as the label of a query, and is bit-for-bit reproducible', () => {
    const { base, checkpoints } = tiny(4);
    const f = new GradientFeaturizer(base, checkpoints, { k1: 2, k2: 4, seed: 1 });
    const x = [1, 0, -1, 0.5, 0.25, 0, 2];
    const q = f.features(x);
    expect(q.features).toEqual(f.features(x, q.predicted).features);
    expect(new GradientFeaturizer(base, checkpoints, { k1: 2, k2: 4, seed: 1 }).features(x).features).toEqual(q.features);
    expect(new GradientFeaturizer(base, checkpoints, { k1: 2, k2: 4, seed: 2 }).features(x).features).not.toEqual(q.features);
  });

  it('inner products of projected features estimate TracIn-CP (averaged over projections)', () => {
    const { base, checkpoints } = tiny(5);
    const x1 = [0.3, -1.2, 0.5, 0, 2.0, -0.4, 0.9];
    const x2 = [0.1, 1.0, -0.5, 0.3, 1.5, 0.2, -0.6];
    // exact TracIn-CP from explicit gradients
    let exact = 0;
    for (const c of checkpoints) {
      const g1 = autodiffGradients(base, c.adapter, x1, 0);
      const g2 = autodiffGradients(base, c.adapter, x2, 1);
      g1.forEach((g, b) => g.forEach((v, i) => (exact += c.learningRate * v * g2[b]![i]!)));
    }
    let mean = 0;
    const trials = 300;
    for (let s = 0; s < trials; s++) {
      const f = new GradientFeaturizer(base, checkpoints, { k1: 4, k2: 8, seed: 1000 + s });
      const a = f.features(x1, 0).features;
      const b = f.features(x2, 1).features;
      mean += a.reduce((acc, v, i) => acc + v * b[i]!, 0) / trials;
    }
    expect(Math.abs(mean - exact)).toBeLessThan(0.15 * Math.abs(exact) + 1e-4);
  });

});
