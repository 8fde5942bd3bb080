import { createHash } from 'node:crypto';
import {
  AMOUNT_BITS,
  AMOUNTS_PER_WORD,
  FEATURE_BITS,
  FEATURES_PER_CHUNK,
  amountWordCount,
  chunkCount,
} from './constants.js';
import { ZkpoaError } from './errors.js';
import { assertFeatures } from './fixed-point.js';
import { hasher, type Hasher } from './poseidon.js';
import { assertAmount } from './split.js';

/** One leaf of an attribution index: who is paid, and their summed features G_c. */
export interface Leaf {
  /** payout address as an integer (uint160); 0 for padding */
  payee: bigint;
  /** G_c, quantized */
  g: readonly bigint[];
}

/** What binds a proof to one adapter's registered index on one settlement contract. */
export interface BindingContext {
  root: bigint;
  adapterId: bigint;
  chainId: bigint;
  /** settlement contract address as an integer */
  settlement: bigint;
}

/** Fields of a numbered receipt (an answer of a batch) that its commitment covers. */
export interface NumberedReceiptFields {
  binding: bigint;
  /** the answer's number in its adapter's sequence (0, 1, 2, … across index versions) */
  number: bigint;
  fee: bigint;
  pool: bigint;
  inputHash: bigint;
  outputHash: bigint;
  /** the answer's test features, quantized */
  t: readonly bigint[];
}

/** Fields of a receipt that its commitment covers. */
export interface ReceiptFields {
  binding: bigint;
  nonce: bigint;
  inputHash: bigint;
  outputHash: bigint;
  fee: bigint;
  pool: bigint;
  /** the answer's test features, quantized */
  t: readonly bigint[];
}

const OFFSET = 1n << BigInt(FEATURE_BITS - 1);
const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

/** Signed features offset to unsigned and packed 15 per field element, little end first. */
export function packFeatures(values: readonly bigint[]): bigint[] {
  assertFeatures(values, 'features');
  const chunks: bigint[] = [];
  for (let j = 0; j * FEATURES_PER_CHUNK < values.length; j++) {
    let acc = 0n;
    for (let i = 0; i < FEATURES_PER_CHUNK && j * FEATURES_PER_CHUNK + i < values.length; i++) {
      acc += (values[j * FEATURES_PER_CHUNK + i]! + OFFSET) << BigInt(FEATURE_BITS * i);
    }
    chunks.push(acc);
  }
  return chunks;
}

/** The inverse of packFeatures for K features; throws on a chunk wider than its lanes. */
export function unpackFeatures(chunks: readonly bigint[], K: number): bigint[] {
  const expected = chunkCount(K);
  if (chunks.length !== expected) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `expected ${expected} feature chunks for K = ${K}, got ${chunks.length}`);
  const mask = (1n << BigInt(FEATURE_BITS)) - 1n;
  const values: bigint[] = [];
  chunks.forEach((chunk, j) => {
    const lanes = Math.min(FEATURES_PER_CHUNK, K - j * FEATURES_PER_CHUNK);
    if (chunk < 0n || chunk >> BigInt(FEATURE_BITS * lanes) !== 0n) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `feature chunk ${j} does not fit ${lanes} lanes of ${FEATURE_BITS} bits`);
    for (let i = 0; i < lanes; i++) values.push(((chunk >> BigInt(FEATURE_BITS * i)) & mask) - OFFSET);
  });
  return values;
}

/** [pool, payouts...] packed 3 × 80 bits per public word, as the circuit outputs them. */
export function packAmounts(pool: bigint, payouts: readonly bigint[]): bigint[] {
  const values = [pool, ...payouts];
  values.forEach((v, i) => assertAmount(v, i === 0 ? 'pool' : `payout[${i - 1}]`));
  const words = new Array<bigint>(amountWordCount(payouts.length)).fill(0n);
  values.forEach((v, i) => {
    const w = Math.floor(i / AMOUNTS_PER_WORD);
    words[w] = words[w]! + (v << BigInt(AMOUNT_BITS * (i % AMOUNTS_PER_WORD)));
  });
  return words;
}

export function unpackAmounts(words: readonly bigint[], contributors: number): { pool: bigint; payouts: bigint[] } {
  if (words.length !== amountWordCount(contributors)) {
    throw new ZkpoaError('ZKPOA_ERR_SHAPE', `expected ${amountWordCount(contributors)} amount words for ${contributors} contributors, got ${words.length}`);
  }
  const mask = (1n << BigInt(AMOUNT_BITS)) - 1n;
  const values: bigint[] = [];
  for (let i = 0; i <= contributors; i++) {
    values.push((words[Math.floor(i / AMOUNTS_PER_WORD)]! >> BigInt(AMOUNT_BITS * (i % AMOUNTS_PER_WORD))) & mask);
  }
  return { pool: values[0]!, payouts: values.slice(1) };
}

/** An EVM address as the integer the circuit hashes. */
export function addressToField(address: string): bigint {
  if (!ADDRESS_RE.test(address)) {
    throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `not a 20-byte hex address: ${JSON.stringify(address)}`);
  }
  return BigInt(address);
}

export function fieldToAddress(x: bigint): string {
  if (x < 0n || x >= 1n << 160n) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `not a uint160: ${x}`);
  return '0x' + x.toString(16).padStart(40, '0');
}

