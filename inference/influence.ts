import { ZkpoaError } from '../attribution/errors.js';
import { addOuter, exampleGradient, forwardPass, layerParams, parameterLayout, type LayerParams } from './gradients.js';
import { LoraObjective } from './lora-objective.js';
import { gaussian, mulberry32 } from '../lib/random.js';
import { orthonormalize, symmetricEigen, dot as vdot } from '../lib/vector.js';
import type { Adapter } from './lora.js';
import type { BaseModel, LayerName } from './model.js';

/**
 * Influence functions at a converged adapter, exact in the span of the contributors.
 *
 * For an adapter trained to the optimum θ* of mean loss + wd·‖θ‖², removing contributor
 * c moves a query's loss by, to first order,
 *   Δℓ_q(c) ≈ g_qᵀ · H⁻¹ · Σ_{i∈c} (g_i − ḡ) / (n − n_c)
 * (g: per-example loss gradients at θ*, ḡ their mean; centering and 1/(n − n_c) come from
 * the mean loss being renormalized over the remaining records). H⁻¹·v is solved by
 * conjugate gradients in the full parameter space: random projections to K dimensions
 * lose most of the signal here (K = 32 agrees with leave-one-out at 0.24 per query,
 * K = 1024 at 0.31, exact 0.67). H is, by `curvature`:
 * - `hessian` (default): the training objective's exact Hessian + λ·I, its products
 *   with vectors by central differences of the float64 gradient. It keeps the residual
 *   curvature of badly fit records (say, flipped labels) that the Fisher leaves out:
 *   the flipped contributor's AUC in `bench:attribution` goes from 0.955 to 0.97.
 *   It only means something at a minimum, so it is used only where the adapter's
 *   gradient is small against every contributor's, and conjugate gradients meet no
 *   non-positive curvature; elsewhere the span falls back to the Fisher (and says so).
 * - `fisher`: the empirical Fisher (1/n)Σ g_i g_iᵀ + (2·wd + λ)·I, positive definite
 *   anywhere.
 *
 * The circuit still computes a plain ⟨t, G_c⟩ in K dimensions:
 * - C ≤ K, exact: the vectors w_c = H⁻¹·d_c (d_c the centered, renormalized sum of c)
 *   span at most K dimensions, so with U an orthonormal basis of that span, G_c = Uᵀ·w_c
 *   and t = Uᵀ·g_q give ⟨t, G_c⟩ = g_qᵀ·w_c exactly (one solve per contributor);
 * - C > K, in the contributors' top-K subspace: U the K leading left singular vectors of
 *   D = [d_1 … d_C] (randomized SVD: products with D, no Hessian), W = H⁻¹·U (K solves,
 *   however many contributors there are), G_c = Uᵀ·d_c and t = Wᵀ·g_q, so that
 *   ⟨t, G_c⟩ = g_qᵀ·H⁻¹·(U·Uᵀ·d_c): each contributor's direction projected on the K
 *   directions that carry most of the datanet's. Exact again when D has rank ≤ K.
 * The query side (U, or W) depends on the datanet version and the adapter, and is saved
 * with the index.
 */
export interface InfluenceOptions {
  /** the adapter's training weight decay (its Hessian includes 2·wd·I) */
  weightDecay: number;
  /** extra damping λ added to the curvature's diagonal (default: DEFAULT_DAMPING for the Hessian, 0 for the Fisher) */
  damping?: number;
  curvature?: Curvature;
  /** the circuit's feature width K (with more contributors, their top-K subspace is used) */
  dim: number;
  /** seed of the randomized SVD with more contributors than dim */
  seed?: number;
  /** conjugate-gradient iterations with the Fisher */
  maxIterations?: number;
  /** conjugate-gradient iterations with the Hessian (each costs two gradient passes over the datanet) */
  hessianIterations?: number;
  /** relative residual at which conjugate gradients stop (default 1e-8 with the Fisher, HESSIAN_TOLERANCE with the Hessian) */
  tolerance?: number;
  onProgress?: (done: number, total: number) => void;
}

export type Curvature = 'hessian' | 'fisher';
/**
 * λ added to the exact Hessian: an optimizer stopped a little short of the optimum can
 * leave slightly negative curvature; 0.01 costs nothing measurable in the benchmark.
 */
