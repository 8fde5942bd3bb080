import { AMOUNT_BITS, LEDGER_BITS, RECEIPT_NUMBER_BITS, ceilLog2, scoreBits } from './constants.js';
import { ZkpoaError } from './errors.js';
import { assertFeatures } from './fixed-point.js';
import { assertAmount, dot } from './split.js';

/**
 * The batch split rule in exact integers, the reference circuits/attribution_batch.circom
 * is tested against. For answer i of a batch with pool P_i (P, or 0 for padding):
 *   s_ic = max(0, <t_i, G_c>),  S_i = Σ_c s_ic,  r_i = floor(P_i · 2^Q / S_i)  (0 when S_i = 0),
 * and per contributor over the batch
 *   payout_c = floor(Σ_i s_ic · r_i / 2^Q),   Q = scoreBits(K) + log2(M).
 * Σ_c payout_c never exceeds Σ_i P_i, and each payout_c is within M wei (one per answer) of
 * Σ_i floor(P_i · s_ic / S_i), the per-answer rule.
 */
export interface BatchSplit {
  /** s_ic per answer, per contributor */
  scores: bigint[][];
  /** r_i per answer */
  rates: bigint[];
  /** payout_c over the batch */
  payouts: bigint[];
  /** Σ_c payout_c */
  paid: bigint;
}

/** Q: the rate's binary point for K features and batches of M answers. */
export function rateBits(features: number, answers: number): number {
  return scoreBits(features) + ceilLog2(answers);
}

/**
 * The batch rule over the answers' features `t` (one per answer of the batch, at most
 * `answers` = M of them; the circuit pads with inert answers) and the index's G.
 */
export function batchSplit(t: readonly (readonly bigint[])[], index: readonly (readonly bigint[])[], pool: bigint, answers: number): BatchSplit {
  assertAmount(pool, 'pool');
  if (t.length > answers) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `a batch of ${t.length} answers is larger than ${answers}`);
  index.forEach((g, c) => assertFeatures(g, `G[${c}]`));
  const q = BigInt(rateBits(index[0]?.length ?? 0, answers));
  const payoutsScaled = new Array<bigint>(index.length).fill(0n);
  const scores: bigint[][] = [];
  const rates: bigint[] = [];
  t.forEach((ti, i) => {
    assertFeatures(ti, `t[${i}]`);
    const s = index.map((g) => {
      const raw = dot(ti, g);
      return raw > 0n ? raw : 0n;
    });
    const total = s.reduce((a, b) => a + b, 0n);
    const rate = total === 0n ? 0n : (pool << q) / total;
    s.forEach((sc, c) => (payoutsScaled[c] = payoutsScaled[c]! + sc * rate));
    scores.push(s);
    rates.push(rate);
  });
  const payouts = payoutsScaled.map((x) => x >> q);
  return { scores, rates, payouts, paid: payouts.reduce((a, b) => a + b, 0n) };
}

/** What the batch header packs: fee and pool per answer, the first receipt number, the count. */
export interface BatchHeader {
  fee: bigint;
  pool: bigint;
  first: bigint;
  count: number;
}

const AB = BigInt(AMOUNT_BITS);
const NB = BigInt(RECEIPT_NUMBER_BITS);

/** header = fee + pool·2^80 + first·2^160 + count·2^224, as the circuit outputs it and the contract reads it. */
export function packHeader(h: BatchHeader): bigint {
  assertAmount(h.fee, 'fee');
  assertAmount(h.pool, 'pool');
  if (h.pool > h.fee) throw new ZkpoaError('ZKPOA_ERR_AMOUNT_RANGE', `pool ${h.pool} exceeds fee ${h.fee}`);
  if (h.first < 0n || h.first >> NB !== 0n) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `receipt number ${h.first} is outside [0, 2^${NB})`);
  if (!Number.isInteger(h.count) || h.count < 0 || h.count >= 1 << 16) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `count ${h.count} is outside [0, 2^16)`);
  return h.fee + (h.pool << AB) + (h.first << (2n * AB)) + (BigInt(h.count) << (2n * AB + NB));
}

export function unpackHeader(header: bigint): BatchHeader {
  const mask = (bits: bigint) => (1n << bits) - 1n;
  return {
    fee: header & mask(AB),
    pool: (header >> AB) & mask(AB),
    first: (header >> (2n * AB)) & mask(NB),
    count: Number(header >> (2n * AB + NB)),
  };
}

/** A ledger amount must stay below 2^96 (the circuit's range check on every new cumulative). */
export function assertLedgerAmount(x: bigint, what: string): void {
  if (x < 0n || x >> BigInt(LEDGER_BITS) !== 0n) throw new ZkpoaError('ZKPOA_ERR_AMOUNT_RANGE', `${what} = ${x} is outside [0, 2^${LEDGER_BITS})`);
}
