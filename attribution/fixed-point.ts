import { FEATURE_BITS, FEATURE_MAX, FEATURE_MIN } from './constants.js';
import { ZkpoaError } from './errors.js';

/**
 * Fixed-point quantization of feature vectors: q = round(x · scale), which must fit
 * the declared signed bit width. Out-of-range values are an error, never clamped:
 * silently clamping would change who gets paid.
 */
export interface Quantization {
  /** multiplier applied before rounding */
  scale: number;
  /** signed bit width of the result */
  bits: number;
}

function bounds(bits: number): [bigint, bigint] {
  if (bits === FEATURE_BITS) return [FEATURE_MIN, FEATURE_MAX];
  const half = 1n << BigInt(bits - 1);
  return [-half, half - 1n];
}

/** Round half away from zero, so that q(-x) = -q(x) on every backend. */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

export function quantize(values: ArrayLike<number>, q: Quantization = { scale: 1, bits: FEATURE_BITS }): bigint[] {
  if (!(Number.isFinite(q.scale) && q.scale > 0)) {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `quantization scale must be a positive finite number, got ${q.scale}`);
  }
  if (!Number.isInteger(q.bits) || q.bits < 2 || q.bits > 53) {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `quantization bits must be an integer in [2, 53], got ${q.bits}`);
  }
  const [lo, hi] = bounds(q.bits);
  const out = new Array<bigint>(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) {
      throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `feature ${i} is not a finite number (${x})`);
    }
    const scaled = x * q.scale;
    if (!Number.isFinite(scaled)) throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `feature ${i} = ${x} overflows at scale ${q.scale}`);
    const v = BigInt(roundHalfAway(scaled));
    if (v < lo || v > hi) {
      throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `feature ${i} = ${x} quantizes to ${v}, outside [${lo}, ${hi}] at scale ${q.scale}`);
    }
    out[i] = v;
  }
  return out;
}

export function dequantize(values: readonly bigint[], q: Quantization): number[] {
  return values.map((v) => Number(v) / q.scale);
}

/** The largest scale at which every value of every vector fits `bits` signed bits. */
export function fitScale(vectors: ArrayLike<number>[], bits: number = FEATURE_BITS): number {
  let maxAbs = 0;
  for (const v of vectors) {
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]!);
      if (!Number.isFinite(a)) throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `value ${i} is not finite`);
      if (a > maxAbs) maxAbs = a;
    }
  }
  const limit = 2 ** (bits - 1) - 1;
  const scale = maxAbs === 0 ? 1 : limit / maxAbs;
  if (!Number.isFinite(scale)) throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `the largest value (${maxAbs}) is too small to scale`);
  return scale;
}

/** Check that already-quantized integers fit the feature width. */
export function assertFeatures(values: readonly bigint[], what: string): void {
  values.forEach((v, i) => {
    if (typeof v !== 'bigint' || v < FEATURE_MIN || v > FEATURE_MAX) {
      throw new ZkpoaError('ZKPOA_ERR_FEATURE_RANGE', `${what}[${i}] = ${String(v)} is outside [${FEATURE_MIN}, ${FEATURE_MAX}]`);
    }
  });
}
