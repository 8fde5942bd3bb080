import { gaussian, mulberry32 } from '../lib/random.js';
import type { Adapter } from './lora.js';
import { LAYERS, layerShape, type BaseModel, type LayerName } from './model.js';

/**
 * Per-example gradient features of the loss with respect to an adapter's LoRA
 * parameters, through a fixed seeded random projection to K = k1·k2 dimensions.
 *
 * Every LoRA parameter block's per-example gradient is an outer product (a dense
 * layer's weight gradient is δ·inputᵀ), so it is projected through a Kronecker-
 * structured matrix Q1 ⊗ Q2 as (Q1·u) ⊗ (Q2·v) without ever forming u·vᵀ
 * (TRAK / LoGra). For y = x·W + s·B·z with z = A·x and δ = ∂L/∂y:
 *   ∂L/∂B = δ·(s·z)ᵀ      (out × r)
 *   ∂L/∂A = (s·Bᵀ·δ)·xᵀ   (r × in)
 * The blocks' projections are summed (a projection of the concatenated gradient).
 * TracIn-CP sums over the kept checkpoints with their learning rates; each checkpoint
 * has its own independent projection, so Σᵢ √lrᵢ·Pᵢ·gᵢ is one K-vector whose inner
 * products estimate Σᵢ lrᵢ·⟨gᵢ, g'ᵢ⟩ without bias.
 *
 * Pure float64 TypeScript: the same adapter and input give the same bits on every
 * machine and tensor backend.
 */
export interface ProjectionSpec {
  /** K = k1 · k2 */
  k1: number;
  k2: number;
  seed: number;
}

export interface CheckpointWeights {
  learningRate: number;
  adapter: Adapter;
}

type Block = { layer: LayerName; param: 'a' | 'b'; m: number; n: number };

/** One layer's base weights and LoRA factors in float64, as the forward and backward passes read them. */
export interface LayerParams {
  w: Float64Array; // in × out
  bias: Float64Array;
  a: Float64Array; // r × in
  b: Float64Array; // out × r
  inDim: number;
  outDim: number;
  rank: number;
  scale: number;
}

function blocks(base: Pick<BaseModel, 'spec'>, rank: number): Block[] {
  return LAYERS.flatMap((layer) => {
    const { inDim, outDim } = layerShape(base.spec, layer);
    return [
      { layer, param: 'a' as const, m: rank, n: inDim },
      { layer, param: 'b' as const, m: outDim, n: rank },
    ];
  });
}

function randomMatrix(rows: number, cols: number, seed: number, scale: number): Float64Array {
  const g = gaussian(mulberry32(seed));
  const m = new Float64Array(rows * cols);
  for (let i = 0; i < m.length; i++) m[i] = g() * scale;
  return m;
}

/**
 * The parameter blocks in exampleGradient's order (dense1.A, dense1.B, dense2.A,
 * dense2.B) with their offsets in the adapter's flat file layout (per layer A: r×in,
 * then B: out×r): where a flat θ or gradient keeps each block.
 */
export function parameterLayout(base: Pick<BaseModel, 'spec'>, rank: number): { off: number; m: number; n: number }[] {
  let off = 0;
  return blocks(base, rank).map((b) => {
    const at = { off, m: b.m, n: b.n };
    off += b.m * b.n;
    return at;
  });
}

/**
 * out[off + a·n + c] += s·u[a]·v[c]: a factored gradient block added into a flat vector.
 * With `cols` (a sparse input), v is compact: v[t] is column cols[t].
 */
export function addOuter(out: Float64Array, off: number, n: number, u: ArrayLike<number>, v: ArrayLike<number>, s: number, cols: Int32Array | null): void {
  for (let a = 0; a < u.length; a++) {
    const ua = u[a]! * s;
    if (ua === 0) continue;
    const row = off + a * n;
    if (cols) for (let t = 0; t < cols.length; t++) out[row + cols[t]!]! += ua * v[t]!;
    else for (let c = 0; c < n; c++) out[row + c]! += ua * v[c]!;
  }
}

