import { Commitments, FEATURE_MAX, addressToField, quantize, type Leaf } from '../attribution/index.js';
import { ZkpoaError } from '../attribution/errors.js';
import { hashFeatures } from './features.js';
import type { GradientFeaturizer, ProjectionSpec } from './gradients.js';
import type { InfluenceSpan } from './influence.js';

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
  /** how G and t are made (absent in indexes from before there was a choice: tracin-cp) */
  estimator?: 'tracin-cp' | 'influence-span';
  /** influence-span: the saved basis (InfluenceSpan.serialize) queries are projected on */
  basis?: { path: string; sha256: string };
  /** influence-span: the curvature its span was solved with (inference/influence.ts) */
  curvature?: 'hessian' | 'fisher';
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

/** Contributors in order of first appearance, with their record counts (addresses validated, lower-cased). */
function contributorOrder(records: readonly IndexRecord[]): { order: string[]; owner: number[]; counts: number[] } {
  const at = new Map<string, number>();
  const order: string[] = [];
  const counts: number[] = [];
  const owner = records.map((r) => {
    addressToField(r.contributor); // validates the address
    const key = r.contributor.toLowerCase();
    let i = at.get(key);
    if (i === undefined) {
      i = order.length;
      at.set(key, i);
      order.push(key);
      counts.push(0);
    }
    counts[i]!++;
    return i;
  });
  return { order, owner, counts };
}

function checkCapacity(contributors: number, capacity: number): void {
  if (contributors > capacity) throw new ZkpoaError('ZKPOA_ERR_CAPACITY', `${contributors} contributors do not fit a circuit of ${capacity}`);
}

/** Quantizes the contributors' vectors and commits to them; `sampleQueries` (preconditioned) set t's scale, with 4× headroom. */
async function finishIndex(estimator: AttributionIndex['estimator'], order: string[], counts: number[], vectors: readonly Float64Array[], sampleQueries: Iterable<Float64Array>, projection: ProjectionSpec, damping: number, preconditioner: Float64Array, opts: BuildIndexOptions): Promise<AttributionIndex> {
  const k = vectors[0]!.length;
  const gScale = Number(FEATURE_MAX) / Math.max(...vectors.map((g) => Math.max(...g.map(Math.abs))), 1e-300);
  let maxQuery = 1e-300;
  for (const f of sampleQueries) for (const v of f) maxQuery = Math.max(maxQuery, Math.abs(v));
  const tScale = Number(FEATURE_MAX) / (4 * maxQuery);
  const contributors = order.map((c, i) => ({ address: c, records: counts[i]!, g: quantize(vectors[i]!, { scale: gScale, bits: 16 }) }));
  const leaves: Leaf[] = contributors.map((c) => ({ payee: addressToField(c.address), g: c.g }));
  const root = (await Commitments.create()).indexRoot(leaves, opts.capacity, k);
  return { estimator, adapterId: opts.adapterId, datanet: opts.datanet, projection, gScale, tScale, damping, preconditioner: Array.from(preconditioner), contributors, capacity: opts.capacity, root };
}

/** Builds a TracIn-CP index from per-record projected features (in the records' order). */
export async function buildIndex(records: readonly IndexRecord[], features: readonly Float64Array[], projection: ProjectionSpec, opts: BuildIndexOptions): Promise<AttributionIndex> {
  if (records.length === 0 || records.length !== features.length) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'one feature vector per record is needed');
  const k = features[0]!.length;
  const { order, owner, counts } = contributorOrder(records);
  checkCapacity(order.length, opts.capacity);
  const sums = order.map(() => new Float64Array(k));
  features.forEach((f, i) => f.forEach((v, j) => (sums[owner[i]!]![j]! += v)));
  // Preconditioner on the query side: (H + λI)⁻¹ with H the mean outer product of record features.
  const h = new Float64Array(k * k);
  for (const f of features) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j]! += (f[i]! * f[j]!) / features.length;
  let trace = 0;
  for (let i = 0; i < k; i++) trace += h[i * k + i]!;
  const damping = opts.damping ?? 0.1;
  const lambda = damping * (trace / k) + 1e-12;
  for (let i = 0; i < k; i++) h[i * k + i]! += lambda;
  const preconditioner = inverseSpd(h, k);
  // queries: the preconditioned feature of a record sets the scale
  return finishIndex('tracin-cp', order, counts, sums, features.map((f) => precondition(preconditioner, k, f)), projection, damping, preconditioner, opts);
}

/**
 * Builds an influence index (see influence.ts) from a span built over the same records,
 * with `owner` numbering the contributors in order of first appearance (`spanOwners`).
 * The query side needs no preconditioner: t = Uᵀ·g already is the query's feature.
 */
export async function buildSpanIndex(records: readonly IndexRecord[], span: Pick<InfluenceSpan, 'coordinates' | 'features' | 'dim' | 'curvature'>, opts: BuildIndexOptions & { basis?: AttributionIndex['basis'] }): Promise<AttributionIndex> {
  if (records.length === 0) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'the datanet has no records');
  const { order, counts } = contributorOrder(records);
  checkCapacity(order.length, opts.capacity);
  if (span.coordinates.length !== order.length) throw new ZkpoaError('ZKPOA_ERR_SHAPE', 'the span was built for other contributors');
  const k = span.dim;
  const identity = new Float64Array(k * k);
  for (let i = 0; i < k; i++) identity[i * k + i] = 1;
  const sample = records.filter((_, i) => i % Math.max(1, Math.floor(records.length / 512)) === 0).map((r) => span.features(hashFeatures(r.text), r.label).features);
  const index = await finishIndex('influence-span', order, counts, span.coordinates, sample, { k1: 0, k2: 0, seed: 0 }, 0, identity, opts);
  const solved = span.curvature ? { ...index, curvature: span.curvature } : index;
  return opts.basis ? { ...solved, basis: opts.basis } : solved;
}

/** The contributor number of each record, in the order buildSpanIndex commits them. */
export function spanOwners(records: readonly IndexRecord[]): { owner: number[]; contributors: number } {
  const { order, owner } = contributorOrder(records);
  return { owner, contributors: order.length };
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
export function queryFeatures(index: AttributionIndex, featurizer: Pick<GradientFeaturizer | InfluenceSpan, 'features'>, x: ArrayLike<number>): { t: bigint[]; predicted: number } {
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
