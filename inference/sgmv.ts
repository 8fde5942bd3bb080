import type { BaseModel, LayerName } from './model.js';
import type { Adapter } from './lora.js';
import { tf } from './backend.js';

/**
 * The host SGMV kernel: a mixed batch's low-rank deltas as segmented products on the
 * CPU, for the wasm/cpu backends. There every tensor op costs ~10–40 µs of dispatch,
 * so the tensor path (forwardMixed) pays per distinct adapter, and its masked product
 * computes every row against every adapter of the batch. Here each row meets only its
 * own adapter's weights, and the first layer reads only the input's non-zero features
 * (hashed n-grams: ~350 of 4,096), so a row's whole delta is a few thousand
 * multiply-adds. The base layer still runs once per batch as one tfjs product. Native
 * and GPU backends keep the tensor path, where the device does the work.
 */

/** One layer of an adapter in serving layout: `a` = Aᵀ (in×r), `b` = (α/r)·Bᵀ (r×out), row-major. */
export interface ServingLayer {
  a: Float32Array;
  b: Float32Array;
  rank: number;
  inDim: number;
  outDim: number;
}
export type ServingWeights = Record<LayerName, ServingLayer>;

/** The serving layout of an adapter (the one place it is defined; tensors are made from it). */
export function servingWeights(adapter: Adapter): ServingWeights {
  const { rank, alpha } = adapter.meta;
  return Object.fromEntries(
    adapter.meta.layers.map((l) => {
      const w = adapter.layers[l.name];
      const { inDim, outDim } = l;
      const b = transpose(w.b, outDim, rank);
      for (let i = 0; i < b.length; i++) b[i] = b[i]! * (alpha / rank);
      return [l.name, { a: transpose(w.a, rank, inDim), b, rank, inDim, outDim }];
    }),
  ) as ServingWeights;
}

/** A row-major rows×cols matrix, transposed. */
export function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j]!;
  return out;
}

/** The non-zero entries of an input vector. */
export interface SparseRow {
  index: Int32Array;
  value: Float32Array;
}

let scratchIndex = new Int32Array(0);
let scratchValue = new Float32Array(0);

export function sparseRow(x: Float32Array): SparseRow {
  if (scratchIndex.length < x.length) {
    scratchIndex = new Int32Array(x.length);
    scratchValue = new Float32Array(x.length);
  }
  let n = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v !== 0) {
      scratchIndex[n] = i;
      scratchValue[n++] = v;
    }
  }
  return { index: scratchIndex.slice(0, n), value: scratchValue.slice(0, n) };
}

/**
 * y[i] += ((x_i·Aᵀ)·(α/r)Bᵀ) with row i's own adapter, rows taken segment by segment
 * (all rows of one adapter together, so its weights stay in cache). `project(i, l, p)`
 * adds row i's projection x_i·Aᵀ into p; the second factor is the same for every layer.
 */
function addDeltas(y: Float32Array, rows: number, layer: (u: number) => ServingLayer, rowAdapter: Int32Array, project: (i: number, l: ServingLayer, p: Float64Array) => void): void {
  const order = Array.from({ length: rows }, (_, i) => i).sort((i, j) => rowAdapter[i]! - rowAdapter[j]! || i - j);
  let p = new Float64Array(0);
  for (const i of order) {
    const l = layer(rowAdapter[i]!);
    const { rank, outDim, b } = l;
    if (p.length < rank) p = new Float64Array(rank);
    p.fill(0, 0, rank);
    project(i, l, p);
    const out = i * outDim;
    for (let k = 0; k < rank; k++) {
      const pk = p[k]!;
      if (pk === 0) continue;
      const bk = k * outDim;
      for (let o = 0; o < outDim; o++) y[out + o]! += pk * b[bk + o]!;
    }
  }
}

/**
 * Logits of a mixed batch (row i uses adapters[rowAdapter[i]]), computed as
 * forwardMixed computes them: relu(x·W1 + b1 + Δ1)·W2 + b2 + Δ2. `dense` holds the rows
 * (rows × in) for the base product, `sparse` the same rows' non-zeros for the deltas.
 */
export async function forwardMixedHost(base: BaseModel, dense: Float32Array, sparse: readonly SparseRow[], adapters: readonly ServingWeights[], rowAdapter: Int32Array): Promise<Float32Array> {
  const rows = sparse.length;
  const { inputDim, hidden } = base.spec;
  const h1 = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(dense, [rows, inputDim]), base.tensors.dense1.kernel), base.tensors.dense1.bias));
  let h: Float32Array;
  try {
    h = (await h1.data()) as Float32Array;
  } finally {
    h1.dispose();
  }
  addDeltas(h, rows, (u) => adapters[u]!.dense1, rowAdapter, (i, l, p) => {
    const { index, value } = sparse[i]!;
    const { a, rank } = l;
    for (let t = 0; t < index.length; t++) {
      const v = value[t]!;
      const at = index[t]! * rank;
      for (let k = 0; k < rank; k++) p[k]! += v * a[at + k]!;
    }
  });
  for (let i = 0; i < h.length; i++) if (h[i]! < 0) h[i] = 0;

  const { kernel, bias } = base.weights.dense2;
  const classes = bias.length;
  const y = new Float32Array(rows * classes);
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < classes; c++) {
      let s = bias[c]!;
      for (let o = 0; o < hidden; o++) s += h[i * hidden + o]! * kernel[o * classes + c]!;
      y[i * classes + c] = s;
    }
  }
  addDeltas(y, rows, (u) => adapters[u]!.dense2, rowAdapter, (i, l, p) => {
    const { a, rank } = l;
    for (let o = 0; o < hidden; o++) {
      const v = h[i * hidden + o]!;
      if (v === 0) continue;
      const at = o * rank;
      for (let k = 0; k < rank; k++) p[k]! += v * a[at + k]!;
    }
  });
  return y;
}

/** Which kernel computes a mixed batch: the host SGMV where tensor ops are dispatched from JS on the CPU. */
export type MixedKernel = 'tensor' | 'host';

export function defaultKernel(): MixedKernel {
  return ['wasm', 'cpu'].includes(tf.getBackend()) ? 'host' : 'tensor';
}

