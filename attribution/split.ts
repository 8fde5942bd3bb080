import { AMOUNT_MAX } from './constants.js';
import { ZkpoaError } from './errors.js';
import { assertFeatures } from './fixed-point.js';

/**
 * The split rule in exact integers, the reference the circuit is tested against:
 *   s_c = max(0, <t, G_c>),  S = Σ s_c,  p_c = floor(P · s_c / S),  S = 0 pays nobody,
 *   dust = P − Σ p_c goes back as the settlement contract defines.
 */
export interface Split {
  /** <t, G_c> before the max(0, ·) */
  raw: bigint[];
  /** s_c = max(0, raw_c) */
  scores: bigint[];
  /** S = Σ s_c */
  total: bigint;
  /** p_c = floor(P · s_c / S), or 0 when S = 0 */
  payouts: bigint[];
  /** P − Σ p_c */
  dust: bigint;
}

export function dot(a: readonly bigint[], b: readonly bigint[]): bigint {
  if (a.length !== b.length) {
    throw new ZkpoaError('ZKPOA_ERR_SHAPE', `vector lengths differ: ${a.length} vs ${b.length}`);
  }
  let acc = 0n;
  for (let i = 0; i < a.length; i++) acc += a[i]! * b[i]!;
  return acc;
}

export function assertAmount(x: bigint, what: string): void {
  if (typeof x !== 'bigint' || x < 0n || x > AMOUNT_MAX) {
    throw new ZkpoaError('ZKPOA_ERR_AMOUNT_RANGE', `${what} = ${String(x)} is outside [0, 2^80)`);
  }
}

export function split(t: readonly bigint[], index: readonly (readonly bigint[])[], pool: bigint): Split {
  assertFeatures(t, 't');
  assertAmount(pool, 'pool');
  index.forEach((g, c) => assertFeatures(g, `G[${c}]`));
  const raw = index.map((g) => dot(t, g));
  const scores = raw.map((r) => (r > 0n ? r : 0n));
  const total = scores.reduce((a, b) => a + b, 0n);
  const payouts = scores.map((s) => (total === 0n ? 0n : (pool * s) / total));
  const dust = pool - payouts.reduce((a, b) => a + b, 0n);
  return { raw, scores, total, payouts, dust };
}
