import { Commitments, FEATURE_MAX, addressToField, quantize, type Leaf } from '../attribution/index.js';
import { ZkpoaError } from '../attribution/errors.js';
import { hashFeatures } from './features.js';
import type { GradientFeaturizer, ProjectionSpec } from './gradients.js';

/**
 * The attribution index of an adapter: one K-vector per contributor, the sum of the
 * projected gradient features of their records (so a contributor's influence on a
 * query is one inner product, whatever their record count), quantized with the
 * shared core and committed to by its Poseidon root.
 *
 * Estimator: TracIn-CP features, with a damped inverse of the projected K×K
 * Gauss–Newton Hessian (H = mean of φ·φᵀ over the datanet's records, + λ·I) applied
 * on the query side, so the proven score stays the plain ⟨t, G_c⟩.
 */
export interface IndexRecord {
  text: string;
  label: number;
  /** payout address of the record's contributor */
  contributor: string;
}

export interface AttributionIndex {
  adapterId: string;
  datanet: { id: string; versionRoot: string };
  projection: ProjectionSpec;
  /** quantization scale of G (G_q = round(G · gScale)) */
  gScale: number;
  /** quantization scale of queries' preconditioned features, saturating at ±(2^15−1) */
  tScale: number;
  /** damping λ of the preconditioner, relative to the mean diagonal of H */
  damping: number;
  /** (H + λI)⁻¹, K×K row-major */
  preconditioner: number[];
  contributors: { address: string; records: number; g: bigint[] }[];
  /** circuit capacity the root is padded to */
  capacity: number;
  root: bigint;
}

export interface BuildIndexOptions {
  adapterId: string;
  datanet: { id: string; versionRoot: string };
  /** the circuit variant's contributor capacity (a power of two) */
  capacity: number;
  damping?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Per-record projected features; the expensive part, done in worker pools by callers with many records. */
export function recordFeatures(featurizer: GradientFeaturizer, records: readonly IndexRecord[], onProgress?: (done: number, total: number) => void): Float64Array[] {
  return records.map((r, i) => {
    const f = featurizer.features(hashFeatures(r.text, featurizer.base.spec.inputDim), r.label).features;
    if (onProgress && (i % 64 === 0 || i === records.length - 1)) onProgress(i + 1, records.length);
    return f;
  });
}

/** Cholesky solve of a symmetric positive-definite K×K system for every column of the identity. */
function inverseSpd(a: Float64Array, k: number): Float64Array {
  const l = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * k + j]!;
      for (let p = 0; p < j; p++) s -= l[i * k + p]! * l[j * k + p]!;
      if (i === j) {
        if (!(s > 0)) throw new ZkpoaError('ZKPOA_ERR_TRAINING', 'the projected Hessian is not positive definite');
        l[i * k + i] = Math.sqrt(s);
      } else l[i * k + j] = s / l[j * k + j]!;
    }
  }
  const inv = new Float64Array(k * k);
  for (let c = 0; c < k; c++) {
    const y = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      let s = i === c ? 1 : 0;
      for (let p = 0; p < i; p++) s -= l[i * k + p]! * y[p]!;
      y[i] = s / l[i * k + i]!;
    }
    for (let i = k - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let p = i + 1; p < k; p++) s -= l[p * k + i]! * inv[p * k + c]!;
      inv[i * k + c] = s / l[i * k + i]!;
    }
  }
  return inv;
}