export const DEFAULT_DAMPING = 0.01;
/** The Hessian is used where ‖∇f(θ)‖ ≤ this × the smallest contributor's ‖Σ(g_i − ḡ)/(n − n_c)‖. */
export const OPTIMUM_TOLERANCE = 0.1;

/** CG's relative residual with the Hessian: its finite-difference products are exact to ~1e-8, so asking for that only spins */
export const HESSIAN_TOLERANCE = 1e-4;
/**
 * CG iterations with the Hessian, truncated: each costs two gradient passes over the
 * datanet per contributor, and stopping early from 0 acts as extra damping. In `bench:attribution`:
 * 40 iterations 0.953 per answer and AUC 0.969 (71 s), 100: 0.955 / 0.970 (175 s),
 * 300: 0.958 / 0.974 (499 s, more than the leave-one-out truth's 209 s).
 */
export const HESSIAN_ITERATIONS = 40;

const MAGIC = 'ZKIS';
/** magic, dim, rank, parameters, contributors */
const HEADER = 20;

/** A K-vector whose first entries are `head` and the rest 0. */
function padded(head: readonly number[], dim: number): Float64Array {
  const out = new Float64Array(dim);
  out.set(head);
  return out;
}

/** A per-example gradient in factored form: per parameter block, u·vᵀ (v sparse where the input is). */
interface FactoredGradient {
  u: Float64Array[];
  v: Float64Array[];
  /** non-zero columns of each block's v (null: dense); where given, v holds only those columns' values */
  cols: (Int32Array | null)[];
}

export class InfluenceSpan {
  private constructor(
    private readonly params: Record<LayerName, LayerParams>,
    private readonly layout: { off: number; m: number; n: number }[],
    /** what t is read off: t_k = ⟨basis_k, g⟩ (at most dim vectors; features beyond them are 0) */
    readonly basis: Float64Array[],
    /** the feature width t and G_c are padded to (the circuit's K) */
    readonly dim: number,
    /** G_c = Uᵀ·w_c per contributor, in the contributors' order */
    readonly coordinates: Float64Array[],
    /** CG iterations each contributor took */
    readonly iterations: number[],
    /** the curvature the span was solved with (a requested Hessian falls back to the Fisher away from a minimum); not known for a loaded span */
    readonly curvature: Curvature | undefined,
  ) {}

