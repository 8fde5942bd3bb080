import type { PublishedLeaves } from '../../contracts/client/published-leaves.js';
import type { Db } from './db.js';

/**
 * Index leaves as published under their content hash (the `leavesHash` the registry records
 * for a version). Kept for good: a version's ledger stays claimable after its adapter is
 * re-indexed, and auditors recompute its root from these.
 */
export class PublishedLeavesStore {
  constructor(private readonly db: Db) {}

  put(published: PublishedLeaves, indexRoot: bigint): void {
    this.db
      .prepare('INSERT OR IGNORE INTO published_leaves (leaves_hash, index_root, payees, feature_chunks, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(published.leavesHash.toLowerCase(), '0x' + indexRoot.toString(16), JSON.stringify(published.payees), JSON.stringify(published.featureChunks.map(String)), new Date().toISOString());
  }

  get(leavesHash: string): (PublishedLeaves & { indexRoot: bigint }) | undefined {
    const r = this.db.prepare('SELECT * FROM published_leaves WHERE leaves_hash = ?').get(leavesHash.toLowerCase()) as { leaves_hash: string; index_root: string; payees: string; feature_chunks: string } | undefined;
    if (!r) return undefined;
    return { leavesHash: r.leaves_hash, indexRoot: BigInt(r.index_root), payees: JSON.parse(r.payees) as string[], featureChunks: (JSON.parse(r.feature_chunks) as string[]).map(BigInt) };
  }
}
