import { Commitments, padLeaves } from '../attribution/index.js';
import { variantByName } from '../circuits/variants.js';
import { indexLeaves } from '../inference/attribution-index.js';
import { loadAdapterIndex } from './attribution-service.js';
import { BatchStore } from './store/batches.js';
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

  constructor(private readonly db: Db) {
    this.batches = new BatchStore(db);
    this.registrations = new RegistrationStore(db);
  }

  async positions(address: string): Promise<LedgerPosition[]> {
    this.commitments ??= Commitments.create();
    const commitments = await this.commitments;
    const payee = BigInt(address);
    const out: LedgerPosition[] = [];
    const keys = (this.db.prepare('SELECT adapter_id FROM onchain_adapters ORDER BY onchain_id').all() as { adapter_id: string }[]).map((r) => r.adapter_id);
    for (const key of keys) {
      const reg = this.registrations.get(key)!;
      const stored = loadAdapterIndex(this.db, key);
      if (!stored) continue;
      const { contributors: C, features: K } = variantByName(stored.variant).params;
      const payees = padLeaves(indexLeaves(stored.index), C, K).map((l) => l.payee);
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
