import type { PublishedLeaves } from '../../contracts/client/published-leaves.js';
import type { Db } from './db.js';

/**
 * Index leaves as published under their content hash (the `leavesHash` the registry records
 * for a version). Kept for good: a version's ledger stays claimable after its adapter is
 * re-indexed, and auditors recompute its root from these.
 */
export class PublishedLeavesStore {
  constructor(private readonly db: Db) {}

  /** (The root they give depends on the circuit's C, which the adapter's on-chain variant fixes: it is not stored with them.) */
  put(published: PublishedLeaves): void {
    this.db
      .prepare('INSERT OR IGNORE INTO published_leaves (leaves_hash, payees, feature_chunks, created_at) VALUES (?, ?, ?, ?)')
      .run(published.leavesHash.toLowerCase(), JSON.stringify(published.payees), JSON.stringify(published.featureChunks.map(String)), new Date().toISOString());
  }

  get(leavesHash: string): PublishedLeaves | undefined {
    const r = this.db.prepare('SELECT * FROM published_leaves WHERE leaves_hash = ?').get(leavesHash.toLowerCase()) as { leaves_hash: string; payees: string; feature_chunks: string } | undefined;
    if (!r) return undefined;
    return { leavesHash: r.leaves_hash, payees: JSON.parse(r.payees) as string[], featureChunks: (JSON.parse(r.feature_chunks) as string[]).map(BigInt) };
  }
}