/** SHA-256 of bytes (or UTF-8 text), truncated to 248 bits so it is a field element. */
export function hashToField(data: Uint8Array | string): bigint {
  const digest = createHash('sha256').update(data).digest('hex');
  return BigInt('0x' + digest.slice(0, 62));
}

function assertPowerOfTwo(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `${what} must be a power of two, got ${n}`);
}

/** Pads an index to the circuit's capacity with empty leaves (payee 0, G = 0). */
export function padLeaves(leaves: readonly Leaf[], capacity: number, features: number): Leaf[] {
  if (leaves.length > capacity) {
    throw new ZkpoaError('ZKPOA_ERR_CAPACITY', `index has ${leaves.length} contributors, the circuit holds ${capacity}`);
  }
  leaves.forEach((l, c) => {
    if (l.g.length !== features) {
      throw new ZkpoaError('ZKPOA_ERR_SHAPE', `leaf ${c} has ${l.g.length} features, expected ${features}`);
    }
  });
  const empty: Leaf = { payee: 0n, g: new Array<bigint>(features).fill(0n) };
  return [...leaves, ...new Array<Leaf>(capacity - leaves.length).fill(empty)];
}

/**
 * Poseidon commitments of the attribution index and receipts, identical to the
 * circuit's. Build once with `Commitments.create()`; every method is synchronous.
 */
export class Commitments {
  private constructor(readonly hash: Hasher) {}

  static async create(): Promise<Commitments> {
    return new Commitments(await hasher());
  }

  /** leaf = Poseidon(payee, packed G_c...) */
  leaf(leaf: Leaf): bigint {
    return this.hash([leaf.payee, ...packFeatures(leaf.g)]);
  }

  /** Root of the binary Poseidon tree over the leaves padded to `capacity` (a power of two). */
  indexRoot(leaves: readonly Leaf[], capacity: number, features: number): bigint {
    assertPowerOfTwo(capacity, 'capacity');
    return this.merkleRoot(padLeaves(leaves, capacity, features).map((l) => this.leaf(l)));
  }

  /** Root of the binary Poseidon(2) tree over a power-of-two number of leaf hashes, as circuits/common.circom's MerkleRoot. */
  merkleRoot(leaves: readonly bigint[]): bigint {
    return this.merkleTree(leaves).root;
  }

  /** The siblings from a leaf up to the root (leaf order: bit d of `index` says whether the node is a right child). */
  merkleProof(leaves: readonly bigint[], index: number): bigint[] {
    return this.merkleTree(leaves).proof(index);
  }

  /** The whole tree, hashed once: its root and any leaf's path (what a server answering many paths keeps). */
  merkleTree(leaves: readonly bigint[]): { root: bigint; proof(index: number): bigint[] } {
    assertPowerOfTwo(leaves.length, 'leaf count');
    const levels = [[...leaves]];
    while (levels.at(-1)!.length > 1) {
      const level = levels.at(-1)!;
      const next: bigint[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(this.hash([level[i]!, level[i + 1]!]));
      levels.push(next);
    }
    return {
      root: levels.at(-1)![0]!,
      proof: (index: number) => {
        if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new ZkpoaError('ZKPOA_ERR_INVALID_ARGUMENT', `leaf ${index} is outside [0, ${leaves.length})`);
        return levels.slice(0, -1).map((level, d) => level[(index >> d) ^ 1]!);
      },
    };
  }

  /** A payout ledger leaf: Poseidon(payee, cumulative amount). */
  ledgerLeaf(payee: bigint, cumulative: bigint): bigint {
    return this.hash([payee, cumulative]);
  }

  /** The payout ledger's root over the index's (padded) payees and their cumulative amounts. */
  ledgerRoot(payees: readonly bigint[], cumulative: readonly bigint[]): bigint {
    if (payees.length !== cumulative.length) throw new ZkpoaError('ZKPOA_ERR_SHAPE', `${payees.length} payees but ${cumulative.length} amounts`);
    return this.merkleRoot(payees.map((p, c) => this.ledgerLeaf(p, cumulative[c]!)));
  }

  /** A numbered receipt = Poseidon(binding, number, fee, pool, inputHash, outputHash, packed t...) */
  numberedReceipt(r: NumberedReceiptFields): bigint {
    assertAmount(r.fee, 'fee');
    assertAmount(r.pool, 'pool');
    return this.hash([r.binding, r.number, r.fee, r.pool, r.inputHash, r.outputHash, ...packFeatures(r.t)]);
  }

  /** binding = Poseidon(root, adapterId, chainId, settlement), the value the registry stores. */
  binding(ctx: BindingContext): bigint {
    return this.hash([ctx.root, ctx.adapterId, ctx.chainId, ctx.settlement]);
  }

  /** receipt = Poseidon(binding, nonce, inputHash, outputHash, fee, pool, packed t...) */
  receipt(r: ReceiptFields): bigint {
    assertAmount(r.fee, 'fee');
    assertAmount(r.pool, 'pool');
    return this.hash([r.binding, r.nonce, r.inputHash, r.outputHash, r.fee, r.pool, ...packFeatures(r.t)]);
  }
}