  /**
   * Builds the span from the adapter's training records: `owner[i]` is record i's
   * contributor in [0, contributors).
   */
  static build(base: BaseModel, adapter: Adapter, records: readonly { x: ArrayLike<number>; label: number; owner: number }[], contributors: number, opts: InfluenceOptions): InfluenceSpan {
    if (records.length === 0) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'the datanet has no records');
    if (!(2 * opts.weightDecay + (opts.damping ?? 0) > 0)) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'influence needs weight decay or damping > 0 (the Fisher alone is singular, an unregularized optimum not unique)');
    const params = layerParams(base, adapter.layers, adapter.meta.rank, adapter.meta.alpha);
    const layout = parameterLayout(base, adapter.meta.rank);
    const size = layout.at(-1)!.off + layout.at(-1)!.m * layout.at(-1)!.n;
    const n = records.length;

    const grads = records.map((r, i) => {
      const g = factored(params, r.x, r.label);
      if (opts.onProgress && i % 256 === 0) opts.onProgress(i, n * 2);
      return g;
    });
    const counts = new Array<number>(contributors).fill(0);
    const sums = Array.from({ length: contributors }, () => new Float64Array(size));
    const mean = new Float64Array(size);
    records.forEach((r, i) => {
      if (!Number.isInteger(r.owner) || r.owner < 0 || r.owner >= contributors) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `record ${i}: owner out of range`);
      counts[r.owner]!++;
      axpy(layout, grads[i]!, 1, sums[r.owner]!);
      axpy(layout, grads[i]!, 1 / n, mean);
    });
    const rhs = sums.map((s, c) => {
      const scale = n - counts[c]! > 0 ? 1 / (n - counts[c]!) : 1;
      return s.map((v, j) => (v - counts[c]! * mean[j]!) * scale);
    });

    // (F + λI)·v for every contributor's vector in one pass over the records
    const fisher = (vs: Float64Array[]): Float64Array[] => {
      const lambda = 2 * opts.weightDecay + (opts.damping ?? 0);
      const out = vs.map((v) => v.map((x) => lambda * x));
      for (const g of grads) {
        vs.forEach((v, c) => {
          const d = dot(layout, g, v) / n;
          if (d !== 0) axpy(layout, g, d, out[c]!);
        });
      }
      return out;
    };
    // up to K contributors: each one's own solve; past K, the K leading directions of all of them
    const exact = contributors <= opts.dim;
    const subspace = exact ? undefined : principalSubspace(rhs, opts.dim, opts.seed ?? 20261202);
    const targets = subspace ?? rhs;
    // the Hessian where the adapter is at a minimum (its solve truncated: see HESSIAN_ITERATIONS), else the Fisher
    let solved: ReturnType<typeof conjugateGradients> | undefined;
    let curvature: Curvature = 'fisher';
    if ((opts.curvature ?? 'hessian') === 'hessian') {
      const hessian = exactHessian(base, adapter, records, opts.weightDecay, opts.damping ?? DEFAULT_DAMPING);
      const smallest = Math.min(...rhs.map((v) => Math.sqrt(vdot(v, v))).filter((x) => x > 0));
      // (no contributor term at all, as with one contributor: nothing to solve, no Hessian needed)
      if (Number.isFinite(smallest) && hessian.gradientNorm <= OPTIMUM_TOLERANCE * smallest) {
        const iterations = opts.hessianIterations ?? HESSIAN_ITERATIONS;
        solved = conjugateGradients(hessian.apply, targets, iterations, opts.tolerance ?? HESSIAN_TOLERANCE, (it) => opts.onProgress?.(n + Math.round((it / iterations) * n), n * 2));
        if (solved.positive) curvature = 'hessian';
      }
    }
    if (curvature === 'fisher') solved = conjugateGradients(fisher, targets, opts.maxIterations ?? 300, opts.tolerance ?? 1e-8, (it, total) => opts.onProgress?.(n + Math.round((it / total) * n), n * 2));
    const { x: solutions, iterations } = solved!;

    opts.onProgress?.(n * 2, n * 2);
    if (subspace) {
      // W = H⁻¹·U reads t off the query; G_c = Uᵀ·d_c
      const coordinates = rhs.map((d) => padded(subspace.map((u) => vdot(u, d)), opts.dim));
      return new InfluenceSpan(params, layout, solutions, opts.dim, coordinates, iterations, curvature);
    }
    // an orthonormal basis of span{w_c} (dependent vectors add nothing)
    const basis = orthonormalize(solutions);
    const coordinates = solutions.map((w) => padded(basis.map((u) => vdot(u, w)), opts.dim));
    return new InfluenceSpan(params, layout, basis, opts.dim, coordinates, iterations, curvature);
  }

  /**
   * The basis and coordinates as bytes (float64, little-endian), saved beside the adapter:
   * an auditor who loads them computes the same t bit for bit.
   */
  serialize(): Buffer {
    const size = this.layout.at(-1)!.off + this.layout.at(-1)!.m * this.layout.at(-1)!.n;
    const rank = this.basis.length;
    const header = Buffer.alloc(HEADER);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(this.dim, 4);
    header.writeUInt32LE(rank, 8);
    header.writeUInt32LE(size, 12);
    header.writeUInt32LE(this.coordinates.length, 16);
    const body = new Float64Array(rank * size + this.coordinates.length * this.dim);
    this.basis.forEach((u, k) => body.set(u, k * size));
    this.coordinates.forEach((g, c) => body.set(g, rank * size + c * this.dim));
    return Buffer.concat([header, Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
  }

  /** A span saved by `serialize`, for the adapter (the optimum) it was built at. */
  static load(base: BaseModel, adapter: Adapter, bytes: Uint8Array): InfluenceSpan {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const layout = parameterLayout(base, adapter.meta.rank);
    const expected = layout.at(-1)!.off + layout.at(-1)!.m * layout.at(-1)!.n;
    if (buf.length < HEADER || buf.toString('latin1', 0, 4) !== MAGIC) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'not an influence span file');
    const dim = buf.readUInt32LE(4);
    const rank = buf.readUInt32LE(8);
    const size = buf.readUInt32LE(12);
    const contributors = buf.readUInt32LE(16);
    if (size !== expected || rank > dim || buf.length !== HEADER + 8 * (rank * size + contributors * dim)) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'the influence span does not fit this adapter');
    const body = new Float64Array(new Uint8Array(buf.subarray(HEADER)).buffer);
    const basis = Array.from({ length: rank }, (_, k) => body.slice(k * size, (k + 1) * size));
    const coordinates = Array.from({ length: contributors }, (_, c) => body.slice(rank * size + c * dim, rank * size + (c + 1) * dim));
    return new InfluenceSpan(layerParams(base, adapter.layers, adapter.meta.rank, adapter.meta.alpha), layout, basis, dim, coordinates, [], undefined);
  }

  /** t = Uᵀ·g for an example's loss gradient at `label`, or at the adapter's own prediction. */
  features(x: ArrayLike<number>, label?: number): { features: Float64Array; predicted: number } {
    const fwd = forwardPass(this.params, x);
    const predicted = fwd.logits.indexOf(Math.max(...fwd.logits));
    const g = factored(this.params, x, label ?? predicted, fwd);
    return { features: padded(this.basis.map((u) => dot(this.layout, g, u)), this.dim), predicted };
  }
}

