import { Commitments, batchSplit, padLeaves, rateBits, unpackHeader } from '../attribution/index.js';
import { variantByName } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { loadAdapterIndex } from './attribution-service.js';
import { dot } from '../attribution/split.js';
import { BatchStore, SIGNAL, type Batch } from './store/batches.js';
import type { Db } from './store/db.js';
import { RegistrationStore, type Registration } from './store/registrations.js';
import type { ChainContext } from './chain.js';

/** Where an address is paid, with what the chain's ledger root commits to and the path that proves it. */
export interface LedgerPosition {
  /** the adapter's on-chain id */
  adapterId: bigint;
  version: number;
  leaf: number;
  payee: string;
  /** cumulative amount credited at the last settled batch */
  cumulative: bigint;
  /** Merkle siblings from the leaf up to `root` */
  siblings: bigint[];
  /** the ledger root the last settled batch stored on-chain */
  root: bigint;
}

/** How a ledger position grew: each settled batch, and what each of its answers paid the leaf. */
export interface EarningHistory extends Omit<LedgerPosition, 'siblings' | 'root'> {
  batches: { first: number; count: number; payout: bigint; cumulative: bigint; tx: string; settledAt?: string }[];
  /** per answer: its receipt number and the leaf's share of its pool, floor(s_ic · r_i / 2^Q) (the batch pays the floor of their exact sum) */
  answers: { number: number; share: bigint }[];
}

/** An adapter's index as its circuit pads it, with what the batch rule needs. */
interface PaddedIndex {
  key: string;
  reg: Registration;
  /** contributors of the index (the leaves before padding) */
  contributors: string[];
  payees: bigint[];
  g: (readonly bigint[])[];
  /** answers per batch and Q, the rate's binary point */
  M: number;
  q: bigint;
}

/** what is kept in memory, oldest dropped first: indexes, ledger trees, batches' rates */
const KEPT = { indexes: 64, trees: 256, rates: 65_536 } as const;
function remember<V>(cache: Map<string, V>, key: string, max: number, make: () => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    cache.set(key, v);
    if (cache.size > max) cache.delete(cache.keys().next().value!);
  }
  return v;
}

/**
 * The payout ledgers as the chain's roots commit to them: for every adapter version
 * registered on this server's deployment, the cumulative amounts after its last settled
 * batch. A contributor's claim carries its amount and path, and the contract checks them
 * against the stored root, so this service can withhold a ledger but never misstate one.
 */
export class Ledgers {
  private readonly batches: BatchStore;
  private readonly registrations: RegistrationStore;
  private commitments: Promise<Commitments> | undefined;
  private readonly padded = new Map<string, PaddedIndex>();
  private readonly trees = new Map<string, ReturnType<Commitments['merkleTree']>>();
  private readonly rates = new Map<string, bigint[]>();

  constructor(
    private readonly db: Db,
    /** the deployment whose registrations count, and whose contract says what each leaf claimed */
    private readonly chain?: ChainContext,
  ) {
    this.batches = new BatchStore(db);
    this.registrations = new RegistrationStore(db);
  }

  /** What a leaf has claimed on-chain; undefined without a chain, or when the chain cannot be read now. */
  async claimed(adapterId: bigint, version: number, leaf: number): Promise<bigint | undefined> {
    return this.chain?.client.claimed(adapterId, version, leaf).catch(() => undefined);
  }

  /**
   * Where `address` is paid, batch by batch and answer by answer (at most `maxAnswers` of the
   * latest answers per position): what a contributor's page charts. The shares are recomputed
   * with the batch rule from each batch's stored features and the index.
   */
  history(address: string, maxAnswers = 1000): EarningHistory[] {
    const payee = BigInt(address);
    const out: EarningHistory[] = [];
    for (const index of this.indexes()) {
      const mine = index.payees.flatMap((p, leaf) => (p === payee ? [leaf] : []));
      if (mine.length === 0) continue;
      for (const v of index.reg.versions) {
        const recent = this.batches.latestSettled(index.key, v.version, Math.ceil(maxAnswers / index.M));
        if (recent.length === 0) continue;
        for (const leaf of mine) {
          const answers = recent.flatMap((b) => b.features.map((t, i) => ({ number: b.first + i, share: this.share(index, b, i, dot(t, index.g[leaf]!)) })));
          const batches = this.batches.leafHistory(index.key, v.version, leaf);
          out.push({ adapterId: index.reg.onchainId, version: v.version, leaf, payee: address, cumulative: batches.at(-1)!.cumulative, batches, answers: answers.slice(-maxAnswers) });
        }
      }
    }
    return out;
  }

