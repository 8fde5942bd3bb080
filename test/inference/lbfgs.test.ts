import { describe, expect, it } from 'vitest';
import { minimizeLbfgs } from '../../lib/lbfgs.js';
import { initBackend, tf } from '../../inference/backend.js';
import { forward, type AdapterTensors } from '../../inference/forward.js';
import { LoraObjective } from '../../inference/lora-objective.js';
import { BaseModel, LAYERS, layerShape, type BaseModelSpec } from '../../inference/model.js';
import { gaussian, mulberry32 } from '../../lib/random.js';

describe('L-BFGS', () => {
  it('finds the minimum of an ill-conditioned quadratic and of the Rosenbrock function', () => {
    const scales = Float64Array.from({ length: 50 }, (_, i) => 10 ** (i / 49 * 3)); // condition number 1000
    const quad = minimizeLbfgs((x, g) => {
      let f = 0;
      x.forEach((v, i) => {
        f += 0.5 * scales[i]! * (v - 1) ** 2;
        g[i] = scales[i]! * (v - 1);
      });
      return f;
    }, new Float64Array(50), { maxIterations: 500, gradientTolerance: 1e-9, functionTolerance: 0 });
    expect(quad.converged).toBe(true);
    for (const v of quad.x) expect(v).toBeCloseTo(1, 6);

    const rosen = minimizeLbfgs((x, g) => {
      const [a, b] = [x[0]!, x[1]!];
      g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
      g[1] = 200 * (b - a * a);
      return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
    }, Float64Array.from([-1.2, 1]), { maxIterations: 500, gradientTolerance: 1e-10, functionTolerance: 0 });
    expect(rosen.x[0]).toBeCloseTo(1, 6);
    expect(rosen.x[1]).toBeCloseTo(1, 6);
  });

  it('stops at the iteration limit and says it did not converge', () => {
    const out = minimizeLbfgs((x, g) => {
      g[0] = 2 * (x[0]! - 3);
      return (x[0]! - 3) ** 2 + 1;
    }, new Float64Array(1), { maxIterations: 1, gradientTolerance: 0 });
    expect(out.iterations).toBe(1);
    expect(out.converged).toBe(false);
    expect(out.f).toBeGreaterThanOrEqual(1);
  });
});

describe('the LoRA fine-tuning objective', () => {
  it('equals mean cross-entropy + weight decay as tfjs computes it, and its gradient matches finite differences', async () => {
    await initBackend();
    const randn = gaussian(mulberry32(4));
    const spec: BaseModelSpec = { format: 'zkpoa-base/1', inputDim: 6, hidden: 5, labels: ['a', 'b', 'c'], features: { kind: 'hashed-ngrams', dim: 6 } };
    const vec = (n: number, s = 0.7) => Float32Array.from({ length: n }, () => randn() * s);
    const base = BaseModel.fromWeights(spec, { dense1: { kernel: vec(30), bias: vec(5) }, dense2: { kernel: vec(15), bias: vec(3) } });
    // sparse inputs, as hashed n-grams are
    const examples = [0, 1, 2, 0, 2].map((label, i) => ({ x: Float32Array.from({ length: 6 }, (_, j) => ((i + j) % 3 === 0 ? 0 : randn())), label }));
    const objective = new LoraObjective(base, examples, 2, 3, 0.05);
    const theta = Float64Array.from({ length: objective.size }, () => randn() * 0.5);
    const grad = new Float64Array(objective.size);
    const f = objective.value(theta, grad);

    const layers = objective.unpack(theta);
    const t = Object.fromEntries(
      LAYERS.map((l) => {
        const { inDim, outDim } = layerShape(spec, l);
        return [l, { a: tf.transpose(tf.tensor2d(layers[l].a, [2, inDim])), b: tf.mul(tf.transpose(tf.tensor2d(layers[l].b, [outDim, 2])), 3 / 2) }];
      }),
    ) as AdapterTensors;
    const x = tf.tensor2d(examples.flatMap((e) => [...e.x]), [examples.length, 6]);
    const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(examples.map((e) => e.label), 'int32'), 3), forward(base, x, t)).dataSync()[0]!;
    const decay = 0.05 * theta.reduce((s, v) => s + v * v, 0);
    expect(f).toBeCloseTo(ce + decay, 5);

    const scratch = new Float64Array(objective.size);
    for (let j = 0; j < objective.size; j++) {
      const e = 1e-6;
      const plus = Float64Array.from(theta);
      const minus = Float64Array.from(theta);
      plus[j]! += e;
      minus[j]! -= e;
      const numeric = (objective.value(plus, scratch) - objective.value(minus, scratch)) / (2 * e);
      expect(grad[j]).toBeCloseTo(numeric, 6);
    }
  });
});
