import {
  Commitments,
  ZkpoaError,
  amountWordCount,
  assertAmount,
  packAmounts,
  padLeaves,
  split,
  toField,
  type Leaf,
  type Split,
} from '../attribution/index.js';
import type { CircuitVariant } from '../circuits/variants.js';

/** Everything one attribution proof is about. */
export interface AttributionClaim {
  /** the answer's quantized test features, length K */
  t: readonly bigint[];
  /** the adapter's index leaves (≤ C, padded here) */
  leaves: readonly Leaf[];
  adapterId: bigint;
  chainId: bigint;
  settlement: bigint;
  fee: bigint;
  pool: bigint;
  nonce: bigint;
  inputHash: bigint;
  outputHash: bigint;
}

/** The circuit's input (decimal strings, field-encoded) and the public signals it must yield. */
export interface Witness {
  input: Record<string, string | string[] | string[][]>;
  split: Split;
  root: bigint;
  binding: bigint;
  receipt: bigint;
  /** receipt, binding, amount words: the order of snarkjs publicSignals */
  publicSignals: bigint[];
}

const dec = (x: bigint) => toField(x).toString();

export function buildWitness(commitments: Commitments, variant: CircuitVariant, claim: AttributionClaim): Witness {
  const { contributors: C, features: K } = variant.params;
  if (claim.t.length !== K) {
    throw new ZkpoaError('ZKPOA_ERR_SHAPE', `t has ${claim.t.length} features, ${variant.name} takes ${K}`);
  }
  assertAmount(claim.fee, 'fee');
  if (claim.pool > claim.fee) {
    throw new ZkpoaError('ZKPOA_ERR_AMOUNT_RANGE', `pool ${claim.pool} exceeds fee ${claim.fee}`);
  }
  const leaves = padLeaves(claim.leaves, C, K);
  const s = split(claim.t, leaves.map((l) => l.g), claim.pool);
  const root = commitments.indexRoot(leaves, C, K);
  const binding = commitments.binding({ root, adapterId: claim.adapterId, chainId: claim.chainId, settlement: claim.settlement });
  const receipt = commitments.receipt({ ...claim, binding });
  const words = packAmounts(claim.pool, s.payouts);
  if (words.length !== amountWordCount(C)) throw new Error('unreachable: amount word count');
  return {
    input: {
      t: claim.t.map(dec),
      g: leaves.map((l) => l.g.map(dec)),
      payee: leaves.map((l) => dec(l.payee)),
      adapterId: dec(claim.adapterId),
      chainId: dec(claim.chainId),
      settlement: dec(claim.settlement),
      fee: dec(claim.fee),
      pool: dec(claim.pool),
      nonce: dec(claim.nonce),
      inputHash: dec(claim.inputHash),
      outputHash: dec(claim.outputHash),
    },
    split: s,
    root,
    binding,
    receipt,
    publicSignals: [receipt, binding, ...words],
  };
}