/** Q·v for a rows×cols matrix Q. */
function mulMatVec(q: Float64Array, rows: number, cols: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let acc = 0;
    const off = i * cols;
    for (let j = 0; j < cols; j++) acc += q[off + j]! * v[j]!;
    out[i] = acc;
  }
  return out;
}

/** Float64 layer parameters of base + adapter; `a`/`b` are copied unless given as Float64Arrays (then shared, for training). */
export function layerParams(base: BaseModel, lora: Record<LayerName, { a: ArrayLike<number>; b: ArrayLike<number> }>, rank: number, alpha: number): Record<LayerName, LayerParams> {
  return Object.fromEntries(
    LAYERS.map((l) => {
      const { inDim, outDim } = layerShape(base.spec, l);
      const own = (v: ArrayLike<number>) => (v instanceof Float64Array ? v : Float64Array.from(v));
      return [l, { w: Float64Array.from(base.weights[l].kernel), bias: Float64Array.from(base.weights[l].bias), a: own(lora[l].a), b: own(lora[l].b), inDim, outDim, rank, scale: alpha / rank }];
    }),
  ) as Record<LayerName, LayerParams>;
}

/**
 * A featurizer for one adapter's kept checkpoints. Build once (the projections are
 * drawn here), then call `features` per example; cheap enough for worker pools.
 */
export class GradientFeaturizer {
  readonly dim: number;
  private readonly checkpoints: { sqrtLr: number; layers: Record<LayerName, LayerParams>; q: { q1: Float64Array; q2: Float64Array }[] }[];
  private readonly blocks: Block[];

  constructor(
    readonly base: BaseModel,
    checkpoints: readonly CheckpointWeights[],
    readonly projection: ProjectionSpec,
  ) {
    if (checkpoints.length === 0) throw new Error('at least one checkpoint is needed');
    const rank = checkpoints[0]!.adapter.meta.rank;
    this.blocks = blocks(base, rank);
    this.dim = projection.k1 * projection.k2;
    const scale = 1 / Math.sqrt(this.dim);
    this.checkpoints = checkpoints.map((c, ci) => ({
      sqrtLr: Math.sqrt(c.learningRate),
      layers: layerParams(base, c.adapter.layers, c.adapter.meta.rank, c.adapter.meta.alpha),
      // Q1 ⊗ Q2 entries are N(0, 1/K): each factor carries K^(-1/4)·… so that E⟨Pg, Pg'⟩ = ⟨g, g'⟩
      q: this.blocks.map((b, bi) => ({
        q1: randomMatrix(projection.k1, b.m, projection.seed * 1_000_003 + ci * 101 + bi * 2, 1),
        q2: randomMatrix(projection.k2, b.n, projection.seed * 1_000_003 + ci * 101 + bi * 2 + 1, scale),
      })),
    }));
  }

  /**
   * The projected TracIn-CP gradient feature of one example: the loss gradient for
   * `label`, or, without a label, for the model's own prediction (a query's features).
   */
  features(x: ArrayLike<number>, label?: number): { features: Float64Array; predicted: number } {
    const out = new Float64Array(this.dim);
    const passes = this.checkpoints.map((ck) => forwardPass(ck.layers, x));
    // the answer's label is what the final adapter (the last checkpoint) predicts
    const last = passes.at(-1)!.logits;
    const predicted = last.indexOf(Math.max(...last));
    const target = label ?? predicted;
    for (const [ci, ck] of this.checkpoints.entries()) {
      const g = exampleGradient(ck.layers, x, passes[ci]!, target);
      this.blocks.forEach((b, bi) => {
        const { u, v } = g.blocks[bi]!;
        const pu = mulMatVec(ck.q[bi]!.q1, this.projection.k1, b.m, u);
        const pv = mulMatVec(ck.q[bi]!.q2, this.projection.k2, b.n, v);
        for (let i = 0; i < this.projection.k1; i++) for (let j = 0; j < this.projection.k2; j++) out[i * this.projection.k2 + j]! += ck.sqrtLr * pu[i]! * pv[j]!;
      });
    }
    return { features: out, predicted };
  }