  /** One answer's split: each contributor's payee, score and share of the pool (the receipt page); undefined before the answer is batched. */
  answerSplit(adapterKey: string, number: number): { payee: string; score: bigint; share: bigint }[] | undefined {
    const b = this.batches.containing(adapterKey, number);
    const index = this.index(adapterKey);
    if (!b || !index) return undefined;
    const t = b.features[number - b.first]!;
    return index.contributors.map((payee, leaf) => {
      const score = dot(t, index.g[leaf]!);
      return { payee, score: score > 0n ? score : 0n, share: this.share(index, b, number - b.first, score) };
    });
  }

  /** share_ic = floor(max(0, score_ic) · r_i / 2^Q), score_ic = <t_i, G_c>; r_i needs every contributor's score, so it is computed once per batch. */
  private share(index: PaddedIndex, b: Batch, i: number, score: bigint): bigint {
    const rates = remember(this.rates, b.id, KEPT.rates, () => batchSplit(b.features, index.g, unpackHeader(b.publicSignals[SIGNAL.header]!).pool, index.M).rates);
    return score > 0n ? (score * rates[i]!) >> index.q : 0n;
  }

  private index(key: string): PaddedIndex | undefined {
    const reg = this.registrations.get(key);
    if (!reg) return undefined;
    const cached = this.padded.get(key);
    if (cached) return { ...cached, reg };
    const stored = loadAdapterIndex(this.db, key);
    if (!stored) return undefined;
    const { contributors: C, features: K, answers } = variantByName(stored.variant).params;
    const M = answers ?? 1;
    const leaves = padLeaves(indexLeaves(stored.index), C, K);
    const index = { key, reg, contributors: stored.index.contributors.map((c) => c.address), payees: leaves.map((l) => l.payee), g: leaves.map((l) => l.g), M, q: BigInt(rateBits(K, M)) };
    return remember(this.padded, key, KEPT.indexes, () => index);
  }

  /** The indexes of the adapters registered on this deployment (all registrations without a chain). */
  private *indexes(): Generator<PaddedIndex> {
    const keys = this.chain ? this.registrations.onDeployment(this.chain) : (this.db.prepare('SELECT adapter_id FROM onchain_adapters ORDER BY onchain_id').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
    for (const key of keys) {
      const index = this.index(key);
      if (index) yield index;
    }
  }

  async positions(address: string): Promise<LedgerPosition[]> {
    this.commitments ??= Commitments.create();
    const commitments = await this.commitments;
    const payee = BigInt(address);
    const out: LedgerPosition[] = [];
    for (const { key, reg, payees } of this.indexes()) {
      const mine = payees.flatMap((p, leaf) => (p === payee ? [leaf] : []));
      if (mine.length === 0) continue;
      for (const v of reg.versions) {
        const last = this.batches.lastSettled(key, v.version);
        if (!last) continue;
        // hashed once per settled batch, however many contributors ask for their paths
        const tree = remember(this.trees, `${key}:${v.version}:${last.id}`, KEPT.trees, () => commitments.merkleTree(payees.map((p, c) => commitments.ledgerLeaf(p, last.ledger[c]!))));
        for (const leaf of mine) {
          out.push({ adapterId: reg.onchainId, version: v.version, leaf, payee: address, cumulative: last.ledger[leaf]!, siblings: tree.proof(leaf), root: tree.root });
        }
      }
    }
    return out;
  }
}