/** Oversampling and power iterations of the randomized SVD (Halko, Martinsson, Tropp). */
const OVERSAMPLE = 8;
const POWER_ITERATIONS = 2;

/**
 * The k leading left singular vectors of D = [d_1 … d_C] (orthonormal), by a randomized
 * SVD: a seeded Gaussian sketch Y = D·Ω, power iterations Y ← D·Dᵀ·Y, Q = orth(Y), then
 * the top eigenvectors of (QᵀD)(QᵀD)ᵀ, mapped back through Q.
 */
export function principalSubspace(d: readonly Float64Array[], k: number, seed: number): Float64Array[] {
  const size = d[0]!.length;
  const width = Math.min(k + OVERSAMPLE, d.length);
  const gauss = gaussian(mulberry32(seed));
  const combine = (weights: (c: number, j: number) => number) =>
    Array.from({ length: width }, (_, j) => {
      const y = new Float64Array(size);
      d.forEach((dc, c) => {
        const w = weights(c, j);
        if (w !== 0) for (let i = 0; i < size; i++) y[i]! += w * dc[i]!;
      });
      return y;
    });
  const omega = d.map(() => Array.from({ length: width }, gauss));
  let q = orthonormalize(combine((c, j) => omega[c]![j]!));
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    const z = d.map((dc) => q.map((y) => vdot(dc, y))); // Dᵀ·Q, C × width
    q = orthonormalize(combine((c, j) => z[c]![j] ?? 0));
  }
  const b = q.map((u) => d.map((dc) => vdot(u, dc))); // Qᵀ·D, width × C
  const gram = b.map((ri) => b.map((rj) => ri.reduce((s, x, c) => s + x * rj[c]!, 0)));
  const { vectors } = symmetricEigen(gram);
  return vectors.slice(0, k).map((v) => {
    const u = new Float64Array(size);
    v.forEach((w, i) => {
      for (let j = 0; j < size; j++) u[j]! += w * q[i]![j]!;
    });
    return u;
  });
}

function factored(params: Record<LayerName, LayerParams>, x: ArrayLike<number>, label: number, fwd = forwardPass(params, x)): FactoredGradient {
  const { blocks } = exampleGradient(params, x, fwd, label);
  // dense1.A's v is the sparse input (a few hundred non-zero of thousands of columns): kept compact
  const cols = nonZero(blocks[0]!.v);
  return {
    u: blocks.map((b) => Float64Array.from(b.u)),
    v: blocks.map((b, i) => (i === 0 ? Float64Array.from(cols, (j) => b.v[j]!) : Float64Array.from(b.v))),
    cols: blocks.map((_, i) => (i === 0 ? cols : null)),
  };
}

function nonZero(v: ArrayLike<number>): Int32Array {
  const out: number[] = [];
  for (let j = 0; j < v.length; j++) if (v[j] !== 0) out.push(j);
  return Int32Array.from(out);
}

/** gᵀ·v for a factored g. */
function dot(layout: { off: number; n: number }[], g: FactoredGradient, v: Float64Array): number {
  let s = 0;
  layout.forEach(({ off, n }, b) => {
    const u = g.u[b]!;
    const gv = g.v[b]!;
    const cols = g.cols[b];
    for (let a = 0; a < u.length; a++) {
      if (u[a] === 0) continue;
      const row = off + a * n;
      let acc = 0;
      if (cols) for (let t = 0; t < cols.length; t++) acc += v[row + cols[t]!]! * gv[t]!;
      else for (let c = 0; c < n; c++) acc += v[row + c]! * gv[c]!;
      s += u[a]! * acc;
    }
  });
  return s;
}