  /**
   * Projection of a full gradient block G (m×n, row-major) at a checkpoint, Q1·G·Q2ᵀ
   * flattened, without the learning-rate weight: the reference the factored path must
   * match (tests, auditors).
   */
  projectBlock(checkpoint: number, block: number, g: ArrayLike<number>): Float64Array {
    const { m, n } = this.blocks[block]!;
    const { q1, q2 } = this.checkpoints[checkpoint]!.q[block]!;
    const { k1, k2 } = this.projection;
    const gq2 = new Float64Array(m * k2); // G·Q2ᵀ
    for (let a = 0; a < m; a++) for (let j = 0; j < k2; j++) {
      let acc = 0;
      for (let c = 0; c < n; c++) acc += g[a * n + c]! * q2[j * n + c]!;
      gq2[a * k2 + j] = acc;
    }
    const out = new Float64Array(k1 * k2);
    for (let i = 0; i < k1; i++) for (let j = 0; j < k2; j++) {
      let acc = 0;
      for (let a = 0; a < m; a++) acc += q1[i * m + a]! * gq2[a * k2 + j]!;
      out[i * k2 + j] = acc;
    }
    return out;
  }

  /**
   * The unprojected loss gradient of one example at a checkpoint, per parameter block
   * as (u, v) with ∇ = u·vᵀ (blocks in `blockShapes` order): the reference that
   * projected features are checked against, and what an exact (unprojected) estimator
   * would use.
   */
  gradientBlocks(checkpoint: number, x: ArrayLike<number>, label: number): { u: ArrayLike<number>; v: ArrayLike<number> }[] {
    const layers = this.checkpoints[checkpoint]!.layers;
    return exampleGradient(layers, x, forwardPass(layers, x), label).blocks;
  }

  /** The parameter blocks in projection order: dense1.A, dense1.B, dense2.A, dense2.B. */
  get blockShapes(): readonly Block[] {
    return this.blocks;
  }
}

/** Backward pass of one example from its forward pass, returning each block's gradient as (u, v) with ∇ = u·vᵀ. */
export function exampleGradient(p: Record<LayerName, LayerParams>, x: ArrayLike<number>, fwd: ForwardPass, target: number): { blocks: { u: Float64Array | ArrayLike<number>; v: ArrayLike<number> }[] } {
  const l1 = p.dense1;
  const l2 = p.dense2;
  const { z1, a1, h, z2, logits } = fwd;
  const max = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  const prob = e.map((v) => v / sum);
  const d2 = prob.map((v, k) => v - (k === target ? 1 : 0)); // ∂L/∂logits
  // ∂L/∂h = W2·d2 + s2·A2ᵀ·(B2ᵀ·d2), then through the relu
  const bt2 = transposeMul(l2.b, l2.outDim, l2.rank, d2); // B2ᵀ·d2 (r)
  const dh = new Float64Array(l2.inDim);
  for (let i = 0; i < l2.inDim; i++) {
    let acc = 0;
    for (let k = 0; k < l2.outDim; k++) acc += l2.w[i * l2.outDim + k]! * d2[k]!;
    for (let j = 0; j < l2.rank; j++) acc += l2.scale * l2.a[j * l2.inDim + i]! * bt2[j]!;
    dh[i] = a1[i]! > 0 ? acc : 0;
  }
  const bt1 = transposeMul(l1.b, l1.outDim, l1.rank, dh); // B1ᵀ·d1 (r)
  const scaled = (v: ArrayLike<number>, s: number) => Float64Array.from(v as ArrayLike<number>, (t) => t * s);
  return {
    blocks: [
      { u: scaled(bt1, l1.scale), v: x }, // dense1.A
      { u: dh, v: scaled(z1, l1.scale) }, // dense1.B
      { u: scaled(bt2, l2.scale), v: h }, // dense2.A
      { u: Float64Array.from(d2), v: scaled(z2, l2.scale) }, // dense2.B
    ],
  };
}

