import { tf } from './backend.js';
import { LAYERS, type BaseModel, type LayerName } from './model.js';

/**
 * An adapter's tensors per layer, laid out for products without transposes (a
 * transposed operand costs ~10× on the wasm backend): `a` = Aᵀ (in×r) and
 * `b` = (α/r)·Bᵀ (r×out).
 */
export type AdapterTensors = Record<LayerName, { a: tf.Tensor2D; b: tf.Tensor2D }>;

/** One dense layer with an optional low-rank delta: x·W + bias + (x·Aᵀ)·(α/r)Bᵀ. */
function dense(base: BaseModel, layer: LayerName, x: tf.Tensor2D, lora?: { a: tf.Tensor2D; b: tf.Tensor2D }): tf.Tensor2D {
  const { kernel, bias } = base.tensors[layer];
  const y = tf.add(tf.matMul(x, kernel), bias) as tf.Tensor2D;
  return lora ? (tf.add(y, tf.matMul(tf.matMul(x, lora.a), lora.b)) as tf.Tensor2D) : y;
}

/** Logits of rows that all use one adapter (or none): the training and reference path. */
export function forward(base: BaseModel, x: tf.Tensor2D, adapter?: AdapterTensors): tf.Tensor2D {
  const h = tf.relu(dense(base, 'dense1', x, adapter?.dense1));
  return dense(base, 'dense2', h, adapter?.dense2);
}

/**
 * Logits of a mixed batch: row i uses adapters[rowAdapter[i]]. The base layers run once
 * for the whole batch. The low-rank deltas are a segmented gather-matmul (Punica's
 * SGMV): every row's projection x·A_uᵀ on each adapter of the batch (U thin products),
 * a one-hot mask that keeps only the row's own adapter, and one product of the masked
 * projections with [B_1ᵀ;…;B_Uᵀ] that yields every row's delta. Adapters of lower rank
 * are zero-padded to the batch's highest rank.
 */
export function forwardMixed(base: BaseModel, x: tf.Tensor2D, adapters: readonly AdapterTensors[], rowAdapter: Int32Array): tf.Tensor2D {
  return tf.tidy(() => {
    const rows = x.shape[0];
    const u = adapters.length;
    const rank = Math.max(...adapters.map((a) => a.dense1.a.shape[1]));
    const m = new Float32Array(rows * u * rank);
    rowAdapter.forEach((k, i) => m.fill(1, (i * u + k) * rank, (i * u + k + 1) * rank));
    const mask = tf.tensor2d(m, [rows, u * rank]);
    const layer = (name: LayerName, input: tf.Tensor2D) => {
      const projected = tf.concat(adapters.map((ad) => tf.matMul(input, padCols(ad[name].a, rank))), 1); // [rows, U·r]
      const b = tf.concat(adapters.map((ad) => padRows(ad[name].b, rank)), 0); // [U·r, out]
      return tf.add(dense(base, name, input), tf.matMul(tf.mul(projected, mask) as tf.Tensor2D, b)) as tf.Tensor2D;
    };
    const h = tf.relu(layer('dense1', x)) as tf.Tensor2D;
    return layer('dense2', h);
  });
}

function padRows(t: tf.Tensor2D, rows: number): tf.Tensor2D {
  const r = t.shape[0];
  return r === rows ? t : (tf.pad(t, [[0, rows - r], [0, 0]]) as tf.Tensor2D);
}

function padCols(t: tf.Tensor2D, cols: number): tf.Tensor2D {
  const c = t.shape[1];
  return c === cols ? t : (tf.pad(t, [[0, 0], [0, cols - c]]) as tf.Tensor2D);
}

/** The per-request path that a server without batching takes: merge W' = W + Aᵀ·Bᵀ, then a plain forward. */
export function forwardMerged(base: BaseModel, x: tf.Tensor2D, adapter: AdapterTensors): tf.Tensor2D {
  return tf.tidy(() => {
    let h: tf.Tensor2D = x;
    LAYERS.forEach((name, i) => {
      const merged = tf.add(base.tensors[name].kernel, tf.matMul(adapter[name].a, adapter[name].b)) as tf.Tensor2D;
      h = tf.add(tf.matMul(h, merged), base.tensors[name].bias) as tf.Tensor2D;
      if (i === 0) h = tf.relu(h) as tf.Tensor2D;
    });
    return h;
  });
}