/** out += s·g for a factored g. */
function axpy(layout: { off: number; n: number }[], g: FactoredGradient, s: number, out: Float64Array): void {
  layout.forEach(({ off, n }, b) => addOuter(out, off, n, g.u[b]!, g.v[b]!, s, g.cols[b]!));
}

/** Conjugate gradients for A·x_c = b_c, all right-hand sides advancing together (one pass over the data per step). */
export function conjugateGradients(
  apply: (vs: Float64Array[]) => Float64Array[],
  bs: Float64Array[],
  maxIterations: number,
  tolerance: number,
  onStep: (it: number, total: number) => void,
): { x: Float64Array[]; iterations: number[]; /** false: a direction of non-positive curvature was met (the solve stopped there) */ positive: boolean } {
  const x = bs.map((b) => new Float64Array(b.length));
  const r = bs.map((b) => Float64Array.from(b));
  const p = bs.map((b) => Float64Array.from(b));
  const rr = r.map((v) => vdot(v, v));
  const stop = bs.map((b) => tolerance * tolerance * vdot(b, b));
  const iterations = bs.map(() => 0);
  const active = () => bs.map((_, c) => c).filter((c) => rr[c]! > stop[c]!);
  for (let it = 0; it < maxIterations; it++) {
    const live = active();
    if (live.length === 0) break;
    const ap = apply(live.map((c) => p[c]!));
    const curvature = live.map((c, k) => vdot(p[c]!, ap[k]!));
    if (curvature.some((pap) => !(pap > 0))) return { x, iterations, positive: false };
    live.forEach((c, k) => {
      const a = rr[c]! / curvature[k]!;
      const xc = x[c]!;
      const rc = r[c]!;
      const pc = p[c]!;
      for (let j = 0; j < xc.length; j++) {
        xc[j]! += a * pc[j]!;
        rc[j]! -= a * ap[k]![j]!;
      }
      const next = vdot(rc, rc);
      for (let j = 0; j < pc.length; j++) pc[j] = rc[j]! + (next / rr[c]!) * pc[j]!;
      rr[c] = next;
      iterations[c]!++;
    });
    onStep(it + 1, maxIterations);
  }
  return { x, iterations, positive: true };
}

/**
 * Products with the Hessian (+ λ·I) of the training objective at the adapter, by
 * central differences of its float64 gradient (a step of 1e-4 in θ), and the gradient's
 * norm there, which says how close to a minimum it is. Each product is two gradient
 * passes over the datanet. Where the step carries a record's hidden unit across its
 * ReLU kink, the difference includes that switch: a Hessian smoothed over ±1e-4, not
 * the one of the smooth piece θ lies on. That is deliberate. Leave-one-out retraining
 * moves θ much further, across such kinks. Measured on the four-contributor test
 * datanet, where retraining moves Alice's share 0.257 → 0.394 when she adds 300
 * records: the smoothed Hessian gives 0.304 → 0.433, while the Hessian with every ReLU
 * pattern held fixed gives 0.254 → 0.244, the wrong way.
 */
function exactHessian(base: BaseModel, adapter: Adapter, records: readonly { x: ArrayLike<number>; label: number }[], weightDecay: number, damping: number): { apply: (vs: Float64Array[]) => Float64Array[]; gradientNorm: number } {
  const objective = new LoraObjective(base, records.map((r) => ({ x: Float32Array.from(r.x), label: r.label })), adapter.meta.rank, adapter.meta.alpha, weightDecay);
  const theta = objective.pack(adapter.layers);
  const size = objective.size;
  const gPlus = new Float64Array(size);
  const gMinus = new Float64Array(size);
  objective.value(theta, gPlus);
  const gradientNorm = Math.sqrt(vdot(gPlus, gPlus));
  const plus = new Float64Array(size);
  const minus = new Float64Array(size);
  const apply = (vs: Float64Array[]): Float64Array[] =>
    vs.map((v) => {
      const eps = 1e-4 / Math.sqrt(vdot(v, v));
      for (let j = 0; j < size; j++) {
        plus[j] = theta[j]! + eps * v[j]!;
        minus[j] = theta[j]! - eps * v[j]!;
      }
      objective.value(plus, gPlus);
      objective.value(minus, gMinus);
      return gPlus.map((g, j) => (g - gMinus[j]!) / (2 * eps) + damping * v[j]!);
    });
  return { apply, gradientNorm };
}
