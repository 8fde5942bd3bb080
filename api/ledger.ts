import { Commitments, batchSplit, padLeaves, rateBits, unpackHeader } from '../attribution/index.js';
import { variantByName } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { loadAdapterIndex } from './attribution-service.js';
import { BatchStore, SIGNAL } from './store/batches.js';
import type { Db } from './store/db.js';
import { RegistrationStore } from './store/registrations.js';

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

/**
 * The payout ledgers as the chain's roots commit to them: for every registered adapter
 * version, the cumulative amounts after its last settled batch. A contributor's claim
 * carries its amount and path, and the contract checks them against the stored root, so
 * this service can withhold a ledger but never misstate one.
 */
export class Ledgers {
  private readonly batches: BatchStore;
  private readonly registrations: RegistrationStore;
  private commitments: Promise<Commitments> | undefined;

  constructor(
    private readonly db: Db,
    /** reads what a leaf has claimed on-chain (the earnings view shows claimed and unclaimed) */
    readonly claimed?: (adapterId: bigint, version: number, leaf: number) => Promise<bigint>,
  ) {
    this.batches = new BatchStore(db);
    this.registrations = new RegistrationStore(db);
  }

  /**
   * Where `address` is paid, batch by batch and answer by answer (at most `maxAnswers` of the
   * latest answers per position): what a contributor's page charts. The shares are recomputed
   * with the batch rule from each batch's stored features and the index.
   */
  history(address: string, maxAnswers = 2000): EarningHistory[] {
    const payee = BigInt(address);
    const out: EarningHistory[] = [];
    for (const { key, reg, payees, g, M } of this.indexes()) {
      const mine = payees.flatMap((p, leaf) => (p === payee ? [leaf] : []));
      if (mine.length === 0) continue;
      for (const v of reg.versions) {
        const settled = this.batches.settled(key, v.version);
        if (settled.length === 0) continue;
        const splits = settled.slice(-Math.ceil(maxAnswers / M)).map((b) => ({ b, split: batchSplit(b.features, g, unpackHeader(b.publicSignals[SIGNAL.header]!).pool, M) }));
        const q = BigInt(rateBits(g[0]!.length, M));
        for (const leaf of mine) {
          const answers = splits.flatMap(({ b, split }) => split.scores.map((s, i) => ({ number: b.first + i, share: (s[leaf]! * split.rates[i]!) >> q })));
          out.push({
            adapterId: reg.onchainId,
            version: v.version,
            leaf,
            payee: address,
            cumulative: settled.at(-1)!.ledger[leaf]!,
            batches: settled.map((b) => ({ first: b.first, count: b.count, payout: b.payouts[leaf]!, cumulative: b.ledger[leaf]!, tx: b.settleTx!, ...(b.settledAt ? { settledAt: b.settledAt } : {}) })),
            answers: answers.slice(-maxAnswers),
          });
        }
      }
    }
    return out;
  }

  /** One answer's split: each leaf's payee, score and share of the pool (the receipt page's chart); undefined before the answer is batched. */
  answerSplit(adapterKey: string, number: number): { payee: string; score: bigint; share: bigint }[] | undefined {
    const b = this.batches.containing(adapterKey, number);
    const stored = loadAdapterIndex(this.db, adapterKey);
    if (!b || !stored) return undefined;
    const { contributors: C, features: K, answers: M } = variantByName(stored.variant).params;
    const leaves = padLeaves(indexLeaves(stored.index), C, K);
    const split = batchSplit([b.features[number - b.first]!], leaves.map((l) => l.g), unpackHeader(b.publicSignals[SIGNAL.header]!).pool, M ?? 1);
    const q = BigInt(rateBits(K, M ?? 1));
    return stored.index.contributors.map((c, leaf) => ({ payee: c.address, score: split.scores[0]![leaf]!, share: (split.scores[0]![leaf]! * split.rates[0]!) >> q }));
  }

  /** Every registered adapter's index as the circuit pads it. */
  private *indexes() {
    const keys = (this.db.prepare('SELECT adapter_id FROM onchain_adapters ORDER BY onchain_id').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
    for (const key of keys) {
      const stored = loadAdapterIndex(this.db, key);
      if (!stored) continue;
      const { contributors: C, features: K, answers: M } = variantByName(stored.variant).params;
      const leaves = padLeaves(indexLeaves(stored.index), C, K);
      yield { key, reg: this.registrations.get(key)!, payees: leaves.map((l) => l.payee), g: leaves.map((l) => l.g), M: M ?? 1 };
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
        const leaves = payees.map((p, c) => commitments.ledgerLeaf(p, last.ledger[c]!));
        const root = commitments.merkleRoot(leaves);
        for (const leaf of mine) {
          out.push({ adapterId: reg.onchainId, version: v.version, leaf, payee: address, cumulative: last.ledger[leaf]!, siblings: commitments.merkleProof(leaves, leaf), root });
        }
      }
    }
    return out;
  }
}
