import {
  Commitments,
  ZkpoaError,
  assertAmount,
  assertLedgerAmount,
  batchSplit,
  packHeader,
  padLeaves,
  toField,
  type BatchSplit,
  type Leaf,
} from '../attribution/index.js';
import type { CircuitVariant } from '../circuits/variants.js';

/** One answer of a batch, as its receipt commits to it. */
export interface BatchAnswer {
  /** the answer's quantized test features, length K */
  t: readonly bigint[];
  inputHash: bigint;
  outputHash: bigint;
}

/** Everything one batch proof is about: consecutive answers of one adapter version. */
export interface BatchClaim {
  /** the version's index leaves (≤ C, padded here) */
  leaves: readonly Leaf[];
  adapterId: bigint;
  chainId: bigint;
  settlement: bigint;
  /** fee and pool of every answer: the version's price and pool */
  fee: bigint;
  pool: bigint;
  /** the receipt number of answers[0]; answer i is number first + i */
  first: bigint;
  answers: readonly BatchAnswer[];
  /** the payout ledger before the batch, per (padded) leaf; absent for a version's first batch */
  oldCumulative?: readonly bigint[];
}

/** The circuit's input and every value the batch proves, in the order snarkjs gives its public signals. */
export interface BatchWitness {
  input: Record<string, string | string[] | string[][]>;
  split: BatchSplit;
  binding: bigint;
  header: bigint;
  paid: bigint;
  /** receipt commitment of each answer of the batch */
  receipts: bigint[];
  receiptsRoot: bigint;
  oldRoot: bigint;
  newRoot: bigint;
  /** the ledger after the batch, per padded leaf */
  newCumulative: bigint[];
  /** binding, header, paid, receiptsRoot, oldRoot, newRoot */
  publicSignals: bigint[];
}

const dec = (x: bigint) => toField(x).toString();

export function buildBatchWitness(commitments: Commitments, variant: CircuitVariant, claim: BatchClaim): BatchWitness {
  const { contributors: C, features: K } = variant.params;
  const M = variant.params.answers;
  if (M === undefined) throw new ZkpoaError('ZKPOA_ERR_UNKNOWN_VARIANT', `${variant.name} is not a batch circuit`);
  const m = claim.answers.length;
  if (m < 1 || m > M) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `a batch of ${variant.name} holds 1 to ${M} answers, not ${m}`);
  claim.answers.forEach((a, i) => {
    if (a.t.length !== K) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `answer ${i} has ${a.t.length} features, ${variant.name} takes ${K}`);
  });
  assertAmount(claim.fee, 'fee');
  const leaves = padLeaves(claim.leaves, C, K);
  const payees = leaves.map((l) => l.payee);
  const oldCumulative = claim.oldCumulative ? [...claim.oldCumulative] : new Array<bigint>(C).fill(0n);
  if (oldCumulative.length !== C) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `the ledger has ${oldCumulative.length} amounts, ${variant.name} holds ${C}`);
  oldCumulative.forEach((x, c) => assertLedgerAmount(x, `oldCumulative[${c}]`));

  const split = batchSplit(
    claim.answers.map((a) => a.t),
    leaves.map((l) => l.g),
    claim.pool,
    M,
  );
  const newCumulative = oldCumulative.map((x, c) => x + split.payouts[c]!);
  newCumulative.forEach((x, c) => assertLedgerAmount(x, `newCumulative[${c}]`));

  const root = commitments.indexRoot(leaves, C, K);
  const binding = commitments.binding({ root, adapterId: claim.adapterId, chainId: claim.chainId, settlement: claim.settlement });
  const receipts = claim.answers.map((a, i) => commitments.numberedReceipt({ binding, number: claim.first + BigInt(i), fee: claim.fee, pool: claim.pool, ...a }));
  const receiptsRoot = commitments.merkleRoot([...receipts, ...new Array<bigint>(M - m).fill(0n)]);
  const oldRoot = claim.oldCumulative ? commitments.ledgerRoot(payees, oldCumulative) : 0n;
  const newRoot = commitments.ledgerRoot(payees, newCumulative);
  const header = packHeader({ fee: claim.fee, pool: claim.pool, first: claim.first, count: m });

  const zeros = new Array<string>(K).fill('0');
  const pad = <T>(xs: T[], filler: T) => [...xs, ...new Array<T>(M - m).fill(filler)];
  return {
    input: {
      g: leaves.map((l) => l.g.map(dec)),
      payee: payees.map(dec),
      adapterId: dec(claim.adapterId),
      chainId: dec(claim.chainId),
      settlement: dec(claim.settlement),
      fee: dec(claim.fee),
      pool: dec(claim.pool),
      first: dec(claim.first),
      active: pad(claim.answers.map(() => '1'), '0'),
      t: pad(claim.answers.map((a) => a.t.map(dec)), zeros),
      inputHash: pad(claim.answers.map((a) => dec(a.inputHash)), '0'),
      outputHash: pad(claim.answers.map((a) => dec(a.outputHash)), '0'),
      fresh: claim.oldCumulative ? '0' : '1',
      oldCumulative: oldCumulative.map(dec),
    },
    split,
    binding,
    header,
    paid: split.paid,
    receipts,
    receiptsRoot,
    oldRoot,
    newRoot,
    newCumulative,
    publicSignals: [binding, header, split.paid, receiptsRoot, oldRoot, newRoot],
  };
}