/** Builds the index from per-record features (in the records' order). */
export async function buildIndex(records: readonly IndexRecord[], features: readonly Float64Array[], projection: ProjectionSpec, opts: BuildIndexOptions): Promise<AttributionIndex> {
  if (records.length === 0 || records.length !== features.length) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'one feature vector per record is needed');
  const k = features[0]!.length;
  const order: string[] = [];
  const sums = new Map<string, { sum: Float64Array; records: number }>();
  records.forEach((r, i) => {
    addressToField(r.contributor); // validates the address
    const key = r.contributor.toLowerCase();
    let c = sums.get(key);
    if (!c) {
      c = { sum: new Float64Array(k), records: 0 };
      sums.set(key, c);
      order.push(key);
    }
    features[i]!.forEach((v, j) => (c!.sum[j]! += v));
    c.records++;
  });
  if (order.length > opts.capacity) {
    throw new ZkpoaError('ZKPOA_ERR_CAPACITY', `${order.length} contributors do not fit a circuit of ${opts.capacity}`);
  }
  // Preconditioner on the query side: (H + λI)⁻¹ with H the mean outer product of record features.
  const h = new Float64Array(k * k);
  for (const f of features) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j]! += (f[i]! * f[j]!) / features.length;
  let trace = 0;
  for (let i = 0; i < k; i++) trace += h[i * k + i]!;
  const damping = opts.damping ?? 0.1;
  const lambda = damping * (trace / k) + 1e-12;
  for (let i = 0; i < k; i++) h[i * k + i]! += lambda;
  const preconditioner = inverseSpd(h, k);

  const gScale = (Number(FEATURE_MAX) / Math.max(...order.map((c) => Math.max(...sums.get(c)!.sum.map(Math.abs))), 1e-300));
  // queries: the preconditioned feature of a record sets the scale, with 4× headroom
  let maxQuery = 1e-300;
  for (const f of features) for (const v of precondition(preconditioner, k, f)) maxQuery = Math.max(maxQuery, Math.abs(v));
  const tScale = Number(FEATURE_MAX) / (4 * maxQuery);

  const contributors = order.map((c) => ({ address: c, records: sums.get(c)!.records, g: quantize(sums.get(c)!.sum, { scale: gScale, bits: 16 }) }));
  const leaves: Leaf[] = contributors.map((c) => ({ payee: addressToField(c.address), g: c.g }));
  const root = (await Commitments.create()).indexRoot(leaves, opts.capacity, k);
  return { adapterId: opts.adapterId, datanet: opts.datanet, projection, gScale, tScale, damping, preconditioner: Array.from(preconditioner), contributors, capacity: opts.capacity, root };
}

function precondition(p: ArrayLike<number>, k: number, f: ArrayLike<number>): Float64Array {
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let acc = 0;
    for (let j = 0; j < k; j++) acc += p[i * k + j]! * f[j]!;
    out[i] = acc;
  }
  return out;
}

/**
 * An answer's test features t, as the circuit takes them: the gradient feature at the
 * model's prediction, preconditioned, quantized at the index's declared scale and
 * saturated at the int16 bounds (deterministic, so an auditor's replay agrees).
 */
export function queryFeatures(index: AttributionIndex, featurizer: GradientFeaturizer, x: ArrayLike<number>): { t: bigint[]; predicted: number } {
  const { features, predicted } = featurizer.features(x);
  return { t: quantizeQuery(index, features), predicted };
}

/** Preconditions and quantizes a query's gradient feature (from a featurizer or an AttributionPool). */
export function quantizeQuery(index: AttributionIndex, features: ArrayLike<number>): bigint[] {
  const k = features.length;
  const pre = precondition(index.preconditioner, k, features);
  const max = Number(FEATURE_MAX);
  return quantize(Array.from(pre, (v) => Math.max(-max, Math.min(max, v * index.tScale))), { scale: 1, bits: 16 });
}

export function indexLeaves(index: AttributionIndex): Leaf[] {
  return index.contributors.map((c) => ({ payee: addressToField(c.address), g: c.g }));
}

/** JSON form of an index (bigints as decimal strings). */
export function serializeIndex(index: AttributionIndex): string {
  return JSON.stringify(index, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function deserializeIndex(json: string): AttributionIndex {
  const raw = JSON.parse(json) as Omit<AttributionIndex, 'root' | 'contributors'> & { root: string; contributors: { address: string; records: number; g: string[] }[] };
  return { ...raw, root: BigInt(raw.root), contributors: raw.contributors.map((c) => ({ ...c, g: c.g.map(BigInt) })) };
}