export interface ForwardPass {
  z1: Float64Array;
  a1: number[];
  h: number[];
  z2: Float64Array;
  logits: number[];
}

/** One example through both layers at a checkpoint (what its gradient and its prediction need). */
export function forwardPass(p: Record<LayerName, LayerParams>, x: ArrayLike<number>): ForwardPass {
  const z1 = loraProject(p.dense1, x); // A1·x (r)
  return secondLayer(p, z1, denseForward(p.dense1, x, z1));
}

/**
 * The same pass from a prepared input (its base pre-activation x·W1 + b1, which does
 * not depend on the adapter, and its non-zero columns): training over many iterations
 * computes those once. The result is the same to the bit.
 */
export function forwardPrepared(p: Record<LayerName, LayerParams>, input: PreparedInput): ForwardPass {
  const z1 = sparseProject(p.dense1, input);
  return secondLayer(p, z1, addLora(p.dense1, Array.from(input.base), z1));
}

function secondLayer(p: Record<LayerName, LayerParams>, z1: Float64Array, a1: number[]): ForwardPass {
  const h = a1.map((v) => (v > 0 ? v : 0));
  const z2 = loraProject(p.dense2, h);
  return { z1, a1, h, z2, logits: denseForward(p.dense2, h, z2) };
}

/** z = A·x (r); inputs are sparse hashed n-grams, so zero entries are skipped. */
function loraProject(l: LayerParams, x: ArrayLike<number>): Float64Array {
  const z = new Float64Array(l.rank);
  for (let j = 0; j < l.inDim; j++) {
    const xj = x[j]!;
    if (xj === 0) continue;
    for (let k = 0; k < l.rank; k++) z[k]! += l.a[k * l.inDim + j]! * xj;
  }
  return z;
}

/** y = x·W + bias + s·B·z (out). */
function denseForward(l: LayerParams, x: ArrayLike<number>, z: Float64Array): number[] {
  return addLora(l, baseForward(l, x), z);
}

/** x·W + bias (out). */
function baseForward(l: LayerParams, x: ArrayLike<number>): number[] {
  const y = Array.from(l.bias);
  for (let i = 0; i < l.inDim; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const off = i * l.outDim;
    for (let k = 0; k < l.outDim; k++) y[k]! += xi * l.w[off + k]!;
  }
  return y;
}

/** y += s·B·z, in place. */
function addLora(l: LayerParams, y: number[], z: Float64Array): number[] {
  for (let k = 0; k < l.outDim; k++) for (let j = 0; j < l.rank; j++) y[k]! += l.scale * l.b[k * l.rank + j]! * z[j]!;
  return y;
}

/** An example's adapter-independent part of the first layer (see forwardPass). */
export interface PreparedInput {
  base: Float64Array;
  nonZero: Int32Array;
  /** x at those columns */
  values: Float64Array;
}

export function prepareInput(p: Record<LayerName, LayerParams>, x: ArrayLike<number>): PreparedInput {
  const nonZero: number[] = [];
  for (let j = 0; j < x.length; j++) if (x[j] !== 0) nonZero.push(j);
  return { base: Float64Array.from(baseForward(p.dense1, x)), nonZero: Int32Array.from(nonZero), values: Float64Array.from(nonZero, (j) => x[j]!) };
}

/** z = A·x over the non-zero columns of x only (the same sums, in the same order, as loraProject). */
function sparseProject(l: LayerParams, input: PreparedInput): Float64Array {
  const z = new Float64Array(l.rank);
  for (let t = 0; t < input.nonZero.length; t++) {
    const j = input.nonZero[t]!;
    const xj = input.values[t]!;
    for (let k = 0; k < l.rank; k++) z[k]! += l.a[k * l.inDim + j]! * xj;
  }
  return z;
}

/** Mᵀ·v for a rows×cols matrix M. */
function transposeMul(m: Float64Array, rows: number, cols: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j]! += m[i * cols + j]! * v[i]!;
  return out;
}
