import { tf } from './backend.js';
import { LAYERS, type BaseModel, type LayerName } from './model.js';

/** An adapter's tensors: A (r×in) and B already scaled by α/r (out×r), per layer. */
export type AdapterTensors = Record<LayerName, { a: tf.Tensor2D; b: tf.Tensor2D }>;

/** One dense layer with an optional low-rank delta: x·W + b + (x·Aᵀ)·Bᵀ. */
function dense(base: BaseModel, layer: LayerName, x: tf.Tensor2D, lora?: { a: tf.Tensor2D; b: tf.Tensor2D }): tf.Tensor2D {
  const { kernel, bias } = base.tensors[layer];
  const y = tf.add(tf.matMul(x, kernel), bias) as tf.Tensor2D;
  return lora ? (tf.add(y, tf.matMul(tf.matMul(x, lora.a, false, true), lora.b, false, true)) as tf.Tensor2D) : y;
}

/** Logits of rows that all use one adapter (or none): the training and reference path. */
export function forward(base: BaseModel, x: tf.Tensor2D, adapter?: AdapterTensors): tf.Tensor2D {
  const h = tf.relu(dense(base, 'dense1', x, adapter?.dense1));
  return dense(base, 'dense2', h, adapter?.dense2);
}

/**
 * Logits of a mixed batch: row i uses adapters[rowAdapter[i]]. The base layers run once
 * for the whole batch; the low-rank deltas run as batched products over the adapters'
 * weights gathered per row (vLLM's reference SGMV: lora_a[idx], lora_b[idx], einsum).
 * Adapters of lower rank are zero-padded to the batch's highest rank.
 */
export function forwardMixed(base: BaseModel, x: tf.Tensor2D, adapters: readonly AdapterTensors[], rowAdapter: Int32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const idx = tf.tensor1d(rowAdapter, 'int32');
    const rank = Math.max(...adapters.map((a) => a.dense1.a.shape[0]));
    const stackFor = (layer: LayerName) => {
      const as = adapters.map((a) => {
        const r = a[layer].a.shape[0];
        return r === rank ? a[layer].a : tf.pad(a[layer].a, [[0, rank - r], [0, 0]]);
      });
      const bs = adapters.map((a) => {
        const r = a[layer].b.shape[1];
        return r === rank ? a[layer].b : tf.pad(a[layer].b, [[0, 0], [0, rank - r]]);
      });
      return { a: tf.gather(tf.stack(as), idx) as tf.Tensor3D, b: tf.gather(tf.stack(bs), idx) as tf.Tensor3D };
    };
    const layer = (name: LayerName, input: tf.Tensor2D) => {
      const { a, b } = stackFor(name);
      const xa = tf.matMul(tf.expandDims(input, 1) as tf.Tensor3D, a, false, true); // [B,1,r]
      const delta = tf.squeeze(tf.matMul(xa, b, false, true), [1]) as tf.Tensor2D; // [B,out]
      return tf.add(dense(base, name, input), delta) as tf.Tensor2D;
    };
    const h = tf.relu(layer('dense1', x)) as tf.Tensor2D;
    return layer('dense2', h);
  });
}

/** The per-request path that a server without batching takes: merge W' = W + Aᵀ·Bᵀ, then a plain forward. */
export function forwardMerged(base: BaseModel, x: tf.Tensor2D, adapter: AdapterTensors): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    LAYERS.forEach((name, i) => {
      const merged = tf.add(base.tensors[name].kernel, tf.matMul(adapter[name].a, adapter[name].b, true, true)) as tf.Tensor2D;
      h = tf.add(tf.matMul(h, merged), base.tensors[name].bias) as tf.Tensor2D;
      if (i === 0) h = tf.relu(h) as tf.Tensor2D;
    });
    return h;
  });
}
